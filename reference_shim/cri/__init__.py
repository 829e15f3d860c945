"""CRI semantics, independent of the VM backend and of gRPC.

One module per RPC family (``runtime_info``, ``pods``, ``containers``, ``streaming_urls``,
``images``, ``stats``, ``metrics``); the log pumps and host ports they keep running; ``sync``
and ``recovery``, which keep records true to the backend; and their helpers: request checks
(``validation``, ``unhonoured``, ``enums``, ``log_paths``), list ``filters``, the
``state_machine``, and ``convert`` (CRI configs to VM specs, records to CRI messages).

Like containerd's CRI plugin, this layer alone knows the CRI's rules. The engine behind it is a
``VmBackend``; the records it keeps live in ``reference_shim.state``; the gRPC adapter
(``reference_shim.grpc_api``) calls it, never the other way round.
"""
