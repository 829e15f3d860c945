"""SPDY/3.1, written by hand (no maintained Python library exists): frames, header
compression, flow control and sessions, for both ends of a connection."""
