"""One VM, described once: the CLI builds a VmSpec, preflight checks it, Machine runs it,
the bench records it. argv() is the one way from a spec to a QEMU command line."""

from __future__ import annotations

import enum
import shlex
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from minibios.errors import InputError
from minibios.firmware.choice import BOOT_PROTOCOLS, Firmware, FirmwareKind
from minibios.sizes import MIB
from minibios.vm.tsc import TSC_OPTION, tsc_hint_khz

# seccomp: no obsolete syscalls, no privilege changes, no scheduler/affinity games.
# Spawning stays allowed: migration to "exec:" (used to save a VM) needs it.
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,resourcecontrol=deny"
# minibios reads the Linux entry to use from this fw_cfg file.
BOOT_PROTOCOL_FILE = "opt/minibios/boot-protocol"
# As in QEMU: without ACPI a kernel lacking MP-table support (Debian's cloud
# kernel) sees one CPU whatever -smp says, and can halt but not power off.
DEFAULT_MICROVM_ACPI = True
DEFAULT_QEMU = "qemu-system-x86_64"
DEFAULT_MEMORY = 512 * MIB
# The TCG translation cache (MiB). QEMU's default reserves 1 GiB and a Debian
# kernel's boot fills ~42 MiB of it, never flushed; 24 MiB costs two flushes
# and no measurable boot time, 16 MiB is 5-14 % slower (README: Memory per VM).
DEFAULT_TCG_TB_SIZE: int | None = 24
# Take QEMU's mapping of an ELF -kernel out of its RSS once loaded (vm/page_out.py):
# ~33 MiB of the cloud kernel's peak, the same boot (README: Memory per VM).
DEFAULT_KERNEL_PAGE_OUT = True


class MachineType(enum.StrEnum):
    PC = "pc"
    Q35 = "q35"
    MICROVM = "microvm"


class Accel(enum.StrEnum):
    """The accelerator QEMU runs the guest with (vm.accel.choose_accel picks it)."""

    TCG = "tcg"
    KVM = "kvm"


MACHINE_TYPES = tuple(m.value for m in MachineType)
E = TypeVar("E", bound=enum.StrEnum)


class SpecError(InputError):
    """The requested VM cannot be expressed as a QEMU command line."""


def _enum_member(kind: type[E], value: str, what: str) -> E:
    try:
        return kind(value)
    except ValueError as exc:
        choices = ", ".join(m.value for m in kind)
        raise SpecError(f"unknown {what} {value!r} (choose from {choices})") from exc


