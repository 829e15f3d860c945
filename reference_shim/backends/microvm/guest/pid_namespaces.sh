# The microvm guest agent's part: sourced by init.sh (in the initramfs as /lib/agent/pid_namespaces.sh).
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
