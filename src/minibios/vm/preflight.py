"""Check a VmSpec before QEMU starts, so each mistake is one clear error (exit 2)."""

import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path

from minibios.errors import InputError
from minibios.firmware.choice import FirmwareKind
from minibios.images.assets import cache_dir
from minibios.images.file_memo import FileMemo
from minibios.images.kernel_image import KernelImage, inspect_kernel_remembered
from minibios.sizes import GIB, KIB, MIB, format_size
from minibios.vm.spec import VmSpec

log = logging.getLogger(__name__)

# The initrd placement rule. Loaders (QEMU's, SeaBIOS, qboot) put the initrd
# at the top of low RAM, below the kernel's initrd_addr_max; QEMU keeps the
# last 128 KiB of low RAM for ACPI data. Low RAM ends at 2 GiB at worst (q35
# with a lot of RAM; pc splits at 3 GiB). The kernel needs [load address,
# load address + init_size) to unpack itself, so the initrd must fit between
# that area's end plus a 1 MiB safety margin and the top.
ACPI_RESERVE = 128 * KIB
LOW_RAM_CAP = 2 * GIB
INITRD_MARGIN = 1 * MIB


class PreflightError(InputError):
    """A VM that cannot work as specified."""


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


def check_qemu(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        raise PreflightError(f"QEMU not found: {binary} is not installed (run ./scripts/setup)")
    return found


def preflight(spec: VmSpec) -> VmSpec:
    """Check everything checkable before QEMU starts; return the spec to boot.

    What it rejects is bad input (PreflightError and the other InputErrors: exit
    2); the returned spec has QEMU's full path, the kernel's and initrd's
    resolved paths and, where the kernel needs it, the host's TSC frequency.
    """
    if spec.kernel is None:
        raise PreflightError("no kernel to boot: give --kernel")
    kernel_path = check_file(str(spec.kernel), "kernel")
    initrd_path = check_file(str(spec.initrd), "initrd") if spec.initrd is not None else None
    kernel = inspect_kernel_remembered(kernel_path, FileMemo.in_cache(cache_dir()))
    check_kernel_fits(kernel, spec.memory)
    if initrd_path is not None:
        check_initrd_fits(kernel, initrd_path.stat().st_size, spec.memory)
    if spec.boot_protocol is not None and spec.firmware_kind is not FirmwareKind.MINIBIOS:
        raise PreflightError(
            "--protocol chooses minibios's way into Linux: use --firmware minibios"
        )
    checked = replace(
        spec,
        qemu=check_qemu(spec.qemu),
        kernel=kernel_path.resolve(),
        initrd=initrd_path.resolve() if initrd_path else None,
    )
    checked = checked.with_tsc_hint()
    log.debug("preflight passed: %s", checked)
    return checked
