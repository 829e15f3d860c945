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

# readonly_tree PATH: the mount at PATH and every mount under it read-only (busybox's mount has
# no mount_setattr); what the guest automounts under it later (the host's submounts, which
# virtiofs announces) inherits its parent's read-only flag
readonly_tree() {
    while read -r _ _ _ _ point _; do
        case $point in "$1" | "$1"/*) mount -o remount,bind,ro "$point" || return 1 ;; esac
    done < /proc/self/mountinfo
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
        if [ "$mode" = rro ]; then readonly_tree "$target" || return 1; fi
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

# The agent's parts, one file per concern (as the host's modules of the same names).
for part in /lib/agent/*.sh; do
    # shellcheck disable=SC1090  # the parts are guest/*.sh beside this script
    . "$part"
done

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
mkdir -p /run/session/workload  # streaming.sh
TTY=0 STDIN=0

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
