"""The reference CRI shim: Apple Container's one-VM-per-container model, behind CRI v1."""

__version__ = "0.1.0"
