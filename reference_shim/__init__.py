"""The reference CRI shim: Apple Container's one-VM-per-container model, behind CRI v1.

Its layers, each importing only the ones below it (a ``ruff.toml`` in each folder refuses the
rest), so that a change to the wire, to a CRI rule or to the stored state stays in one place:

- ``grpc_api``: the gRPC adapter, servicers that turn requests into calls and errors into
  statuses;
- ``cri``: CRI semantics, one module per RPC family with its checks and conversions;
- ``state``: the records the CRI layer keeps, in memory and in SQLite;
- below them, ``strategies`` (where a pod's containers run), ``streaming`` (the server behind
  the streaming URLs) and ``backends`` (the VMs).

At the top level: how the shim starts (``__main__``, ``config``, ``launcher``, ``extra``), its
wiring (``server``), and what every layer shares (``errors``, ``timestamps``, ``log_format``).
"""

__version__ = "0.1.0"
