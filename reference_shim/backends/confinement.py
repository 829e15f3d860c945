"""Seccomp and AppArmor on backends that apply neither (Apple's CLI, the microvm guest): what is
accepted, what is refused, decided once for all of them.

CRI's seccomp default is unconfined (api.proto), so ``"unconfined"`` is what a container gets
unless it asks. RuntimeDefault (``""`` in ``SecuritySpec``) asks for the runtime's default
filter: a runtime that installs no filter cannot claim to have one, so it is refused, as a
Localhost profile is. AppArmor's ``""`` means both "nothing asked" and RuntimeDefault (the CRI
layer cannot tell them apart); a Linux runtime on a host without AppArmor runs such a workload
unconfined, and a workload where no AppArmor profile is loaded is in that case, so only a named
profile is refused.
"""

from __future__ import annotations

from reference_shim.backends.base import SecuritySpec
from reference_shim.errors import Unimplemented

_FIELD = "linux.security_context"


def refuse_profiles(security: SecuritySpec, why: str) -> None:
    """Refuse a seccomp filter or an AppArmor profile; ``why`` says why the backend has none."""
    if security.seccomp != "unconfined":
        raise Unimplemented(
            f"{_FIELD}.seccomp: seccomp profiles (RuntimeDefault and Localhost) are not "
            f"supported: {why}; containers run unconfined"
        )
    if security.apparmor not in {"", "unconfined"}:
        raise Unimplemented(
            f"{_FIELD}.apparmor: AppArmor profile {security.apparmor!r} is not supported: {why}"
        )
