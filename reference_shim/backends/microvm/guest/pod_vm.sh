# The microvm guest agent's part: sourced by init.sh (in the initramfs as /lib/agent/pod_vm.sh).
# -- a shared pod VM (strategy shared-vm; README, "Shared pod VM") -------------------------------
# The pod VM has no root disk of its own and a virtio-scsi controller: its agent keeps the pod's
# settings (address, hostname, sysctls, /etc/hosts, /dev/shm) and, for each container the host
# adds (MEMBER KEY TARGET: its disk the SCSI target TARGET, its ports ctl-KEY, stdout-KEY,
# stderr-KEY and stdin-KEY, hot-plugged), starts a container agent: this same script as
# `/init member KEY TARGET` in a mount namespace of its own (its /run, its /container), with the
# cgroup /sys/fs/cgroup/c-KEY. It speaks the same lines on its own ctl port; it leaves (DONE)
# rather than powering off.
MEMBER="" SUFFIX="" SCSI="" DISK=/dev/vda POD_VM=0 SHARES=/run/shares
pod_vm_setup() {  # the pod VM of shared-vm: a virtio-scsi controller (virtio device id 8)
    for device in /sys/bus/virtio/devices/*; do
        read -r id < "$device/device" && [ "$id" = 0x0008 ] && POD_VM=1
    done
    [ $POD_VM = 1 ] || return 0
    for module in scsi_common scsi_mod sd_mod virtio_scsi; do insmod "/lib/modules/$module.ko"; done
    mkdir -p /pod/shm /pod/shares && mount -t tmpfs -o size=64m,mode=1777 shm /pod/shm \
        && : > /pod/hosts || echo "microvm agent: no /dev/shm for the pod" >&2
    # the pod's share, whose entries KEY/N are its containers' mounts (pod_shares.py)
    insmod /lib/modules/fuse.ko && insmod /lib/modules/virtiofs.ko \
        && mount -t virtiofs shares /pod/shares || echo "microvm agent: no share for the pod" >&2
}
root_disk() {  # whether the root disk is there: /dev/vda, the container's SCSI disk, none (pod VM)
    [ $POD_VM = 1 ] && return 0
    if [ -n "$MEMBER" ]; then
        for block in /sys/bus/scsi/devices/*:0:"$SCSI":0/block/*; do
            [ -b "/dev/${block##*/}" ] && DISK=/dev/${block##*/} && return 0
        done
        return 1
    fi
    [ -b /dev/vda ]
}
member() {  # member KEY TARGET: this process is a container's agent in the pod VM
    MEMBER=$1 SUFFIX=-$1 SCSI=$2 SHARES=/pod/shares
    export CGROUP=/sys/fs/cgroup/c-$1  # its execs (`/init launch`) join it too
    mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/spec /run/exec "$CGROUP" \
        || { echo "microvm agent: cannot set up container $1" >&2; exit 1; }
}
add_member() {  # add_member KEY TARGET: start a container's agent (its ports and disk are plugged)
    unshare --mount --propagation private /bin/sh /init member "$1" "$2" &
}
leave() {  # a container's agent leaves: its processes killed, its root unmounted, its cgroup gone
    for _ in $(seq 50); do
        pids=$(cat "$CGROUP/cgroup.procs" 2>/dev/null)
        [ -n "$pids" ] || break
        # shellcheck disable=SC2086  # one pid a word
        kill -KILL $pids 2>/dev/null
        sleep 0.1
    done
    sync
    umount -l /container 2>/dev/null
    rmdir "$CGROUP" 2>/dev/null
    say DONE
    exit 0
}
pod_files() {  # a container of a shared pod VM: the pod's /etc/hosts and /dev/shm (one IPC)
    [ -n "$MEMBER" ] || return 0
    mount --bind /pod/shm /container/dev/shm || return 1
    [ -e /container/etc/hosts ] || { mkdir -p /container/etc && touch /container/etc/hosts; } 2>/dev/null
    [ -e /container/etc/hosts ] || return 0  # a read-only root without the file
    mount --bind /pod/hosts /container/etc/hosts
}
