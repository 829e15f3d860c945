#!/bin/busybox sh
# The microvm guest agent: PID 1 of every VM, a busybox shell script, nothing else in the guest.
# It loads the virtio drivers, finds its three virtio-serial ports (ctl, stdout, stderr), says
# READY on ctl, reads the workload's spec from the host, mounts the container's root filesystem
# (the ext4 disk /dev/vda), runs the workload in it, answers the host's commands (signals, execs),
# and powers the VM off once the workload has ended. The wire format is in ../README.md.
say() { echo "$*" >&3; }  # one line to the host: one write, so lines never interleave
decode() { [ "$1" = - ] || echo "$1" | base64 -d; }  # `-`: the empty word (machine.b64)
failed() { say "FAILED $(printf '%s' "$*" | base64 -w 0)"; }
fail() { failed "$@"; end_agent; }
end_agent() {  # the agent's end: the VM powers off; a container's agent in a shared pod VM leaves it
    [ -z "${MEMBER:-}" ] || leave
    sync; poweroff -f
}

# The spec, one list per file of decoded words (a word may hold anything but a newline).
mkdir -p /run/spec /run/exec
store() {  # store FILE B64...: the decoded words, one a line
    file=$1; shift
    : > "$file"
    for word in "$@"; do decode "$word" >> "$file"; echo >> "$file"; done
}

