#!/bin/busybox sh
# The microvm guest agent: PID 1 of every VM, a busybox shell script, nothing else in the guest.
# It loads the virtio drivers, finds its three virtio-serial ports (ctl, stdout, stderr), says
# READY on ctl, reads the workload's spec from the host, mounts the container's root filesystem
# (the ext4 disk /dev/vda), runs the workload in it, answers the host's commands (signals, execs),
# and powers the VM off once the workload has ended. The wire format is in ../README.md.
say() { echo "$*" >&3; }  # one line to the host: one write, so lines never interleave
decode() { echo "$1" | base64 -d; }
fail() { say "FAILED $(printf '%s' "$*" | base64 -w 0)"; sync; poweroff -f; }

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
CGROUP=/sys/fs/cgroup/workload  # the workload's cgroup; its execs join it too
cgroup_setup() {  # at boot: the unified hierarchy, its controllers for children, the cgroup
    mount -t cgroup2 cgroup2 /sys/fs/cgroup \
        && echo "+cpu +cpuset +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control \
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

load_feature_modules() {  # what a container may use that is a module (guest.py FEATURE_MODULES)
    for module in llc stp bridge; do insmod "/lib/modules/$module.ko" 2>/dev/null; done
}

answer() {  # answer KIND ID CODE TEXT: one answer line, TEXT in base64
    say "$1 $2 $3 $(printf '%s' "$4" | base64 -w 0)"
}

# launch ARGV_FILE: exec the words of ARGV_FILE in the container, with its env, cwd and user
launch() {
    argv_file=$1
    echo 0 > "$CGROUP/cgroup.procs"  # this shell, so the workload (or exec) it becomes
    echo "$OOMSCOREADJ" > /proc/self/oom_score_adj
    set --
    while IFS= read -r word; do set -- "$@" "$word"; done < /run/spec/env
    set -- env -i "$@" /bin/launch /container "$CWD" ${WHO% *} ${WHO#* } $PRIVS
    first=1
    while IFS= read -r word; do
        if [ $first = 1 ]; then
            first=0
            path=$(resolve "$word") || { echo "$word: executable file not found in \$PATH" >&2; exit 127; }
            set -- "$@" -- "$path" "$path"
        else
            set -- "$@" "$word"
        fi
    done < "$argv_file"
    exec "$@"
}

# An exec runs as `/init launch ARGV_FILE` (busybox timeout needs a program), with the
# container's CWD and WHO exported by the agent.
if [ "${1:-}" = launch ]; then launch "$2"; fi

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
cgroup_setup || echo "microvm agent: no cgroup v2 for the workload" >&2
load_feature_modules
mount -t devtmpfs devtmpfs /dev
# microvm.trace on the kernel command line (CRI_MICROVM_TRACE=1): the agent traces to the console
grep -qw microvm.trace /proc/cmdline && set -x
mkdir -p /run /container
for module in virtio virtio_ring virtio_mmio virtio_blk virtio_console; do
    insmod "/lib/modules/$module.ko"
done

port() {  # port NAME: the device of the virtio-serial port the host named NAME
    for found in /sys/class/virtio-ports/*; do
        [ "$(cat "$found/name" 2>/dev/null)" = "$1" ] && echo "/dev/${found##*/}"
    done
}
for _ in $(seq 200); do
    CTL=$(port ctl) OUT=$(port stdout) ERR=$(port stderr)
    [ -c "$CTL" ] && [ -c "$OUT" ] && [ -c "$ERR" ] && [ -b /dev/vda ] && break
    sleep 0.05
done
[ -c "$CTL" ] || { echo "microvm agent: no ctl port" >&2; poweroff -f; }
exec 3<>"$CTL"

export CWD=/ WHO="0 0" OOMSCOREADJ=0 PRIVS="- ffffffffffffffff -"
MODE=rw
say READY
while read -r command rest <&3; do
    # shellcheck disable=SC2086  # base64 words hold no blanks and no glob characters
    case $command in
        ENV) store /run/spec/env $rest ;;
        ARGV) store /run/spec/argv $rest ;;
        CWD) CWD=$(decode "$rest") ;;
        USER) WHO=$rest ;;
        HOSTNAME) hostname "$(decode "$rest")" ;;
        ROOTFS) MODE=$rest ;;
        READONLY) store /run/spec/readonly $rest ;;
        SYSCTL)
            store /run/spec/sysctls $rest
            why=$(write_files /proc/sys /run/spec/sysctls 2>&1) || fail "sysctl: $why"
            ;;
        LIMITS) store /run/spec/limits $rest ;;
        OOMSCOREADJ) OOMSCOREADJ=$rest ;;
        PRIVS) PRIVS=$rest ;;
        MASKED) store /run/spec/masked $rest ;;
        ROPATHS) store /run/spec/ropaths $rest ;;
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
            mount -o "$MODE" /dev/vda /container || fail "cannot mount the root filesystem"
            for dir in proc sys dev; do mkdir -p "/container/$dir" 2>/dev/null; done
            mount -t proc proc /container/proc && mount -t sysfs -o "$(sys_mode)" sysfs /container/sys \
                && mount -t tmpfs -o mode=755 tmpfs /container/dev || fail "cannot mount /proc, /sys, /dev"
            for node in null zero full random urandom tty; do cp -a "/dev/$node" /container/dev/; done
            mkdir -p /container/dev/pts /container/dev/shm
            mount -t devpts devpts /container/dev/pts && mount -t tmpfs tmpfs /container/dev/shm
            touch /run/spec/limits
            why=$(write_files "$CGROUP" /run/spec/limits 2>&1) || fail "resources: $why"
            cgroup_view || fail "cannot mount the workload's cgroup at /sys/fs/cgroup"
            protect_paths || fail "cannot mask or write-protect the paths asked"
            touch /run/spec/readonly
            while IFS= read -r path; do  # files mounted read-only: a read-only bind over each
                mount --bind "/container$path" "/container$path" \
                    && mount -o remount,bind,ro "/container$path" || fail "cannot make $path read-only"
            done < /run/spec/readonly
            cd /
            [ -d "/container$CWD" ] || fail "working directory $CWD does not exist in the image"
            (
                launch /run/spec/argv < /dev/null > "$OUT" 2> "$ERR" 9> /run/workload.creds &
                echo $! > /run/workload.pid
                say "STARTED $!"
                wait $!
                code=$?
                if oom_killed; then say OOMKILLED; fi
                say "EXIT $code"
                sync
                poweroff -f
            ) &
            ;;
        SIGNAL) kill -s "$rest" "$(cat /run/workload.pid)" 2>/dev/null ;;
        EXEC)
            set -- $rest  # ID TIMEOUT B64...
            id=$1 limit=$2; shift 2
            store "/run/exec/$id.argv" "$@"
            (
                if [ "$limit" -gt 0 ]; then set -- timeout -s KILL "$limit"; else set --; fi
                "$@" /bin/sh /init launch "/run/exec/$id.argv" < /dev/null > "/run/exec/$id.out" 2> "/run/exec/$id.err"
                code=$?
                base64 -w 0 "/run/exec/$id.out" > "/run/exec/$id.out64"
                base64 -w 0 "/run/exec/$id.err" > "/run/exec/$id.err64"
                say "EXECEND $id $code $(cat "/run/exec/$id.out64") $(cat "/run/exec/$id.err64")"
                rm -f "/run/exec/$id".*
            ) &
            ;;
        POWEROFF) sync; poweroff -f ;;
        *) say "UNKNOWN $(printf '%s' "$command" | base64 -w 0)" ;;
    esac
done
poweroff -f
