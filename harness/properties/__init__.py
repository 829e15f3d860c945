"""Property testing: generated pod specs, and the properties every CRI runtime must keep.

The pieces, in the order a run meets them:

- ``plugin`` (the ``cri_conformance_properties`` pytest plugin) and ``hypothesis_profiles``:
  how many examples a run draws, from which seed;
- ``specs`` (with ``security_specs``) and ``invalid_specs``: hypothesis strategies for valid
  specs, and for valid specs with one thing wrong;
- ``registry``, ``valid`` and ``invalid``: the properties, by name;
- ``runner`` and ``lab``: one property on one example, its objects removed before the next;
- ``spec_files`` and ``replay``: a failing example saved as a file, and run again from it
  (``cri-conformance replay``).
"""

from harness.properties import invalid, valid
from harness.properties.registry import PROPERTIES, Property, UnknownProperty, lookup

__all__ = ["PROPERTIES", "Property", "UnknownProperty", "invalid", "lookup", "valid"]
