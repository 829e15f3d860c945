# Sourced by scripts/services: the config.toml of each containerd it runs. Every containerd gets its
# own root, state, sockets and streaming server (port 0: a free port of its own), the shared CNI
# config, the local registry over plain HTTP, the pause image from it, and two runtime handlers:
# runc (the default) and crun (Debian 12's package), both through containerd's runc shim.
#
# restrict_oom_score_adj, in every config: this machine lacks CAP_SYS_RESOURCE, so the OCI runtime
# cannot lower the pause container's oom_score_adj and every RunPodSandbox would fail without it.
# Needs REPO, STATE, PAUSE_IMAGE, REGISTRY_ADDRESS and CRUN (the crun binary) from the caller, and
# the release's ctr first on PATH.

# containerd_config_v2 NAME REGISTRY: a version 2 config (containerd 1.6 and 1.7); REGISTRY is
# `mirrors` (1.6's way, kept as it is) or `hosts` (config_path and hosts.toml, 1.7's way).
containerd_config_v2() {
    local name=$1 registry=$2 dir="$STATE/$1" cri='plugins."io.containerd.grpc.v1.cri"'
    cat <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  address = "$dir/debug.sock"

[$cri]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

$(runtime_handlers "$cri" '"' "$name")

[$cri.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "$STATE/cni/net.d"
EOF
    if [[ $registry == mirrors ]]; then
        printf '\n[%s.registry.mirrors."%s"]\n  endpoint = ["http://%s"]\n' \
            "$cri" "$REGISTRY_ADDRESS" "$REGISTRY_ADDRESS"
    else
        printf '\n[%s.registry]\n  config_path = "%s"\n' "$cri" "$(registry_hosts)"
        own_plugin_paths '"' "$dir"
    fi
}

# containerd_config_v3 NAME: a version 3 config (containerd 2.x): the CRI plugin is split into
# runtime and images plugins; streaming stays under io.containerd.grpc.v1.cri.
containerd_config_v3() {
    local name=$1 dir="$STATE/$1" runtime="plugins.'io.containerd.cri.v1.runtime'"
    local images="plugins.'io.containerd.cri.v1.images'"
    cat <<EOF
version = 3
root = '$dir/root'
state = '$dir/state'

[grpc]
  address = '$dir/containerd.sock'

[ttrpc]
  address = '$dir/containerd.sock.ttrpc'

[debug]
  address = '$dir/debug.sock'

[$runtime]
  restrict_oom_score_adj = true
  enable_selinux = false

$(runtime_handlers "$runtime" "'" "$name")

[$runtime.cni]
  bin_dirs = ['/usr/lib/cni']
  conf_dir = '$STATE/cni/net.d'

[$images.pinned_images]
  sandbox = '$PAUSE_IMAGE'

[$images.registry]
  config_path = '$(registry_hosts)'

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'

[plugins.'io.containerd.nri.v1.nri']
  socket_path = '$dir/nri.sock'
EOF
    own_plugin_paths "'" "$dir"
}

# runtime_handlers SECTION QUOTE NAME: the handlers under the CRI runtime SECTION of containerd
# NAME, TOML strings in QUOTE: runc (the default) and crun.
runtime_handlers() {
    local runtimes="$1.containerd.runtimes" q=$2
    cat <<EOF
[$1.containerd]
  default_runtime_name = ${q}runc${q}

[$runtimes.runc]
  runtime_type = ${q}io.containerd.runc.v2${q}

[$runtimes.crun]
  runtime_type = ${q}io.containerd.runc.v2${q}

[$runtimes.crun.options]
  BinaryName = ${q}$(crun_binary "$3")${q}
EOF
}

# crun_binary NAME: the crun that containerd NAME runs: Debian 12's own, or, where containerd
# writes runtime-spec 1.2 or later (`ctr oci spec` of the release on PATH), Debian 12's crun
# behind scripts/lib/crun-spec-1.1 (which see), copied into NAME's folder.
crun_binary() {
    local wrapper="$STATE/$1/crun-spec-1.1" spec
    spec=$(ctr oci spec)
    if grep -q '^    "ociVersion": "1\.[0-1]\.' <<<"$spec"; then
        rm -f "$wrapper"
        echo "$CRUN"
    else
        install -m 755 "$REPO/scripts/lib/crun-spec-1.1" "$wrapper"
        echo "$wrapper"
    fi
}

# own_plugin_paths QUOTE DIR: the opt plugin's folder (stock: /opt/containerd) under DIR, so a
# newer containerd writes nothing outside the services folder.
own_plugin_paths() {
    printf '\n[plugins.%sio.containerd.internal.v1.opt%s]\n  path = %s%s/opt%s\n' "$1" "$1" "$1" "$2" "$1"
}

# registry_hosts: the config_path folder (one hosts.toml per registry host), written on first use:
# the local registry, reached over plain HTTP.
registry_hosts() {
    local hosts="$STATE/registry/hosts.d"
    mkdir -p "$hosts/$REGISTRY_ADDRESS"
    cat > "$hosts/$REGISTRY_ADDRESS/hosts.toml" <<EOF
server = "http://$REGISTRY_ADDRESS"

[host."http://$REGISTRY_ADDRESS"]
  capabilities = ["pull", "resolve"]
EOF
    echo "$hosts"
}
