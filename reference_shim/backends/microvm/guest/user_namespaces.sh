# The microvm guest agent's part: sourced by init.sh (in the initramfs as /lib/agent/user_namespaces.sh).
# -- user namespaces (user_namespace.py): the container's own, its root disk idmapped to it ------
# USERNS UIDS GIDS (CONTAINER:HOST:LENGTH extents): /bin/userns (guest/userns.c) makes the
# namespace with those maps, keeps it at /run/userns, where the launcher joins it for the
# workload, its execs and sessions, and idmaps the root disk. It comes last of the agent's work
# in the container's root: through the idmapped mount the guest's root could create no file (its
# uid is none of the maps'). /dev and /dev/shm, tmpfs the guest's 6.1 kernel does not idmap, are
# given to the container's root (the guest's id its 0 maps to).
USERNS=""
root_id() {  # root_id EXTENTS: the guest's id for the container's 0 (0 when unmapped)
    case $1 in 0:*) rest=${1#0:}; echo "${rest%%:*}" ;; *) echo 0 ;; esac
}
user_namespace() {
    [ -n "$USERNS" ] || return 0
    # shellcheck disable=SC2086  # two words: UIDS GIDS
    set -- $USERNS
    chown "$(root_id "$1"):$(root_id "$2")" /container/dev /container/dev/shm \
        && /bin/userns /container /run/userns "$1" "$2"
}

load_feature_modules() {  # what a container may use that is a module (guest.py FEATURE_MODULES)
    for module in llc stp bridge; do insmod "/lib/modules/$module.ko" 2>/dev/null; done
}
