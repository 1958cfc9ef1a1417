"""Check a run request before QEMU starts, so each mistake is one clear error."""

import os
from dataclasses import dataclass, field
from pathlib import Path

from minibios.errors import MinibiosError
from minibios.firmware.choice import resolve_firmware
from minibios.images.kernel_image import KernelImage, inspect_kernel
from minibios.sizes import GIB, KIB, MIB, format_size, parse_memory
from minibios.vm.accel import choose_accel
from minibios.vm.qemu_binary import choose_qemu
from minibios.vm.spec import DEFAULT_MICROVM_ACPI, MACHINE_TYPES, QemuConfig
from minibios.vm.tsc import tsc_hint_khz

# The initrd placement rule. Loaders (QEMU's, SeaBIOS, qboot) put the initrd
# at the top of low RAM, below the kernel's initrd_addr_max; QEMU keeps the
# last 128 KiB of low RAM for ACPI data. Low RAM ends at 2 GiB at worst (q35
# with a lot of RAM; pc splits at 3 GiB). The kernel needs [load address,
# load address + init_size) to unpack itself, so the initrd must fit between
# that area's end plus a 1 MiB safety margin and the top.
ACPI_RESERVE = 128 * KIB
LOW_RAM_CAP = 2 * GIB
INITRD_MARGIN = 1 * MIB


class PreflightError(MinibiosError):
    """A run request that cannot work."""


@dataclass(frozen=True)
class RunRequest:
    kernel: str
    initrd: str | None = None
    append: str | None = None
    machine: str = "pc"
    cpus: int = 1
    memory: str = "512M"
    firmware: str = "minibios"
    accel: str = "auto"
    qemu: str | None = None  # None: choose (qemu_binary.py); else --qemu's binary
    microvm_acpi: bool = DEFAULT_MICROVM_ACPI
    boot_protocol: int | None = None
    extra_args: tuple[str, ...] = field(default_factory=tuple)


def _usable_low_ram(memory: int) -> int:
    """End of the low RAM a loader may use with `memory` bytes of RAM."""
    return min(memory, LOW_RAM_CAP) - ACPI_RESERVE


def initrd_limit(kernel: KernelImage, memory: int) -> int:
    """Largest initrd (bytes) that fits with `memory` bytes of RAM; may be <= 0."""
    top = min(kernel.initrd_addr_max + 1, _usable_low_ram(memory))
    return top - kernel.memory_end - INITRD_MARGIN


def check_kernel_fits(kernel: KernelImage, memory: int) -> None:
    # Else the boot fails in the guest: a firmware error, or (PVH) QEMU loading
    # the image past the end of RAM and the kernel resetting the machine.
    if kernel.memory_end > _usable_low_ram(memory):
        raise PreflightError(
            f"{format_size(memory)} of RAM is too little for this kernel: "
            f"it needs memory up to {format_size(kernel.memory_end)}"
        )


def check_initrd_fits(kernel: KernelImage, initrd_size: int, memory: int) -> None:
    limit = initrd_limit(kernel, memory)
    if initrd_size > limit:
        fits = format_size(limit) if limit > 0 else "nothing"
        raise PreflightError(
            f"initrd too large for {format_size(memory)} of RAM: "
            f"{format_size(initrd_size)}, but {fits} fits above the kernel "
            f"(which needs memory up to {format_size(kernel.memory_end)})"
        )


def check_file(path: str, what: str) -> Path:
    """An existing, readable regular file."""
    candidate = Path(path).expanduser()
    if not candidate.exists():
        raise PreflightError(f"{what} not found: {path}")
    if not candidate.is_file():
        raise PreflightError(f"{what} is not a regular file: {path}")
    if not os.access(candidate, os.R_OK):
        raise PreflightError(f"{what} is not readable: {path}")
    return candidate


def preflight(request: RunRequest) -> QemuConfig:
    """Validate everything checkable up front; return the config to boot."""
    if request.machine not in MACHINE_TYPES:
        choices = ", ".join(MACHINE_TYPES)
        raise PreflightError(f"unknown machine type {request.machine!r} (choose from {choices})")
    if request.cpus < 1:
        raise PreflightError(f"--cpus must be at least 1, not {request.cpus}")
    memory = parse_memory(request.memory)
    kernel_path = check_file(request.kernel, "kernel")
    initrd_path = check_file(request.initrd, "initrd") if request.initrd is not None else None
    kernel = inspect_kernel(kernel_path)
    check_kernel_fits(kernel, memory)
    if initrd_path is not None:
        check_initrd_fits(kernel, initrd_path.stat().st_size, memory)
    firmware = resolve_firmware(request.firmware, request.machine)
    if request.boot_protocol is not None and request.firmware != "minibios":
        raise PreflightError(
            "--protocol chooses minibios's way into Linux: use --firmware minibios"
        )
    accel = choose_accel(request.accel)
    qemu = choose_qemu(request.machine, accel, request.qemu).path
    return QemuConfig(
        machine=request.machine,
        cpus=request.cpus,
        memory=memory,
        accel=accel,
        firmware=firmware.path,
        kernel=kernel_path.resolve(),
        initrd=initrd_path.resolve() if initrd_path else None,
        append=request.append,
        microvm_acpi=request.microvm_acpi,
        microvm_option_roms=firmware.needs_option_roms,
        boot_protocol=request.boot_protocol,
        tsc_khz=tsc_hint_khz(request.machine, accel, request.append),
        qemu=qemu,
        extra_args=request.extra_args,
    )
