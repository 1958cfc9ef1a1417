"""The identity map for the 64-bit entry (firmware/paging.c)."""

from __future__ import annotations

import struct

from c_header import header_ints
from fwhost import HostFirmware

BASE = 0x9000
APIC = header_ints("apic.h")
APICS = (APIC["IOAPIC_BASE"], APIC["LAPIC_BASE"])


def entry(ram, table: int, index: int) -> int:
    return struct.unpack_from("<Q", ram, table + 8 * index)[0]


def test_first_4_gib_map_to_themselves(fw: HostFirmware, guest_ram) -> None:
    assert fw.lib.identity_map(BASE, 3 << 30 | 1) == BASE
    pml4 = BASE
    pdpt = entry(guest_ram, pml4, 0) & ~0xFFF
    assert entry(guest_ram, pml4, 0) & 3 == 3 and entry(guest_ram, pml4, 1) == 0
    for address in (0, 0x100000, 0x1000000, 0x7FE0_0000, *APICS, 0xFFFF_FFFF):
        pd = entry(guest_ram, pdpt, address >> 30) & ~0xFFF
        pde = entry(guest_ram, pd, (address >> 21) & 511)
        assert pde & 0x83 == 0x83  # present, writable, 2 MiB page
        assert pde & ~0x1FFFFF == address & ~0x1FFFFF
    assert fw.lib.harness_stray_accesses() == 0


def test_only_what_is_asked_for_is_mapped(fw: HostFirmware, guest_ram) -> None:
    fw.lib.identity_map(BASE, 512 << 20)
    pdpt = entry(guest_ram, BASE, 0) & ~0xFFF
    assert entry(guest_ram, pdpt, 0) & 1
    assert [entry(guest_ram, pdpt, i) for i in (1, 2, 3)] == [0, 0, 0]
    pd = entry(guest_ram, pdpt, 0) & ~0xFFF
    assert entry(guest_ram, pd, 511) == (511 << 21) | 0x83
