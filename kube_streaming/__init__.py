"""The Kubernetes streaming wire protocols, with neither end attached.

What the kubelet's streaming server and its clients (kubectl, client-go, crictl) agree on:
the remotecommand and portforward subprotocols and the exit status they carry
(``remotecommand``), SPDY/3.1 frames, header compression, flow control and sessions
(``spdy``), the HTTP/1.1 upgrade (``upgrade``), port forwarding's WebSocket channels
(``portforward``), and the errors a session can end with.

The harness's streaming clients (``harness.streaming``) and the reference shim's streaming
server (``reference_shim.streaming``) both build on this package; it imports neither, so the
shim never depends on the harness (``tests/unit/test_import_graph.py`` keeps it so). Because
both ends share this code, a framing bug here would agree with itself: the shim's server is
therefore also checked against transcripts recorded from containerd and against the
``kubernetes`` client's own WebSocket implementation
(``tests/unit/shim_streaming/test_transcript_replay.py``, ``test_kubernetes_client.py``).
"""
