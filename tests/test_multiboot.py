"""Multiboot (v1) kernels, loaded by QEMU's multiboot loader, started by minibios.

The test kernel (tests/data/multiboot.S) checks what Xen and kvm-unit-tests rely
on: mem_lower/mem_upper, the BIOS data area, an int 15h vector in the F segment,
and its own image intact. SeaBIOS (through QEMU's multiboot option ROM) is the
reference where it gets it right.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from vm_support import LINK_ADDRESSES, build_multiboot_kernel

from minibios.firmware.choice import resolve_firmware

# isa-debug-exit makes QEMU exit with (value << 1) | 1; the kernel writes 0.
DEBUG_EXIT_STATUS = 1


@pytest.fixture(scope="module")
def multiboot_kernels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("multiboot")
    return {
        name: build_multiboot_kernel(out / f"{name}.elf", a) for name, a in LINK_ADDRESSES.items()
    }


def run_multiboot(
    machine: str, firmware: str, kernel: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *("qemu-system-x86_64", "-M", machine, "-accel", "tcg", "-nodefaults"),
            *("-display", "none", "-serial", "stdio", "-no-reboot"),
            *("-bios", str(resolve_firmware(firmware, machine).path)),
            *("-kernel", str(kernel), "-device", "isa-debug-exit", *extra),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.boot
@pytest.mark.parametrize("where", LINK_ADDRESSES)
@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_multiboot_kernel_boots(
    machine: str, where: str, multiboot_kernels: dict[str, Path]
) -> None:
    result = run_multiboot(machine, "minibios", multiboot_kernels[where])
    assert result.stdout.strip() == "MULTIBOOT-OK", result.stdout + result.stderr
    assert result.returncode == DEBUG_EXIT_STATUS


@pytest.mark.boot
@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_seabios_passes_the_same_checks(machine: str, multiboot_kernels: dict[str, Path]) -> None:
    """The checks are what a real BIOS gives (SeaBIOS writes QEMU's blocks before it
    loads the kernel, so it fails the low kernel: not compared there)."""
    result = run_multiboot(machine, "seabios", multiboot_kernels["high"])
    assert result.stdout.strip() == "MULTIBOOT-OK", result.stdout + result.stderr


@pytest.mark.boot
@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_isa_debug_exit_on_port_f4_is_left_to_the_kernel(
    machine: str, multiboot_kernels: dict[str, Path]
) -> None:
    """kvm-unit-tests' exit device sits on minibios's milestone port: the firmware must
    not write there unless asked (opt/minibios/milestones), or the VM ends at its entry."""
    result = run_multiboot(
        machine,
        "minibios",
        multiboot_kernels["high"],
        *("-device", "isa-debug-exit,iobase=0xf4,iosize=4"),
    )
    assert result.stdout.strip() == "MULTIBOOT-OK", result.stdout + result.stderr
    assert result.returncode == DEBUG_EXIT_STATUS
