"""The Apple backend: a VM is an Apple `container` (macOS), driven through its CLI's JSON output.

Apple's CLI has no pods, so a pod sandbox is modelled here (see ``pods``); the one workload
placed inside it gets a VM of its own that carries the pod's hostname, port mappings and
network, and lends the pod its IP. The facts this package relies on, and which of them were
only read from Apple's sources, are in docs/apple-backend.md.
"""