# resolve NAME: NAME's path inside the container, looked up on the container's PATH, so that
# the agent's own busybox never stands in for a program the image lacks.
resolve() {
    case $1 in */*) echo "$1"; return ;; esac
    search=$(grep '^PATH=' /run/spec/env | tail -n 1 | cut -d= -f2-)
    [ -n "$search" ] || search=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    IFS=:
    for dir in $search; do
        if [ -f "/container$dir/$1" ] && [ -x "/container$dir/$1" ]; then
            unset IFS; echo "$dir/$1"; return
        fi
    done
    unset IFS
    return 1
}

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
# -- privileges (privileges.py): masked and read-only paths; the launcher does the rest ---------
protect_paths() {  # masked: /dev/null over a file, an empty read-only tmpfs over a folder;
    # read-only paths: a read-only bind over each; paths the container lacks are skipped, as runc does
    touch /run/spec/masked /run/spec/ropaths
    while IFS= read -r path; do
        if [ -d "/container$path" ]; then mount -t tmpfs -o ro tmpfs "/container$path"
        elif [ -e "/container$path" ]; then mount --bind /dev/null "/container$path"; fi || return 1
    done < /run/spec/masked
    while IFS= read -r path; do
        [ -e "/container$path" ] || continue
        mount --bind "/container$path" "/container$path" \
            && mount -o remount,bind,ro "/container$path" || return 1
    done < /run/spec/ropaths
}
readonly_files() {  # files mounted read-only (READONLY): a read-only bind over each
    touch /run/spec/readonly
    while IFS= read -r path; do
        mount --bind "/container$path" "/container$path" \
            && mount -o remount,bind,ro "/container$path" || return 1
    done < /run/spec/readonly
}

# -- PID namespaces (README, "PID namespaces"): the workload as PID 1 of a namespace of its own --
# PIDNS container (CRI's CONTAINER): `unshare --pid --fork` makes the namespace, its PID 1 (the
# `container` step below) becomes the workload; PIDNS pod: the VM's own namespace, where the
# agent stands for the pod's infra process, as a pause process does under containerd.
PIDNS=pod
workload_namespace() {  # the words that start the workload's first process
    case $PIDNS in
        container) echo "unshare --pid --fork" ;;
        target\ *) echo "nsenter -t ${PIDNS#target } -p" ;;  # shared-vm: another container's
    esac
}
# expire PID SECONDS [ENTER]: ExecSync's timeout, SIGKILL to the exec's command (PID, or with
# nsenter's words PID's child, in the workload's namespace: nsenter then ends with its signal).
# Not busybox's timeout inside the namespace: its watcher would be a process of the container.
expire() {
    sleep "$2"
    if [ -n "${3:-}" ]; then
        # shellcheck disable=SC2046  # one pid a word
        kill -KILL $(cat "/proc/$1/task/$1/children" 2>/dev/null) 2>/dev/null
    else
        kill -KILL "$1" 2>/dev/null
    fi
}
ENTER=""  # the words that start an exec in the workload's PID namespace (PIDNS container)
enter_words() {
    ENTER=""
    if [ "$PIDNS" != pod ] && read -r target < /run/workload.pid 2>/dev/null; then
        ENTER="nsenter -t $target -p"
    fi
}
# container ARGV_FILE: the workload's first process, in its PID namespace. It mounts the
# container's /proc (this namespace's: only a process inside can), masks and write-protects the
# paths asked (after every other mount, /proc's included, as runc does), tells the agent its pid in
# the guest's namespace (for SIGNAL and STATUS), and becomes the workload.
container() {
    read -r outer _ < /proc/self/stat  # the guest's /proc: the pid the agent knows it by
    mount -t proc proc /container/proc || { failed "cannot mount /proc"; exit 127; }
    if ! { protect_paths && readonly_files; }; then
        failed "cannot mask or write-protect the paths asked"; exit 127
    fi
    echo "$outer" > /run/session/workload/pid.partial && mv /run/session/workload/pid.partial /run/session/workload/pid
    launch "$1" warm
}
# working_dir: the working directory, made when the image lacks it (as runc does: 0755, root's,
# inside the container's root, after the mounts), on a read-only root too
working_dir() {
    [ -d "/container$CWD" ] && return 0
    if [ "$MODE" = ro ]; then
        mount -o remount,rw /container && /bin/launch --mkdir /container "$CWD"
        made=$?
        mount -o remount,ro /container && return $made
        return 1
    fi
    /bin/launch --mkdir /container "$CWD"
}

# -- host devices (devices.py): their nodes in the container, the workload's device filter -----
DEVRULES=""  # the host's DEVRULES line: the filter's default, then its rules
make_node() {  # make_node PATH TYPE MAJOR MINOR MODE UID GID: the node at PATH in the container
    target=/container$1
    [ -d "$target" ] && { echo "$1 is a folder in the container" >&2; return 1; }
    mkdir -p "${target%/*}" && rm -f "$target" && mknod -m "$5" "$target" "$2" "$3" "$4" \
        && chown "$6:$7" "$target"
}
disk_number() {  # disk_number SERIAL: MAJOR:MINOR of the guest's disk the host gave that serial
    # (a container of a shared pod VM: an SCSI disk of its own target, its serial in VPD page 0x80
    # after the page's 4-byte header)
    for _ in $(seq 100); do
        if [ -n "$MEMBER" ]; then
            for disk in /sys/bus/scsi/devices/*:0:"$SCSI":*/block/*; do
                [ -e "$disk" ] && [ "$(tail -c +5 "${disk%/block/*}/vpd_pg80")" = "$1" ] \
                    && cat "$disk/dev" && return 0
            done 2>/dev/null
        else
            for disk in /sys/block/vd*; do
                serial=""  # the file ends with no newline: read fails, having read it
                read -r serial 2>/dev/null < "$disk/serial"
                [ "$serial" = "$1" ] && cat "$disk/dev" && return 0
            done
        fi
        sleep 0.05
    done
    return 1
}
host_devices() {  # each DEVICE line's node; the rules it adds, in /run/spec/devrules
    touch /run/spec/devices
    : > /run/spec/devrules
    # shellcheck disable=SC2086  # the words hold no blanks
    while read -r kind rest; do
        set -- $rest
        if [ "$kind" = disk ]; then  # SERIAL B64PATH ACCESS MODE UID GID
            number=$(disk_number "$1") || { echo "no disk with serial $1 in the VM" >&2; return 1; }
            make_node "$(decode "$2")" b "${number%:*}" "${number#*:}" "$4" "$5" "$6" || return 1
            echo "+b:$number:$3" >> /run/spec/devrules
            continue
        fi  # node TYPE MAJOR MINOR B64PATH ACCESS MODE UID GID MODULE
        if [ "$9" != - ] && [ ! -d "/sys/module/$9" ]; then
            insmod "/lib/modules/$9.ko" || { echo "cannot load module $9" >&2; return 1; }
        fi
        kind=block; [ "$1" = c ] && kind=char
        if [ "$5" != - ] && [ ! -e "/sys/dev/$kind/$2:$3" ]; then  # "-": a placeholder, denied
            echo "the VM has no $kind device $2:$3 for $(decode "$4")" >&2; return 1
        fi
        make_node "$(decode "$4")" "$1" "$2" "$3" "$6" "$7" "$8" || return 1
        [ "$5" = - ] || echo "+$1:$2:$3:$5" >> /run/spec/devrules
    done < /run/spec/devices
}
device_filter() {  # the workload cgroup's device filter (guest/devcgroup.c): the host's rules
    # and each device's (the workload's output goes through pipes, not to its ports: `output`)
    [ -n "$DEVRULES" ] || return 0
    # shellcheck disable=SC2086  # rules hold no blanks
    set -- $DEVRULES
    default=$1; shift
    # shellcheck disable=SC2046  # one rule a line
    /bin/devcgroup "$CGROUP" "$default" "$@" $(cat /run/spec/devrules)
}

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

# -- seccomp (seccomp_filter.py): the filter the host compiled, which the launcher installs ----
# in every process it starts (the workload, its execs and sessions) just before their exec.
# /run is the guest's, outside the container's root: the workload never sees the files.
seccomp_filter() {  # seccomp_filter FLAGS B64: seccomp(2)'s flags and the BPF program
    echo "$1" > /run/seccomp.flags && decode "$2" > /run/seccomp.bpf \
        || fail "cannot store the seccomp filter"
}

answer() {  # answer KIND ID CODE TEXT: one answer line, TEXT in base64
    say "$1 $2 $3 $(printf '%s' "$4" | base64 -w 0)"
}

# launch ARGV_FILE [warm]: exec the words of ARGV_FILE in the container, with its env, cwd and
# user (warm: the workload's first process, whose program is not yet in the page cache)
launch() {
    argv_file=$1 warm=${2:-}
    echo "$OOMSCOREADJ" > /proc/self/oom_score_adj
    set --
    while IFS= read -r word; do set -- "$@" "$word"; done < /run/spec/env
    set -- env -i "$@" /bin/launch /container "$CWD" ${WHO% *} ${WHO#* } $PRIVS
    first=1
    while IFS= read -r word; do
        if [ $first = 1 ]; then
            first=0
            path=$(resolve "$word") || { echo "$word: executable file not found in \$PATH" >&2; exit 127; }
            # the workload's program read into the page cache by the agent, not by the workload:
            # a VM's disk starts cold, and under TCG a cold exec of busybox cost the workload 100 to
            # 200 ms of CPU time (an idle container seemed busy); under runc the image's layers
            # sit in the host's page cache from the pull. 8 MiB at most: what an exec touches first
            if [ "$warm" = warm ]; then head -c 8388608 "/container$path" > /dev/null 2>&1; fi
            set -- "$@" -- "$path" "$word"  # argv[0] as given, as runc execs it
        else
            set -- "$@" "$word"
        fi
    done < "$argv_file"
    # the launcher joins the workload's cgroup (fd 8) just before its exec: what the agent does
    # to get there is not the container's; the ctl port (fd 3) is the agent's, not the workload's
    if [ -e "$CGROUP/cgroup.procs" ]; then exec "$@" 3>&- 8>>"$CGROUP/cgroup.procs"; fi
    exec "$@" 3>&-
}

# network ADDRESS/PREFIX: the VM's NIC gets its address on the bridge's subnet (the kernel adds
# the subnet's route), and loopback comes up. No default route: only the bridge is reachable.
network() {
    for module in failover net_failover virtio_net; do insmod "/lib/modules/$module.ko"; done
    for _ in $(seq 100); do [ -e /sys/class/net/eth0 ] && break; sleep 0.05; done
    ip link set lo up && ip addr add "$1" dev eth0 && ip link set eth0 up \
        || fail "cannot configure the network ($1 on eth0)"
}

# mount_shares: the folders and files mounted from the host, live: the VM's virtiofs share at
# /run/shares (one entry per mount, made by the host), each entry bound at its container path
# (MOUNT lines, in order: parents first), read-only where asked.
mount_shares() {
    [ -s /run/spec/mounts ] || return 0
    if [ -z "$MEMBER" ]; then  # a shared pod VM's agent mounted the share at boot
        insmod /lib/modules/fuse.ko && insmod /lib/modules/virtiofs.ko || return 1
        mkdir -p /run/shares && mount -t virtiofs shares /run/shares || return 1
    fi
    while read -r name target mode; do
        name=$(decode "$name") target=/container$(decode "$target")
        if [ -d "$SHARES/$name" ]; then
            mkdir -p "$target" 2>/dev/null
        else
            mkdir -p "${target%/*}" 2>/dev/null
            [ -e "$target" ] || touch "$target" 2>/dev/null
        fi
        mount --rbind "$SHARES/$name" "$target" || return 1
        if [ "$mode" = ro ]; then mount -o remount,bind,ro "$target" || return 1; fi
    done < /run/spec/mounts
}

# centiseconds: the guest's uptime, for how long ago the workload exited (STATUS)
centiseconds() {
    read -r up _ < /proc/uptime
    up=${up%.*}${up#*.}
    while [ "${up#0}" != "$up" ]; do up=${up#0}; done  # no leading zero: not octal
    echo "${up:-0}"
}

# report_status: the workload's state, for a host that (re)connects: it may have missed EXIT
report_status() {
    if [ -f /run/workload.exit ]; then
        read -r code at < /run/workload.exit
        say "STATUS exited $code $(( $(centiseconds) - at ))"
    elif [ -f /run/workload.pid ]; then
        say "STATUS running $(cat /run/workload.pid)"
    else
        say "STATUS created"
    fi
}

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

# An exec runs as `/init launch ARGV_FILE` (nsenter, setsid and ptyrun need a program), and the
# workload's first process as `/init container ARGV_FILE`, with the container's CWD and WHO
# exported by the agent.
if [ "${1:-}" = launch ]; then launch "$2"; fi
if [ "${1:-}" = container ]; then container "$2"; fi
if [ "${1:-}" = member ]; then member "$2" "$3"; fi

if [ -z "${MEMBER:-}" ]; then
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
cgroup_setup || echo "microvm agent: no cgroup v2 for the workload" >&2
load_feature_modules
mount -t devtmpfs devtmpfs /dev
# the guest's terminals (ptyrun's); a container's /dev/pts is this same instance (START)
mkdir -p /dev/pts && mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
# microvm.trace on the kernel command line (CRI_MICROVM_TRACE=1): the agent traces to the console
grep -qw microvm.trace /proc/cmdline && set -x
mkdir -p /run /container
for module in virtio virtio_ring virtio_mmio virtio_blk virtio_console; do
    insmod "/lib/modules/$module.ko"
done
pod_vm_setup
fi

port() {  # port NAME: the device of the virtio-serial port the host named NAME
    for found in /sys/class/virtio-ports/*; do
        [ "$(cat "$found/name" 2>/dev/null)" = "$1" ] && echo "/dev/${found##*/}"
    done
}
for _ in $(seq 200); do
    CTL=$(port "ctl$SUFFIX") OUT=$(port "stdout$SUFFIX") ERR=$(port "stderr$SUFFIX")
    [ -c "$CTL" ] && [ -c "$OUT" ] && [ -c "$ERR" ] && root_disk && break
    sleep 0.05
