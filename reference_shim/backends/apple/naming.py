"""Apple container ids, the hostnames they give, and labels the CLI can carry.

Apple's CLI has no hostname flag: the guest hostname is the first DNS label of the container
id. So an id is ``<hostname>.<12 hex of the CRI object id>``: the first label is the pod's
hostname, the rest keeps ids unique (ids must be unique, and so must their network hostnames).
Ids are at most 63 characters of ``[a-zA-Z0-9_.-]``, starting with a letter or digit.
"""

from __future__ import annotations

import base64
import re

from reference_shim.errors import Unimplemented

MAX_ID = 63
_SUFFIX = 1 + 12  # ".<12 hex>"
MAX_HOSTNAME = MAX_ID - _SUFFIX
_HOSTNAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*$")
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_./:-]*$")
_ENCODED = "b64:"


def check_hostname(hostname: str) -> None:
    """Refuse a hostname no Apple container id can give its guest."""
    if "." in hostname:
        raise Unimplemented(
            f"hostname {hostname!r} has dots: Apple's container CLI has no hostname flag, the "
            "guest hostname is the first DNS label of the container id, so only single-label "
            "hostnames can be honoured"
        )
    if len(hostname) > MAX_HOSTNAME:
        raise Unimplemented(
            f"hostname {hostname!r} is longer than {MAX_HOSTNAME} characters: the guest "
            f"hostname is the first label of an Apple container id (at most {MAX_ID} "
            f"characters), which also needs {_SUFFIX} characters to stay unique"
        )
    if not _HOSTNAME.match(hostname):
        raise Unimplemented(
            f"hostname {hostname!r} cannot start an Apple container id "
            "(letters, digits and '-', starting with a letter or digit)"
        )


def vm_id(hostname: str, object_id: str) -> str:
    """The id of the Apple container whose guest hostname is ``hostname``."""
    check_hostname(hostname)
    return f"{hostname}.{object_id[:12]}"


def encode_label(value: str) -> str:
    """A label value the CLI accepts: it refuses values with ``=`` (and the shim never relies
    on any character but the plain ones), so other values travel as unpadded base64url."""
    if _PLAIN_VALUE.match(value) and not value.startswith(_ENCODED):
        return value
    return _ENCODED + base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_label(value: str) -> str:
    if not value.startswith(_ENCODED):
        return value
    data = value.removeprefix(_ENCODED)
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()


def label_args(labels: dict[str, str]) -> list[str]:
    args = []
    for key, value in sorted(labels.items()):
        if "=" in key or not key:
            raise Unimplemented(f"label key {key!r} cannot be given to Apple's container CLI")
        args += ["--label", f"{key}={encode_label(value)}"]
    return args


def decode_labels(labels: dict[str, str]) -> dict[str, str]:
    return {key: decode_label(value) for key, value in labels.items()}
