"""A VM's files (its folder in the backend's state, its sockets) and QEMU's command line.

QEMU boots the guest kernel and the agent's initramfs on ``-M microvm`` under TCG (KVM where it
works), with the VM's root disk and three virtio-serial ports, each a unix socket QEMU listens
on (``ctl``, ``stdout``, ``stderr``), and QMP for what is plugged in later (``monitor``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reference_shim.backends.microvm.launch import MEMORY_MIB
from reference_shim.backends.recorded_output import RecordedFiles


def kvm_works() -> bool:
    """Whether to ask for KVM. /dev/kvm exists on this project's machines, yet a KVM guest
    does not boot there (nested virtualisation): CRI_MICROVM_ACCEL=kvm opts in."""
    return os.environ.get("CRI_MICROVM_ACCEL") == "kvm" and os.path.exists("/dev/kvm")


@dataclass(frozen=True)
class VmFiles(RecordedFiles):
    """What one VM keeps in its folder of the backend's state, and its sockets' folder."""

    @property
    def sockets(self) -> Path:
        """A short folder for the VM's sockets: a unix socket's path holds 107 bytes at most,
        and the state folder can be deep."""
        return Path(tempfile.gettempdir()) / f"cri-microvm-{self.folder.name[:16]}"

    @property
    def ctl(self) -> Path:
        return self.sockets / "ctl.sock"

    @property
    def out(self) -> Path:
        return self.sockets / "stdout.sock"

    @property
    def err(self) -> Path:
        return self.sockets / "stderr.sock"

    @property
    def stdin(self) -> Path:
        return self.sockets / "stdin.sock"

    @property
    def qmp(self) -> Path:
        """QEMU's monitor, which hot-plugs the ports of streaming sessions (``monitor``)."""
        return self.sockets / "qmp.sock"

    @property
    def disk(self) -> Path:
        return self.folder / "root.ext4"

    @property
    def console(self) -> Path:
        return self.folder / "console.log"

    @property
    def spec(self) -> Path:
        return self.folder / "spec.json"

    @property
    def pid(self) -> Path:
        return self.folder / "qemu.pid"

    @property
    def reported(self) -> Path:
        """The exit the agent reported, kept before it may power off (``exit.json`` is written
        once QEMU has ended)."""
        return self.folder / "reported.json"


def host_tsc_khz() -> int:
    """The host's TSC rate, which a TCG guest's TSC runs at (QEMU reads the host's TSC)."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return int(float(line.split(":")[1]) * 1000)
    return 0


def kernel_arguments() -> str:
    """``tsc_early_khz``: microvm has no HPET or PM timer, so the guest calibrates its TSC against
    the PIT alone, and on a loaded host under TCG that fails ("Unable to calibrate against PIT")
    and boot stalls. The TSC's rate is known: the host's."""
    arguments = ["console=ttyS0", "panic=-1"]
    khz = host_tsc_khz()
    if khz and not kvm_works():
        arguments.append(f"tsc_early_khz={khz}")
    if os.environ.get("CRI_MICROVM_TRACE") == "1":
        arguments.append("microvm.trace")
    return " ".join(arguments)


def qemu_command(
    files: VmFiles,
    kernel: Path,
    initramfs: Path,
    devices: Iterable[str] = (),
    stdin: bool = False,
    memory_mib: int = MEMORY_MIB,
    cpus: int = 1,
) -> list[str]:
    """QEMU's command line; ``devices`` adds arguments (the virtiofs share's, ``shares``),
    ``stdin`` a port for the workload's standard input; the VM's size (``limits``)."""
    command = [
        "qemu-system-x86_64", "-M", "microvm,pit=on,pic=on,rtc=on",
        "-accel", "kvm" if kvm_works() else "tcg", "-m", str(memory_mib), "-smp", str(cpus),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-pidfile", str(files.pid),
        "-kernel", str(kernel), "-initrd", str(initramfs),
        "-append", kernel_arguments(), "-serial", f"file:{files.console}",
        "-device", "virtio-serial-device", "-qmp", f"unix:{files.qmp},server=on,wait=off",
    ]  # fmt: skip
    if files.disk.exists():  # a shared pod VM has none: its containers' disks are plugged later
        command += ["-drive", f"id=root,file={files.disk},format=raw,if=none",
                    "-device", "virtio-blk-device,drive=root"]  # fmt: skip
    ports = [("ctl", files.ctl), ("stdout", files.out), ("stderr", files.err)]
    for name, path in ports + ([("stdin", files.stdin)] if stdin else []):
        command += [
            "-chardev", f"socket,id={name},path={path},server=on,wait=off",
            "-device", f"virtserialport,chardev={name},name={name}",
        ]  # fmt: skip
    return command + list(devices)
