"""The $PIR table (firmware/pci_irq.c), read back the way Linux's arch/x86/pci/irq.c reads it."""

from __future__ import annotations

import ctypes
import struct

import pytest
from fwhost import HostFirmware
from hypothesis import given
from hypothesis import strategies as st

CHIPSET_NONE, CHIPSET_I440FX, CHIPSET_Q35 = 0, 1, 2
PIR_SIZE = 32 + 32 * 16
# platform.c routes PIRQ A-D (and E-H) to IRQ 10, 10, 11, 11.
PIRQ_IRQ = (10, 10, 11, 11)


def build(fw: HostFirmware, chipset: int, room: int = 4096) -> bytes:
    buf = ctypes.create_string_buffer(room)
    used = fw.lib.pir_build(buf, room, chipset)
    return buf.raw[:used]


def parse(raw: bytes) -> tuple[dict[str, int], list[tuple[int, int, list[tuple[int, int]]]]]:
    assert raw[:4] == b"$PIR"
    version, size, bus, devfn, _excl, vendor, device = struct.unpack_from("<HHBBHHH", raw, 4)
    assert version == 0x0100 and size == len(raw) and size % 16 == 0 and size > 32
    assert sum(raw) % 256 == 0
    slots = []
    for off in range(32, size, 16):
        e = struct.unpack_from("<BB" + "BH" * 4 + "BB", raw, off)
        links = [(e[2 + 2 * i], e[3 + 2 * i]) for i in range(4)]
        slots.append((e[0], e[1], links))
    return {"bus": bus, "devfn": devfn, "vendor": vendor, "device": device}, slots


@pytest.mark.parametrize(
    ("chipset", "router"),
    [
        (CHIPSET_I440FX, {"bus": 0, "devfn": 0x08, "vendor": 0x8086, "device": 0x7000}),
        (CHIPSET_Q35, {"bus": 0, "devfn": 0xF8, "vendor": 0x8086, "device": 0x2918}),
    ],
)
def test_every_bus0_slot_is_listed(fw: HostFirmware, chipset: int, router: dict) -> None:
    header, slots = parse(build(fw, chipset))
    assert header == router
    assert [(bus, devfn) for bus, devfn, _ in slots] == [(0, s << 3) for s in range(32)]
    for _bus, devfn, links in slots:
        for intx, (link, bitmap) in enumerate(links):
            pirq = fw.lib.pci_slot_pirq(chipset, devfn >> 3, intx)
            # The router's route-control register, and exactly the IRQ it holds.
            assert link == (0x60 + pirq if pirq < 4 else 0x68 + pirq - 4)
            assert bitmap == 1 << PIRQ_IRQ[pirq & 3]


def test_qemu_wiring(fw: HostFirmware) -> None:
    # i440FX: (slot + pin - 1) mod 4 onto A-D; ICH9: slots 0-24 rotate onto E-H.
    assert [fw.lib.pci_slot_pirq(CHIPSET_I440FX, 3, i) for i in range(4)] == [2, 3, 0, 1]
    assert [fw.lib.pci_slot_pirq(CHIPSET_Q35, 3, i) for i in range(4)] == [7, 4, 5, 6]
    assert [fw.lib.pci_slot_pirq(CHIPSET_Q35, 30, i) for i in range(4)] == [4, 5, 6, 7]
    assert [fw.lib.pci_slot_pirq(CHIPSET_Q35, 31, i) for i in range(4)] == [0, 1, 2, 3]


def test_no_table_without_pci(fw: HostFirmware) -> None:
    assert build(fw, CHIPSET_NONE) == b""


@given(st.sampled_from([CHIPSET_I440FX, CHIPSET_Q35]), st.integers(0, PIR_SIZE + 64))
def test_never_writes_past_room(fw: HostFirmware, chipset: int, room: int) -> None:
    buf = ctypes.create_string_buffer(room + 64)
    ctypes.memset(ctypes.addressof(buf) + room, 0xA5, 64)
    used = fw.lib.pir_build(buf, room, chipset)
    assert used == (PIR_SIZE if room >= PIR_SIZE else 0)
    assert buf.raw[room:] == b"\xa5" * 64
