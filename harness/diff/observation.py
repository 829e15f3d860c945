"""What one runtime showed for one spec: the observation, and its fields by path.

An observation is what a kubelet and a workload could see of one pod: whether each step was
accepted (or the gRPC code of its refusal), the status messages, what each container sees
from inside, its log, and how it ended when stopped. It is kept as a typed record while it is
collected, and compared as *fields*: a flat map from a path to a JSON value, e.g.
``steps.RunPodSandbox``, ``pod.status.network.ip``, ``container.0.inside.env``,
``container.1.stopped.exit_code``. The paths are fixed by this model, never by generated data
(a map such as ``env`` or ``labels`` is one field), so the same path means the same thing in
every example and a difference has a stable name: its path with the container's number
replaced by ``*`` (``signature``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

Value = Any  # a JSON value: None, bool, int, float, str, list or dict of them
Fields = dict[str, Value]

ACCEPTED = "OK"
CONTAINER_PATH = re.compile(r"^container\.\d+\.")


@dataclass
class ContainerObservation:
    """One container: its steps, its status, what it sees, its log, how it stopped."""

    steps: dict[str, str] = field(default_factory=dict)
    status: Fields = field(default_factory=dict)
    inside: Fields = field(default_factory=dict)
    logs: Fields = field(default_factory=dict)
    stopped: Fields = field(default_factory=dict)


@dataclass
class Observation:
    """One pod on one runtime, as collected (before normalisation).

    ``placeholders`` maps the values this instance of the spec was given or handed back (ids,
    names, uid, pod IP, host paths) to the stable names normalisation puts in their place.
    """

    steps: dict[str, str] = field(default_factory=dict)
    pod: Fields = field(default_factory=dict)
    containers: list[ContainerObservation] = field(default_factory=list)
    placeholders: dict[str, str] = field(default_factory=dict)

    def fields(self) -> Fields:
        """Every observed value by its path."""
        found: Fields = {f"steps.{step}": code for step, code in self.steps.items()}
        found.update(_prefixed("pod.status", self.pod))
        for number, container in enumerate(self.containers):
            prefix = f"container.{number}"
            found.update(_prefixed(f"{prefix}.steps", container.steps))
            for part in ("status", "inside", "logs", "stopped"):
                found.update(_prefixed(f"{prefix}.{part}", getattr(container, part)))
        return found

    def to_json(self) -> dict[str, Value]:
        return {"fields": self.fields(), "placeholders": dict(self.placeholders)}


def _prefixed(prefix: str, values: Fields) -> Fields:
    return {f"{prefix}.{key}": value for key, value in values.items()}


def signature(path: str) -> str:
    """The path with the container's number made ``*``: the name of a difference."""
    return CONTAINER_PATH.sub("container.*.", path)


def message_fields(message: Message) -> Fields:
    """A status message as fields: one per scalar, map or list, nested messages flattened
    (``network.ip``). Fields the runtime left unset are absent, as in protobuf's JSON."""
    found: Fields = {}
    as_json = json_format.MessageToDict(message, preserving_proto_field_name=True)
    _flatten(message, as_json, "", found)
    return found


def _flatten(message: Message, as_json: dict[str, Value], prefix: str, found: Fields) -> None:
    for descriptor in message.DESCRIPTOR.fields:
        name = descriptor.name
        if name not in as_json:
            continue
        # A map is a dict in JSON too, and a well-known wrapper (Int64Value) is a value.
        nested = (
            descriptor.type == FieldDescriptor.TYPE_MESSAGE
            and not descriptor.is_repeated
            and isinstance(as_json[name], dict)
        )
        if nested:
            _flatten(getattr(message, name), as_json[name], f"{prefix}{name}.", found)
        else:
            found[f"{prefix}{name}"] = as_json[name]
