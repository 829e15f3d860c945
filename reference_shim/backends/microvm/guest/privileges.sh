# The microvm guest agent's part: sourced by init.sh (in the initramfs as /lib/agent/privileges.sh).
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
# -- seccomp (seccomp_filter.py): the filter the host compiled, which the launcher installs ----
# in every process it starts (the workload, its execs and sessions) just before their exec.
# /run is the guest's, outside the container's root: the workload never sees the files.
seccomp_filter() {  # seccomp_filter FLAGS B64: seccomp(2)'s flags and the BPF program
    echo "$1" > /run/seccomp.flags && decode "$2" > /run/seccomp.bpf \
        || fail "cannot store the seccomp filter"
}