done
[ -c "$CTL" ] || { echo "microvm agent: no ctl port" >&2; end_agent; }
exec 3<>"$CTL"

# -- Streaming: exec sessions, and the workload's terminal and stdin (README, "Streaming") -----
# A session's ports (ID-in, ID-out, ID-err) are hot-plugged by the host before it sends SESSION.
# The first byte on an in port is the host's, sent once it connected: reading it proves the host
# is connected (before that, the port reads as end of input). Output goes through `relay`, which
# counts it: SESSIONEND says how many bytes each port carried, so the host knows it has them all.
mkdir -p /run/session/workload
TTY=0 STDIN=0

lookup() {  # lookup NAME: FOUND=the port's device; shell builtins only (a fork costs under TCG)
    FOUND=""
    for found in /sys/class/virtio-ports/*; do
        read -r name 2>/dev/null < "$found/name" && [ "$name" = "$1" ] && FOUND=/dev/${found##*/}
    done
    [ -c "$FOUND" ]
}

wait_ports() {  # wait_ports NAME...: until a port of each name exists (20 s at most)
    for _ in $(seq 400); do
        missing=0
        for name in "$@"; do lookup "$name" || missing=1; done
        [ $missing = 0 ] && return 0
        sleep 0.05
    done
    return 1
}

