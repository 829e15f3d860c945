"""Hypothesis strategies for any protobuf message, built from its descriptor.

Every field may be set or left out; scalars lean to the edges a server gets wrong (the ends of
their range, 0 and ±1, 2^31-1, 2^63-1), enums take unknown numbers too, strings are text, path
shapes or very long, and nested messages, lists and maps are filled the same way. A caller may
replace the values of chosen fields (``overrides``, by full field name, or by bare name for
every single string field of that name) to keep
a request safe to run or to aim it at real objects; an override gives the whole field's value
(a list for a repeated field, a dict for a map).

Written here rather than taken from a library: hypothesis-pb (last release 2019) reaches into
protobuf internals, makes valid values only (no unknown enums, edge integers or hostile
strings), and predates the protobuf 6 runtime this project pins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

Overrides = Mapping[str, SearchStrategy[Any]]

_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_EDGES = (
    0,
    1,
    -1,
    2,
    1000,
    65535,
    65536,
    2**31 - 1,
    2**32 - 1,
    2**53,
    2**63 - 1,
    7075066989706836652,
)

# Strings a server might take for a path, a name or a command, and mishandle.
PATH_SHAPES = (
    "",
    "/",
    ".",
    "..",
    "../../../../tmp/x/escape.log",
    "a/../../b",
    "//double//slash",
    "/etc/passwd",
    "/proc/self/root",
    "/dev/zero",
    "~root",
    "-rf",
    "a\0b",
    "\0",
    "$(id)",
    "%s%n",
    "é/ü/中",
    " ",
    "\n",
)
LONG_SIZES = (300, 5000, 70_000, 1_000_000)
_LONG_ONE_IN = 12  # a long string is rare: a request of several is too big to send at all


def integers_in(low: int, high: int) -> SearchStrategy[int]:
    edges = sorted({value for value in (low, high, high - 1, *_EDGES) if low <= value <= high})
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def hostile_text() -> SearchStrategy[str]:
    """Short text, path shapes and NULs, and now and then a very long string."""
    long = st.sampled_from(LONG_SIZES).map(lambda size: "x" * size)
    short = st.one_of(st.text(max_size=30), st.sampled_from(PATH_SHAPES))
    return st.integers(1, _LONG_ONE_IN).flatmap(lambda n: long if n == 1 else short)


def _scalar(field: FieldDescriptor) -> SearchStrategy[Any]:
    kind = field.type
    if kind in _RANGES:
        return integers_in(*_RANGES[kind])
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if kind == FieldDescriptor.TYPE_STRING:
        return hostile_text()
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_ENUM:
        assert field.enum_type is not None  # set on every enum field
        known = [value.number for value in field.enum_type.values]
        return st.one_of(st.sampled_from(known), integers_in(-(2**31), 2**31 - 1))
    raise TypeError(f"no strategy for field {field.full_name} of type {kind}")


def _single_string(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_STRING and not field.is_repeated


class MessageStrategies:
    """Strategies for the messages of one API, sharing the caller's ``overrides``."""

    def __init__(self, overrides: Overrides, max_items: int = 3, sparse: bool = False) -> None:
        """``sparse``: each message sets at most two of its fields, so that a message is a
        small change when merged into a valid one."""
        self._overrides = overrides
        self._max_items = max_items
        self._sparse = sparse
        self._made: dict[str, SearchStrategy[Message]] = {}

    def message(self, descriptor: Descriptor) -> SearchStrategy[Message]:
        name = descriptor.full_name
        if name not in self._made:
            self._made[name] = st.deferred(lambda: self._build(descriptor))
        return self._made[name]

    def _value(self, field: FieldDescriptor) -> SearchStrategy[Any]:
        """One value of the field (one element of a list)."""
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            assert field.message_type is not None  # set on every message field
            return self.message(field.message_type)
        return _scalar(field)

    def _field(self, field: FieldDescriptor) -> SearchStrategy[Any]:
        """The whole field: a value, a list of values, or a map."""
        if field.full_name in self._overrides:
            return self._overrides[field.full_name]
        if field.name in self._overrides and _single_string(field):
            return self._overrides[field.name]
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
            return st.dictionaries(self._value(key), self._value(value), max_size=self._max_items)
        if field.is_repeated:
            return st.lists(self._value(field), max_size=self._max_items)
        return self._value(field)

    def _build(self, descriptor: Descriptor) -> SearchStrategy[Message]:
        fields = {field.name: self._field(field) for field in descriptor.fields}
        cls = GetMessageClass(descriptor)
        if self._sparse and fields:
            chosen = st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)
            values = chosen.flatmap(lambda names: st.fixed_dictionaries(
                {name: fields[name] for name in names}
            ))  # fmt: skip
        else:
            values = st.fixed_dictionaries({}, optional=fields)
        return values.map(lambda drawn: _fill(cls(), drawn))


def mutations(
    base: SearchStrategy[Message], changes: SearchStrategy[Message]
) -> SearchStrategy[Message]:
    """A valid message with a few fields changed (``changes``: a sparse ``MessageStrategies``)."""

    def merged(pair: tuple[Message, Message]) -> Message:
        message, change = pair
        message.MergeFrom(change)
        return message

    return st.tuples(base, changes).map(merged)


def _fill(message: Message, values: dict[str, Any]) -> Message:
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if isinstance(item, Message):
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif field.is_repeated:
            target.extend(value)
        elif isinstance(value, Message):
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message
