"""The shim's streaming server: the URLs Exec, Attach and PortForward return, served over
SPDY/3.1 and WebSocket on loopback with single-use expiring tokens (see ``server``)."""
