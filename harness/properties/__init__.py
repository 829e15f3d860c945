"""Properties of pod specs that every CRI runtime must keep; see ``registry``."""

from harness.properties import invalid, valid
from harness.properties.registry import PROPERTIES, Property, UnknownProperty, lookup

__all__ = ["PROPERTIES", "Property", "UnknownProperty", "invalid", "lookup", "valid"]
