# The microvm guest agent's part: sourced by init.sh (in the initramfs as /lib/agent/streaming.sh).
# -- Streaming: exec sessions, and the workload's terminal and stdin (README, "Streaming") -----
# A session's ports (ID-in, ID-out, ID-err) are hot-plugged by the host before it sends SESSION.
# The first byte on an in port is the host's, sent once it connected: reading it proves the host
# is connected (before that, the port reads as end of input). Output goes through `relay`, which
# counts it: SESSIONEND says how many bytes each port carried, so the host knows it has them all.

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