take_sync() {  # take_sync: the host's first byte on fd 4, read once the port is connected
    for _ in $(seq 400); do
        [ "$(dd bs=1 count=1 <&4 2>/dev/null | wc -c)" -eq 1 ] && return 0
        sleep 0.05
    done
    return 1
}

relay() {  # relay PORT FIFO COUNT_FILE: what is written to FIFO, to PORT; its length, to COUNT_FILE
    tee "$1" < "$2" 4<&- | wc -c > "$3"
}

resize() {  # resize DIR: the terminal named in DIR/tty gets the size in DIR/size, once both exist
    # shellcheck disable=SC2046  # the size file holds the words `rows R cols C`
    [ -s "$1/tty" ] && [ -s "$1/size" ] && stty -F "$(cat "$1/tty")" $(cat "$1/size") 2>/dev/null
}

resize_when_ready() {  # resize_when_ready DIR: resize DIR once ptyrun has named its terminal
    for _ in $(seq 250); do [ -s "$1/tty" ] && break; sleep 0.02; done
    resize "$1"
}

members() {  # members PID: the processes of PID's session and of its children's (ptyrun's
    # command has a session of its own), which no process leaves by losing its parent
    cat /proc/[0-9]*/status 2>/dev/null | awk -v root="$1" '
        /^Pid:/ { pid = $2 } /^PPid:/ { parent[pid] = $2 } /^NSsid:/ { sid[pid] = $2 }
        END { leaders[root] = 1; for (p in parent) if (parent[p] == root) leaders[p] = 1
              for (p in sid) if (sid[p] in leaders) print p }'
}

