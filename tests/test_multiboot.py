"""A multiboot (v1) kernel, loaded by QEMU's multiboot loader, started by minibios."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from minibios.firmware.rom import rom_path

SOURCE = Path(__file__).parent / "data" / "multiboot.S"
# isa-debug-exit makes QEMU exit with (value << 1) | 1; the kernel writes 0.
DEBUG_EXIT_STATUS = 1


@pytest.fixture(scope="module")
def multiboot_kernel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("multiboot") / "kernel.elf"
    subprocess.run(
        [
            *("gcc", "-m32", "-nostdlib", "-static", "-Wl,-Ttext=0x100000"),
            *("-Wl,--build-id=none", "-o", str(out), str(SOURCE)),
        ],
        check=True,
    )
    return out


@pytest.mark.boot
@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_multiboot_kernel_boots(machine: str, multiboot_kernel: Path) -> None:
    result = subprocess.run(
        [
            *("qemu-system-x86_64", "-M", machine, "-accel", "tcg", "-nodefaults"),
            *("-display", "none", "-serial", "stdio", "-no-reboot", "-bios", str(rom_path())),
            *("-kernel", str(multiboot_kernel), "-device", "isa-debug-exit"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.stdout.strip() == "MULTIBOOT-OK", result.stdout + result.stderr
    assert result.returncode == DEBUG_EXIT_STATUS
