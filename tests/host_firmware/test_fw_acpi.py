"""Finding QEMU's ACPI tables (firmware/acpi.c) and reading the MADT (firmware/mptable.c)."""

from __future__ import annotations

import ctypes
import struct

import pytest
from c_header import header_ints
from fwhost import MP_MAX_CPUS, HostFirmware, MpConfig
from hypothesis import given
from hypothesis import strategies as st

RSDP, RSDT, XSDT, MADT, FACP = 0xF5000, 0x10000, 0x11000, 0x12000, 0x13000
IOAPIC_BASE = header_ints("apic.h")["IOAPIC_BASE"]
LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]
LIBC.free.argtypes = [ctypes.c_void_p]


def sdt(signature: bytes, body: bytes) -> bytes:
    return signature + struct.pack("<I", 36 + len(body)) + bytes(28) + body


def rsdp(revision: int, rsdt: int, xsdt: int) -> bytes:
    return b"RSD PTR " + bytes(7) + struct.pack("<BIIQ", revision, rsdt, 36, xsdt) + bytes(4)


def lapic(uid: int, apic_id: int, enabled: bool) -> bytes:
    return struct.pack("<BBBBI", 0, 8, uid, apic_id, int(enabled))


def ioapic(ioapic_id: int, addr: int) -> bytes:
    return struct.pack("<BBBBII", 1, 12, ioapic_id, 0, addr, 0)


def override(irq: int, gsi: int) -> bytes:
    return struct.pack("<BBBBIH", 2, 10, 0, irq, gsi, 0)


def madt(entries: bytes) -> bytes:
    return sdt(b"APIC", struct.pack("<II", 0xFEE00000, 1) + entries)


def place(ram, addr: int, data: bytes) -> None:
    ram[addr : addr + len(data)] = data


@pytest.fixture
def tables(guest_ram):
    place(guest_ram, MADT, madt(lapic(0, 0, True)))
    place(guest_ram, FACP, sdt(b"FACP", bytes(8)))
    place(guest_ram, RSDT, sdt(b"RSDT", struct.pack("<II", FACP, MADT)))
    place(guest_ram, XSDT, sdt(b"XSDT", struct.pack("<QQ", 1 << 32 | FACP, MADT)))
    return guest_ram


def find(fw: HostFirmware, ram, rsdp_addr: int, signature: bytes) -> int | None:
    hit = fw.lib.acpi_find_table(rsdp_addr, signature)
    return None if hit is None else hit - ctypes.addressof(ram)


def test_revision_2_reads_the_xsdt(fw: HostFirmware, tables) -> None:
    place(tables, RSDP, rsdp(2, RSDT, XSDT))
    assert find(fw, tables, RSDP, b"APIC") == MADT
    assert find(fw, tables, RSDP, b"FACP") is None  # the XSDT's copy is above 4 GiB
    assert find(fw, tables, RSDP, b"HPET") is None
    assert fw.lib.harness_stray_accesses() == 0


@pytest.mark.parametrize(("revision", "xsdt"), [(0, XSDT), (2, 0)])
def test_the_rsdt_otherwise(fw: HostFirmware, tables, revision: int, xsdt: int) -> None:
    place(tables, RSDP, rsdp(revision, RSDT, xsdt))
    assert find(fw, tables, RSDP, b"FACP") == FACP
    assert find(fw, tables, RSDP, b"APIC") == MADT
    assert find(fw, tables, 0, b"APIC") is None
    assert fw.lib.harness_stray_accesses() == 0


def from_madt(fw: HostFirmware, table: bytes) -> MpConfig:
    """The table in a heap block of exactly its size, so that ASan sees a read past it."""
    cfg = MpConfig()
    block = LIBC.malloc(max(len(table), 1))
    try:
        ctypes.memmove(block, table, len(table))
        fw.lib.mp_config_from_madt(ctypes.byref(cfg), block)
    finally:
        LIBC.free(block)
    return cfg


def test_qemus_madt(fw: HostFirmware) -> None:
    entries = lapic(0, 0, True) + lapic(1, 1, False) + lapic(2, 4, True)
    entries += ioapic(7, IOAPIC_BASE) + override(0, 2) + override(9, 9)
    cfg = from_madt(fw, madt(entries))
    assert list(cfg.apic_id[: cfg.ncpus]) == [0, 4]  # the disabled CPU is left out
    assert (cfg.ioapic_id, cfg.ioapic_addr, cfg.irq0_pin) == (7, IOAPIC_BASE, 2)


def test_an_entry_running_past_the_table_is_not_read(fw: HostFirmware) -> None:
    table = madt(lapic(0, 3, True) + lapic(1, 5, True))
    short = bytearray(table[:-6])  # the second entry's type and length only
    short[4:8] = struct.pack("<I", len(short))
    cfg = from_madt(fw, bytes(short))
    assert list(cfg.apic_id[: cfg.ncpus]) == [3]


entry = st.tuples(st.integers(0, 3), st.integers(0, 16), st.binary(max_size=14)).map(
    lambda t: bytes([t[0], t[1]]) + t[2]
)


@given(st.lists(entry, max_size=300))
def test_any_madt_is_read_within_its_length(fw: HostFirmware, entries: list[bytes]) -> None:
    cfg = from_madt(fw, madt(b"".join(entries)))
    assert cfg.ncpus <= MP_MAX_CPUS