end_session() {  # end_session PID: SIGKILL every member (PID was started by setsid) until none is left
    for _ in $(seq 50); do
        pids=$(members "$1")
        [ -n "$pids" ] || return 0
        # shellcheck disable=SC2086  # one pid a word
        kill -KILL $pids 2>/dev/null
        sleep 0.1
    done
}

# session ID TTY STDIN: run /run/session/ID/argv as an exec, on a terminal (ptyrun) or not, its
# stdin the port ID-in (or /dev/null), its output the ports ID-out and ID-err (a terminal merges
# stderr into ID-out); then SESSIONEND ID CODE OUT_BYTES ERR_BYTES.
session() {
    id=$1 dir=/run/session/$1
    names="$id-out"
    [ "$2" = 1 ] || names="$names $id-err"
    [ "$3" = 1 ] && names="$names $id-in"
    # shellcheck disable=SC2086  # port names hold no blanks
    wait_ports $names || { say "SESSIONEND $id 126 0 0"; rm -rf "$dir"; return; }
    exec 4</dev/null
    if [ "$3" = 1 ]; then
        lookup "$id-in" && exec 4<"$FOUND"
        take_sync || { say "SESSIONEND $id 126 0 0"; rm -rf "$dir"; return; }
    fi
    mkfifo "$dir/out"
    lookup "$id-out" && relay "$FOUND" "$dir/out" "$dir/out.n" &
    if [ "$2" = 1 ]; then
        echo 0 > "$dir/err.n"
        # shellcheck disable=SC2086  # nsenter's words (PIDNS container)
        setsid /bin/ptyrun "$dir/tty" $ENTER /bin/sh /init launch "$dir/argv" <&4 4<&- > "$dir/out" 2>&1 &
        pid=$!
        resize_when_ready "$dir" &
    else
        mkfifo "$dir/err"
        lookup "$id-err" && relay "$FOUND" "$dir/err" "$dir/err.n" &
        # shellcheck disable=SC2086  # nsenter's words (PIDNS container)
        setsid $ENTER /bin/sh /init launch "$dir/argv" <&4 4<&- > "$dir/out" 2> "$dir/err" &
        pid=$!
    fi
    echo $pid > "$dir/pid"
    [ -e "$dir/killed" ] && end_session $pid  # SESSIONKILL came before the pid file
    wait $pid
    code=$?
    exec 4<&-
    wait
    say "SESSIONEND $id $code $(cat "$dir/out.n") $(cat "$dir/err.n")"
    rm -rf "$dir"
}

