"""Enum fields must hold a value their enum defines.

proto3 enums are open: a request decodes with any number in an enum field, and the shim would
then look up a name or a mapping that does not exist (a ValueError, answered INTERNAL) or, worse,
fall back to a default without a word. Every request is checked once, before it is handled, and
a number the API does not define is INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.message import Message

from reference_shim.errors import InvalidArgument


def _check(enum: EnumDescriptor, value: int, path: str) -> None:
    if enum.values_by_number.get(value) is None:
        raise InvalidArgument(f"{path} {value} is not a value of {enum.full_name}")


def require_known_enums(message: Message, prefix: str = "") -> None:
    """Raise INVALID_ARGUMENT for the first enum field (at any depth) with an undefined value."""
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            entry_value = entry.fields_by_name["value"]
            for key, item in value.items():
                if entry_value.message_type is not None:
                    require_known_enums(item, f"{path}[{key!r}].")
                elif entry_value.enum_type is not None:
                    _check(entry_value.enum_type, item, f"{path}[{key!r}]")
            continue
        items = value if field.is_repeated else [value]
        for index, item in enumerate(items):
            where = f"{path}[{index}]" if field.is_repeated else path
            if field.enum_type is not None:
                _check(field.enum_type, item, where)
            elif field.message_type is not None:
                require_known_enums(item, f"{where}.")
