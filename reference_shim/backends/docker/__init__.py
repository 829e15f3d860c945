"""The Docker backend: a VM is a Docker container on the shim's own Docker network."""
