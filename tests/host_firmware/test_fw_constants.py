"""The UART and APIC constants: one definition, in firmware/include, read by both sides.

The firmware (C and assembly) includes uart.h and apic.h; the Python tests
read the same #defines through tests/c_header.py. Here the parsed values are
checked against what the compiler made of them, so the parser cannot drift
from the C either.
"""

from __future__ import annotations

from c_header import header_ints
from fwhost import HostFirmware

HEADERS = ("uart.h", "apic.h")


def parsed() -> dict[str, int]:
    found: dict[str, int] = {}
    for name in HEADERS:
        found |= header_ints(name)
    return found


def test_the_headers_read_as_the_compiler_reads_them(fw: HostFirmware) -> None:
    assert parsed() == fw.constants()


def test_the_pc_addresses() -> None:
    values = parsed()
    assert values["COM1"] == 0x3F8  # what QEMU's -serial and the kernel's ttyS0 use
    assert values["LAPIC_BASE"] == 0xFEE0_0000
    assert values["IOAPIC_BASE"] == 0xFEC0_0000
