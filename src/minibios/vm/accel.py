"""Choose QEMU's accelerator, in this one place: KVM only where it can really run a guest."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from minibios.errors import InputError
from minibios.vm.spec import Accel

ACCEL_CHOICES = ("auto", "kvm", "tcg")
log = logging.getLogger(__name__)


class AccelError(InputError):
    """KVM was requested but this host cannot provide it."""


@dataclass(frozen=True)
class AccelProbe:
    """Where to look; tests point these at fakes."""

    kvm_device: Path = Path("/dev/kvm")
    cpuinfo: Path = Path("/proc/cpuinfo")

    def kvm_unusable_reason(self) -> str | None:
        """None if KVM looks usable, else why not.

        An openable /dev/kvm is not enough: some paravirtual hosts expose one
        without hardware virtualisation (no vmx/svm flag), and it cannot boot
        a stock kernel.
        """
        try:
            fd = os.open(self.kvm_device, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            return f"cannot open {self.kvm_device} read-write ({exc.strerror})"
        os.close(fd)
        try:
            text = self.cpuinfo.read_text()
        except OSError as exc:
            return f"cannot read {self.cpuinfo} ({exc.strerror})"
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "flags" and {"vmx", "svm"} & set(value.split()):
                return None
        return f"no vmx or svm CPU flag in {self.cpuinfo} (no hardware virtualisation)"


def choose_accel(requested: str, probe: AccelProbe | None = None) -> Accel:
    """Resolve auto/kvm/tcg to the accelerator to pass to QEMU."""
    if requested not in ACCEL_CHOICES:
        raise AccelError(f"unknown accelerator {requested!r} (choose from auto, kvm, tcg)")
    if requested == Accel.TCG:
        return Accel.TCG
    reason = (probe or AccelProbe()).kvm_unusable_reason()
    if reason is None:
        return Accel.KVM
    if requested == Accel.KVM:
        raise AccelError(f"KVM requested but not usable here: {reason}")
    log.debug("KVM not usable (%s): TCG", reason)
    return Accel.TCG
