# The microvm guest agent's part: sourced by init.sh (in the initramfs as /lib/agent/limits.sh).
# -- resources and kernel settings (limits.py): a cgroup v2 per workload, sysctls, figures -------
CGROUP=${CGROUP:-/sys/fs/cgroup/workload}  # the workload's cgroup; its execs join it too
cgroup_setup() {  # at boot: the unified hierarchy, every controller it has for children (as
    # runc enables them: unified resources may name any, hugetlb limits need hugetlb), the cgroup
    mount -t cgroup2 cgroup2 /sys/fs/cgroup \
        && sed 's/[^ ][^ ]*/+&/g' /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control \
        && mkdir -p "$CGROUP"
}
write_files() {  # write_files DIR FILE: each line NAME=VALUE of FILE written to DIR/NAME
    while IFS= read -r pair; do
        [ -n "$pair" ] || continue
        printf '%s\n' "${pair#*=}" > "$1/${pair%%=*}" || { echo "cannot write ${pair%%=*}" >&2; return 1; }
    done < "$2"
}
sys_mode() {  # how the container mounts /sys and its cgroup: read-write only when privileged
    case ${PRIVS##* } in *p*) echo rw ;; *) echo ro ;; esac
}
cgroup_view() {  # the workload's cgroup as the container's /sys/fs/cgroup
    mount --bind "$CGROUP" /container/sys/fs/cgroup \
        && mount -o "remount,bind,$(sys_mode)" /container/sys/fs/cgroup
}
oom_killed() {  # whether the kernel OOM-killed a process of the workload's cgroup
    [ "$(sed -n 's/^oom_kill //p' "$CGROUP/memory.events")" -gt 0 ] 2>/dev/null
}
figures() {  # the cgroup's figures, KEY VALUE a line (limits.stats reads them)
    cat "$CGROUP/cpu.stat" "$CGROUP/memory.stat"
    for file in memory.current memory.max pids.current; do echo "$file $(cat "$CGROUP/$file")"; done
}
credentials() {  # the workload's uid, gid and groups as its kernel held them once the
    # launcher set them (it writes them to /run/workload.creds, its fd 9, just before its exec)
    for _ in $(seq 100); do
        grep -q "^Groups:" /run/workload.creds 2>/dev/null && break  # its last line
        sleep 0.02
    done
    cat /run/workload.creds
}