@dataclass(frozen=True)
class VmSpec:
    """Everything QEMU is started with, resolved: paths, bytes, the accelerator.

    The QMP socket is the one thing it lacks; it comes per run (argv's argument).
    Strings are accepted for machine and accel and turned into their enums.
    """

    machine: MachineType = MachineType.PC
    cpus: int = 1
    memory: int = DEFAULT_MEMORY  # bytes, a whole number of MiB
    accel: Accel = Accel.TCG
    firmware: Firmware | None = None  # None: QEMU's own (SeaBIOS)
    kernel: Path | None = None
    initrd: Path | None = None
    append: str | None = None
    microvm_acpi: bool = DEFAULT_MICROVM_ACPI
    boot_protocol: int | None = None  # minibios only: 16, 32 or 64; None = its default
    tsc_khz: int | None = None  # told to the kernel (tsc_early_khz=): see with_tsc_hint
    qemu: str = DEFAULT_QEMU
    extra_args: tuple[str, ...] = ()
    # -- memory per VM (issue 13): TCG translation cache in MiB; None = QEMU's
    # default (1 GiB reserved, as much touched as the boot translates).
    tcg_tb_size: int | None = DEFAULT_TCG_TB_SIZE
    # Once QEMU has copied the kernel into guest RAM, page its file mapping out of
    # QEMU (not a QEMU option: the launcher does it; see vm/page_out.py). --
    kernel_page_out: bool = DEFAULT_KERNEL_PAGE_OUT

    def __post_init__(self) -> None:
        # Frozen: coerce through object.__setattr__, once, here.
        object.__setattr__(self, "machine", _enum_member(MachineType, self.machine, "machine type"))
        object.__setattr__(self, "accel", _enum_member(Accel, self.accel, "accelerator"))
        object.__setattr__(self, "extra_args", tuple(self.extra_args))
        if self.cpus < 1:
            raise SpecError(f"--cpus must be at least 1, not {self.cpus}")
        if self.boot_protocol is not None and self.boot_protocol not in BOOT_PROTOCOLS:
            raise SpecError(f"boot protocol must be 16, 32 or 64, not {self.boot_protocol}")
        if self.tcg_tb_size is not None and self.tcg_tb_size < 1:
            raise SpecError(f"TCG tb-size must be at least 1 MiB, not {self.tcg_tb_size}")
        if self.memory <= 0 or self.memory % MIB:
            raise SpecError(f"memory must be a positive whole number of MiB: {self.memory}")

    @property
    def firmware_kind(self) -> FirmwareKind | None:
        return self.firmware.kind if self.firmware is not None else None

    @property
    def firmware_name(self) -> str:
        """The firmware as the user named it ("qemu's default" without one)."""
        return self.firmware.name if self.firmware is not None else "qemu's default"

    @property
    def microvm_option_roms(self) -> bool:
        """QEMU's default firmware (SeaBIOS) and SeaBIOS need the option ROMs."""
        return self.firmware is None or self.firmware.needs_option_roms

    def with_tsc_hint(self) -> VmSpec:
        """This spec telling the kernel the host's TSC frequency where it cannot measure it."""
        return replace(self, tsc_khz=tsc_hint_khz(self.machine, self.accel, self.append))

    def pvh_blocker(self) -> str | None:
        """Why a PVH boot would fail with this firmware and machine, if it would."""
        seabios = self.firmware_kind is FirmwareKind.SEABIOS
        if seabios and self.machine is MachineType.MICROVM and self.microvm_acpi:
            # An interrupt reaches the kernel at vector 0 ("divide error") early in
            # most such boots; the bzImage path and --no-microvm-acpi boot fine.
            return "SeaBIOS's microvm build with ACPI crashes PVH kernels"
        return None

    def machine_arg(self) -> str:
        if self.machine is not MachineType.MICROVM:
            return self.machine.value
        # microvm's RTC defaults to "auto" (off under KVM); keep it on so the
        # guest sees the same devices whatever the accelerator.
        options = [
            "microvm",
            f"x-option-roms={'on' if self.microvm_option_roms else 'off'}",
            f"acpi={'on' if self.microvm_acpi else 'off'}",
            "rtc=on",
        ]
        return ",".join(options)

    def accel_arg(self) -> str:
        if self.accel is Accel.TCG and self.tcg_tb_size is not None:
            return f"tcg,tb-size={self.tcg_tb_size}"
        return self.accel.value

    def kernel_append(self) -> str | None:
        """The command line given, with the TSC frequency when there is one to tell."""
        if self.tsc_khz is None or self.kernel is None:
            return self.append
        told = f"{TSC_OPTION}{self.tsc_khz}"
        return f"{self.append} {told}" if self.append else told

    def argv(self, qmp_socket: Path) -> list[str]:
        """QEMU's command line for this VM, its QMP server on `qmp_socket`."""
        args = [
            self.qemu,
            "-nodefaults",
            "-no-user-config",
            "-display", "none",
            "-monitor", "none",
            "-no-reboot",
            "-sandbox", SANDBOX,
            "-M", self.machine_arg(),
            "-accel", self.accel_arg(),
            "-m", f"{self.memory // MIB}M",
            "-smp", str(self.cpus),
            # signal=off: a ^C reaching QEMU must not kill it behind our back.
            "-chardev", "stdio,id=con,signal=off",
            "-serial", "chardev:con",
            "-qmp", f"unix:{qmp_socket},server=on,wait=off",
        ]  # fmt: skip
        if self.accel is Accel.KVM:
            args += ["-cpu", "host"]
        if self.firmware is not None:
            args += ["-bios", str(self.firmware.path)]
        if self.kernel is not None:
            args += ["-kernel", str(self.kernel)]
        if self.initrd is not None:
            args += ["-initrd", str(self.initrd)]
        append = self.kernel_append()
        if append is not None:
            args += ["-append", append]
        if self.boot_protocol is not None:
            args += ["-fw_cfg", f"name={BOOT_PROTOCOL_FILE},string={self.boot_protocol}"]
        return args + list(self.extra_args)

    def shell_command(self, qmp_socket: Path) -> str:
        """argv() quoted for a POSIX shell, to show or paste."""
        return shlex.join(self.argv(qmp_socket))

    def to_json(self) -> dict[str, Any]:
        """The spec as plain JSON values, plus the command line the kernel gets."""
        record = asdict(self)
        if self.firmware is not None:
            record["firmware"] = {
                "name": self.firmware.name,
                "path": str(self.firmware.path),
                "kind": self.firmware.kind.value,
            }
        for key in ("kernel", "initrd"):
            record[key] = None if record[key] is None else str(record[key])
        record["machine"] = self.machine.value
        record["accel"] = self.accel.value
        record["extra_args"] = list(self.extra_args)
        record["kernel_command_line"] = self.kernel_append()
        return record
