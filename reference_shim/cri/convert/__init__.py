"""Conversions between CRI messages and the shim's other vocabularies, one module per direction.

``vm_specs``: CRI configs in, the ``VmSpec`` a backend realises out (what each field means,
decided once for every backend). ``messages``: records in, the CRI messages that list and
status calls return.
"""