# output: without a terminal, the workload's stdout and stderr are pipes (FIFOs) that `cat`s
# copy to the ports, as runc gives a container pipes: /dev/stdout reopens /proc/self/fd/1, and a
# virtio port opens once (EBUSY). RELAYS: the copiers, waited for before EXIT, so that the host has
# the last bytes before the VM powers off.
RELAYS=""
output() {
    [ "$TTY" = 1 ] && return 0
    # writable by the workload's user, whoever it is (runc gives a container's process its stdio:
    # fixStdioPermissions); only its own processes reach them, through their /proc/self/fd
    mkfifo -m 0622 /run/session/workload/out /run/session/workload/err
    cat /run/session/workload/out > "$OUT" &
    RELAYS=$!
    cat /run/session/workload/err > "$ERR" &
    RELAYS="$RELAYS $!"
}
output_drained() {  # the copiers end once no process holds the pipes (5 s at most)
    for _ in $(seq 250); do
        # shellcheck disable=SC2086  # one pid a word
        kill -0 $RELAYS 2>/dev/null || return 0
        sleep 0.02
    done
}
leftovers_killed() {  # what the workload left running ends with it, as runc ends a container's
    # processes when its init exits (under PIDNS container the kernel does so already)
    [ -e "$CGROUP/cgroup.kill" ] && echo 1 > "$CGROUP/cgroup.kill"
}

# workload: the workload's process, with the stdio the spec's TTY and STDIN lines ask for: on a
# terminal (ptyrun, which forwards the agent's signals to it), its stdin a pipe from the port
# `stdin` (as runc makes it), or /dev/null.
workload() {
    exec 4</dev/null
    if [ "$STDIN" = 1 ]; then
        exec 4<"$(port "stdin$SUFFIX")"
        take_sync || echo "microvm agent: the stdin port is not connected" >&2
    fi
    if [ "$TTY" = 1 ]; then
        resize_when_ready /run/session/workload &
        # shellcheck disable=SC2046  # the namespace's words
        exec /bin/ptyrun /run/session/workload/tty $(workload_namespace) /bin/sh /init container /run/spec/argv <&4 4<&- > "$OUT" 2> "$ERR" 9> /run/workload.creds
    elif [ "$STDIN" = 1 ]; then  # cat is left behind when the workload ends, not waited for
        # shellcheck disable=SC2046  # the namespace's words
        (cat <&4 4<&- &) | exec $(workload_namespace) /bin/sh /init container /run/spec/argv > /run/session/workload/out 2> /run/session/workload/err 9> /run/workload.creds
    else
        exec 4<&-
        # shellcheck disable=SC2046  # the namespace's words
        exec $(workload_namespace) /bin/sh /init container /run/spec/argv < /dev/null > /run/session/workload/out 2> /run/session/workload/err 9> /run/workload.creds
    fi
}

