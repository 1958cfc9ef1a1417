"""Which QEMU binary to run: the slim microvm-only build where it can work.

Debian's qemu-system-x86 also ships qemu-system-x86_64-microvm, built for
microvm (and q35) only: 10 shared libraries instead of 51, half the peak RSS
for `-version` (13.8 against 26.7 MiB here). It has no TCG, so it is only
chosen for `--machine microvm` under KVM. `--qemu PATH` overrides the choice
for any machine.
"""

import os
import shutil
from dataclasses import dataclass

from minibios.errors import InputError
from minibios.vm.spec import DEFAULT_QEMU

MICROVM_QEMU = "qemu-system-x86_64-microvm"


class QemuBinaryError(InputError):
    """The QEMU binary asked for (or needed) is not there."""


@dataclass(frozen=True)
class QemuChoice:
    path: str
    why: str

    def describe(self) -> str:
        return f"QEMU {self.path} ({self.why})"


def choose_qemu(
    machine: str, accel: str, override: str | None = None, search_path: str | None = None
) -> QemuChoice:
    """The binary to run for `machine` under the already-chosen `accel`.

    `search_path` replaces $PATH (tests point it at fake binaries).
    """
    if override is not None:
        found = shutil.which(os.path.expanduser(override), path=search_path)
        if found is None:
            raise QemuBinaryError(f"QEMU not found: {override} (--qemu) is not an executable")
        return QemuChoice(found, "given with --qemu")
    default = shutil.which(DEFAULT_QEMU, path=search_path)
    slim = shutil.which(MICROVM_QEMU, path=search_path)
    if machine == "microvm" and accel == "kvm" and slim is not None:
        return QemuChoice(slim, "the microvm-only build: fewer libraries, less memory")
    if default is None:
        # preflight says so, after the user's own input is checked: a wrong --kernel is
        # worth hearing about first, and building a spec needs no QEMU.
        return QemuChoice(DEFAULT_QEMU, "not installed")
    if machine != "microvm":
        why = "the full build"
    elif slim is None:
        why = f"the full build: no {MICROVM_QEMU} installed"
    else:
        why = f"the full build: {MICROVM_QEMU} has no TCG and KVM is not in use"
    return QemuChoice(default, why)
