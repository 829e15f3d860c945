"""The gRPC adapter: ``runtime.v1.RuntimeService`` and ``runtime.v1.ImageService`` on the wire.

A servicer method takes a request, calls the CRI layer (``reference_shim.cri``) and returns its
response; ``statuses`` turns the CRI layer's errors into gRPC statuses and ``undecodable``
answers requests that do not decode. Nothing here decides what an RPC means, so the CRI layer
can be driven and tested without gRPC, and nothing below this package imports it.
"""
