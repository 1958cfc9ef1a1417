"""The ROM as a plain `-bios` image: hand-written QEMU command lines, no launcher."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from vm_support import BOOT_APPEND, MICROVM_APPEND, BootImages

from minibios.firmware.rom import rom_path
from minibios.images.report import parse_report

pytestmark = pytest.mark.boot

MACHINE_ARGS = {
    "pc": ["-M", "pc"],
    "q35": ["-M", "q35"],
    "microvm": ["-M", "microvm,rtc=on"],  # acpi on: power-off through its GED
    # No ACPI, so no way to power off but isa-debug-exit (QEMU then exits with 1).
    "microvm-acpi-off": ["-M", "microvm,acpi=off,rtc=on", "-device", "isa-debug-exit"],
}


def raw_qemu(machine: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["qemu-system-x86_64", "-accel", "tcg", "-m", "512M", "-nodefaults", "-no-user-config"]
        + ["-display", "none", "-serial", "stdio", "-no-reboot", "-bios", str(rom_path())]
        + MACHINE_ARGS[machine]
        + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_boots_from_a_plain_command_line(machine: str, boot_images: BootImages) -> None:
    append = f"{BOOT_APPEND} raw={machine}"
    if machine == "microvm":
        append += f" {MICROVM_APPEND}"
    result = raw_qemu(
        machine,
        "-kernel",
        str(boot_images.kernel.vmlinuz),
        "-initrd",
        str(boot_images.payload_initrd),
        "-append",
        append,
    )
    report = parse_report(result.stdout)
    assert report.cmdline == append
    assert report.payload_sha256 == boot_images.payload_sha256
    assert result.returncode == 0, "QEMU should exit through the guest's ACPI power-off"


def corrupt_copy(src: Path, dst: Path, offset: int, data: bytes) -> Path:
    raw = bytearray(src.read_bytes())
    raw[offset : offset + len(data)] = data
    dst.write_bytes(raw)
    return dst


@pytest.mark.parametrize("machine", list(MACHINE_ARGS))
def test_bad_kernel_header_powers_off_with_a_reason(
    machine: str, boot_images: BootImages, tmp_path: Path
) -> None:
    # QEMU itself does not look at the boot flag, so this reaches the firmware.
    kernel = corrupt_copy(boot_images.kernel.vmlinuz, tmp_path / "bad", 0x1FE, b"\0\0")
    result = raw_qemu(machine, "-kernel", str(kernel), timeout=30)
    assert result.stdout.strip() == "minibios: error: bad kernel header: no 0xaa55 boot flag"
    assert result.returncode == (1 if machine == "microvm-acpi-off" else 0)


def test_too_old_boot_protocol(boot_images: BootImages, tmp_path: Path) -> None:
    kernel = corrupt_copy(
        boot_images.kernel.vmlinuz, tmp_path / "old", 0x206, struct.pack("<H", 0x0205)
    )
    result = raw_qemu("pc", "-kernel", str(kernel), timeout=30)
    assert "kernel boot protocol too old (need 2.06 or later)" in result.stdout
    assert result.returncode == 0


def test_no_kernel_powers_off() -> None:
    result = raw_qemu("q35", timeout=30)
    assert result.stdout.strip() == "minibios: error: no kernel to boot (give QEMU -kernel)"
    assert result.returncode == 0