launched() {  # whether the launcher wrote the workload's credentials, its last step before exec
    while IFS= read -r line; do
        case $line in Groups:*) return 0 ;; esac
    done < /run/workload.creds
    return 1
}
workload_pid() {  # workload_pid PID: the workload's pid in the guest, once its first process
    # (`container`, below `workload &` started as PID) has set it up; fails if PID ended first.
    # STARTED waits for the launcher's exec too: an exec must see the workload as PID 1, never
    # the agent's shell that becomes it.
    while [ ! -s /run/session/workload/pid ]; do
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.02
    done
    until launched 2>/dev/null; do
        kill -0 "$1" 2>/dev/null || break  # the launcher failed: STARTED, then its EXIT
        sleep 0.02
    done
    cat /run/session/workload/pid
}

export CWD=/ WHO="0 0" OOMSCOREADJ=0 PRIVS="- ffffffffffffffff -"
MODE=rw
say READY
idle=0
while :; do
    # With no host on ctl (the shim died or restarts) a read sees end-of-file at once: wait for
    # one. The VM and its workload run on; what the agent says meanwhile waits in `say`. After
    # 3000 polls (10 minutes or more) with no host, no shim is coming back: power off.
    if ! read -r command rest <&3; then
        idle=$((idle + 1))
        if [ "$idle" -ge 3000 ]; then
            echo "microvm agent: no host for 10 minutes; powering off" >&2
            end_agent
        fi
        sleep 0.2; continue
    fi
    idle=0
    # shellcheck disable=SC2086  # base64 words hold no blanks and no glob characters
    case $command in
        ENV) store /run/spec/env $rest ;;
        ARGV) store /run/spec/argv $rest ;;
        CWD) CWD=$(decode "$rest") ;;
        USER) WHO=$rest ;;
        HOSTNAME) hostname "$(decode "$rest")" ;;
        ROOTFS) MODE=$rest ;;
        NETWORK) network "$rest" ;;
        READONLY) store /run/spec/readonly $rest ;;
        MOUNT) echo "$rest" >> /run/spec/mounts ;;
        SYSCTL)
            store /run/spec/sysctls $rest
            why=$(write_files /proc/sys /run/spec/sysctls 2>&1) || fail "sysctl: $why"
            ;;
        LIMITS) store /run/spec/limits $rest ;;
        OOMSCOREADJ) OOMSCOREADJ=$rest ;;
        SECCOMP) seccomp_filter $rest ;;
        PRIVS) PRIVS=$rest ;;
        PIDNS) PIDNS=$rest ;;
        MASKED) store /run/spec/masked $rest ;;
        ROPATHS) store /run/spec/ropaths $rest ;;
        DEVICE) echo "$rest" >> /run/spec/devices ;;
        DEVRULES) DEVRULES=$rest ;;
        USERNS) USERNS=$rest ;;
        UPDATE)
            set -- $rest  # ID B64...
            id=$1; shift
            store /run/spec/update "$@"
            if why=$(write_files "$CGROUP" /run/spec/update 2>&1); then
                answer UPDATED "$id" 0 ""
            else answer UPDATED "$id" 1 "$why"; fi
            ;;
        STATS) answer STATSEND "$rest" 0 "$(figures)" ;;
        CREDS) answer CREDSEND "$rest" 0 "$(credentials)" ;;
        START)
            mount -o "$MODE" "$DISK" /container || fail "cannot mount the root filesystem"
            for dir in proc sys dev; do mkdir -p "/container/$dir" 2>/dev/null; done
            mount -t sysfs -o "$(sys_mode)" sysfs /container/sys \
                && mount -t tmpfs -o mode=755 tmpfs /container/dev || fail "cannot mount /sys, /dev"
            for node in null zero full random urandom tty; do cp -a "/dev/$node" /container/dev/; done
            mkdir -p /container/dev/pts /container/dev/shm
            mount --bind /dev/pts /container/dev/pts && ln -s pts/ptmx /container/dev/ptmx \
                && mount -t tmpfs tmpfs /container/dev/shm
            pod_files || fail "cannot mount the pod's /etc/hosts and /dev/shm"
            # the OCI runtime spec's /dev links, as runc makes them (without them a write to
            # /dev/stdout made a file on the tmpfs, and the output never reached the log)
            ln -s /proc/self/fd /container/dev/fd
            for fd in 0:stdin 1:stdout 2:stderr; do ln -s "/proc/self/fd/${fd%:*}" "/container/dev/${fd#*:}"; done
            touch /run/spec/limits
            why=$(write_files "$CGROUP" /run/spec/limits 2>&1) || fail "resources: $why"
            cgroup_view || fail "cannot mount the workload's cgroup at /sys/fs/cgroup"
            mount_shares || fail "cannot mount the folders and files shared from the host"
            why=$(host_devices 2>&1) || fail "devices: $why"
            why=$(device_filter 2>&1) || fail "the workload's device filter: $why"
            cd /
            why=$(working_dir 2>&1) || fail "cannot make the working directory $CWD: $why"
            why=$(user_namespace 2>&1) || fail "user namespace: $why"
            (
                output
                workload &
                # no pid: its first process said FAILED and ended
                workload_pid $! > /run/workload.pid || { wait $!; [ -n "$MEMBER" ] || end_agent; exit; }
                say "STARTED $(cat /run/workload.pid)"
                wait $!
                code=$?
                leftovers_killed
                output_drained
                echo "$code $(centiseconds)" > /run/workload.exit
                if oom_killed; then say OOMKILLED; fi
                say "EXIT $code"  # blocks while no host is connected; ACK powers off
            ) &
            ;;
        SIGNAL) kill -s "$rest" "$(cat /run/workload.pid)" 2>/dev/null ;;
        EXEC)
            set -- $rest  # ID TIMEOUT B64...
            id=$1 limit=$2; shift 2
            store "/run/exec/$id.argv" "$@"
            enter_words
            (
                # shellcheck disable=SC2086  # nsenter's words (PIDNS container)
                $ENTER /bin/sh /init launch "/run/exec/$id.argv" < /dev/null > "/run/exec/$id.out" 2> "/run/exec/$id.err" &
                command=$!
                if [ "$limit" -gt 0 ]; then expire "$command" "$limit" "$ENTER" & fi
                watcher=$!
                wait "$command"
                code=$?
                if [ "$limit" -gt 0 ]; then kill "$watcher" 2>/dev/null; fi
                base64 -w 0 "/run/exec/$id.out" > "/run/exec/$id.out64"
                base64 -w 0 "/run/exec/$id.err" > "/run/exec/$id.err64"
                say "EXECEND $id $code $(cat "/run/exec/$id.out64") $(cat "/run/exec/$id.err64")"
                rm -f "/run/exec/$id".*
            ) &
            ;;
        STATUS) report_status ;;
        ACK) end_agent ;;  # the host has kept the exit
        POWEROFF) end_agent ;;
        POD) echo 1 > /run/workload.pid; say "STARTED 1" ;;  # a shared pod VM: STATUS running 1
        HOSTS) decode "$rest" > /pod/hosts ;;
        MEMBER) add_member $rest ;;
        TTY) TTY=$rest ;;
        STDIN) STDIN=$rest ;;
        SESSION)
            set -- $rest  # ID TTY STDIN B64...
            id=$1 tty=$2 input=$3; shift 3
            mkdir -p "/run/session/$id"
            store "/run/session/$id/argv" "$@"
            enter_words
            session "$id" "$tty" "$input" &
            ;;
        RESIZE)
            set -- $rest  # ID ROWS COLUMNS
            [ -d "/run/session/$1" ] && echo "rows $2 cols $3" > "/run/session/$1/size" \
                && resize "/run/session/$1"
            ;;
        SESSIONKILL)
            if [ -d "/run/session/$rest" ]; then
                touch "/run/session/$rest/killed"
                [ -s "/run/session/$rest/pid" ] && end_session "$(cat "/run/session/$rest/pid")" &
            fi
            ;;
        *) say "UNKNOWN $(printf '%s' "$command" | base64 -w 0)" ;;
    esac
done
