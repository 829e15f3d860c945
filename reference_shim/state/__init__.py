"""What the shim knows and keeps: records, object ids, the in-memory registry, the SQLite store.

No CRI rule and no backend lives here: the CRI layer (``reference_shim.cri``) decides what a
record holds and when it changes, and this package only keeps it, across restarts too (even
after SIGKILL). It imports neither the CRI layer nor the gRPC adapter.
"""
