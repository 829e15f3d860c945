# The microvm guest agent's part: sourced by init.sh (in the initramfs as /lib/agent/devices.sh).
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
