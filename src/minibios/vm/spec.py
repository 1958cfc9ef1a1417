"""The slim QEMU command line minibios boots with, as data."""

from dataclasses import dataclass
from pathlib import Path

from minibios.errors import MinibiosError
from minibios.sizes import MIB
from minibios.vm.tsc import TSC_OPTION

MACHINE_TYPES = ("pc", "q35", "microvm")
BOOT_PROTOCOLS = (16, 32, 64)
# seccomp: no obsolete syscalls, no privilege changes, no scheduler/affinity games.
# Spawning stays allowed: migration to "exec:" (used to save a VM) needs it.
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,resourcecontrol=deny"
# minibios reads the Linux entry to use from this fw_cfg file.
BOOT_PROTOCOL_FILE = "opt/minibios/boot-protocol"
ACCELERATORS = ("tcg", "kvm")
# As in QEMU: without ACPI a kernel lacking MP-table support (Debian's cloud
# kernel) sees one CPU whatever -smp says, and can halt but not power off.
DEFAULT_MICROVM_ACPI = True
DEFAULT_QEMU = "qemu-system-x86_64"
# The TCG translation cache (MiB). QEMU's default reserves 1 GiB and a Debian
# kernel's boot fills ~42 MiB of it, never flushed; 24 MiB costs two flushes
# and no measurable boot time, 16 MiB is 5-14 % slower (README: Memory per VM).
DEFAULT_TCG_TB_SIZE: int | None = 24


class QemuConfigError(MinibiosError):
    """The requested VM cannot be expressed as a QEMU command line."""


@dataclass(frozen=True)
class QemuConfig:
    """One VM's settings; argv() renders them (the QMP socket comes per run)."""

    machine: str = "pc"
    cpus: int = 1
    memory: int = 512 * MIB
    accel: str = "tcg"
    firmware: Path | None = None
    kernel: Path | None = None
    initrd: Path | None = None
    append: str | None = None
    microvm_acpi: bool = DEFAULT_MICROVM_ACPI
    microvm_option_roms: bool = False
    boot_protocol: int | None = None  # minibios only: 16, 32 or 64; None = its default
    tsc_khz: int | None = None  # told to the kernel (tsc_early_khz=): see tsc.py
    qemu: str = DEFAULT_QEMU
    extra_args: tuple[str, ...] = ()
    # -- memory per VM (issue 13): TCG translation cache in MiB; None = QEMU's
    # default (1 GiB reserved, as much touched as the boot translates). --
    tcg_tb_size: int | None = DEFAULT_TCG_TB_SIZE

    def __post_init__(self) -> None:
        if self.machine not in MACHINE_TYPES:
            choices = ", ".join(MACHINE_TYPES)
            raise QemuConfigError(f"unknown machine type {self.machine!r} (choose from {choices})")
        if self.accel not in ACCELERATORS:
            raise QemuConfigError(f"unknown accelerator {self.accel!r} (tcg or kvm)")
        if self.cpus < 1:
            raise QemuConfigError(f"need at least one CPU, not {self.cpus}")
        if self.boot_protocol is not None and self.boot_protocol not in BOOT_PROTOCOLS:
            raise QemuConfigError(f"boot protocol must be 16, 32 or 64, not {self.boot_protocol}")
        if self.tcg_tb_size is not None and self.tcg_tb_size < 1:
            raise QemuConfigError(f"TCG tb-size must be at least 1 MiB, not {self.tcg_tb_size}")
        if self.memory <= 0 or self.memory % MIB:
            raise QemuConfigError(f"memory must be a positive whole number of MiB: {self.memory}")

    def machine_arg(self) -> str:
        if self.machine != "microvm":
            return self.machine
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
        if self.accel == "tcg" and self.tcg_tb_size is not None:
            return f"tcg,tb-size={self.tcg_tb_size}"
        return self.accel

    def kernel_append(self) -> str | None:
        """The command line given, with the TSC frequency when there is one to tell."""
        if self.tsc_khz is None or self.kernel is None:
            return self.append
        told = f"{TSC_OPTION}{self.tsc_khz}"
        return f"{self.append} {told}" if self.append else told

    def argv(self, qmp_socket: Path) -> list[str]:
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
        if self.accel == "kvm":
            args += ["-cpu", "host"]
        if self.firmware is not None:
            args += ["-bios", str(self.firmware)]
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
