"""The MP table builder (firmware/mptable.c), read back as a kernel would."""

from __future__ import annotations

import ctypes
import struct

from c_header import header_ints
from fwhost import MP_MAX_CPUS, HostFirmware, MpConfig, MpPciIrq
from hypothesis import given
from hypothesis import strategies as st

IOAPIC_BASE = header_ints("apic.h")["IOAPIC_BASE"]


def parse(raw: bytes, addr: int) -> dict:
    assert raw[:4] == b"_MP_" and sum(raw[:16]) % 256 == 0
    config = struct.unpack_from("<I", raw, 4)[0]
    body = raw[config - addr :]
    assert body[:4] == b"PCMP"
    length, rev, _ck = struct.unpack_from("<HBB", body, 4)
    assert sum(body[:length]) % 256 == 0 and rev == 4
    count = struct.unpack_from("<H", body, 34)[0]
    off, cpus, buses, intrs = 44, [], [], []
    for _ in range(count):
        kind = body[off]
        if kind == 0:
            cpus.append((body[off + 1], body[off + 3]))
            off += 20
        else:
            if kind == 1:
                buses.append((body[off + 1], body[off + 2 : off + 8]))
            elif kind == 3:
                intrs.append(struct.unpack_from("<BHBBBB", body, off + 1))
            off += 8
    assert off == length
    return {"cpus": cpus, "buses": buses, "intrs": intrs}


def build(fw: HostFirmware, cfg: MpConfig, room: int = 8192) -> bytes | None:
    buf = ctypes.create_string_buffer(room)
    used = fw.lib.mptable_build(buf, room, 0xF5000, ctypes.byref(cfg))
    return buf.raw[:used] if used else None


def test_two_cpus_on_pc(fw: HostFirmware) -> None:
    cfg = MpConfig(ncpus=2, ioapic_addr=IOAPIC_BASE, irq0_pin=2, pci_irq_mask=0xC00, pci_buses=1)
    cfg.apic_id[0], cfg.apic_id[1] = 0, 1
    cfg.npci_irqs = 1
    cfg.pci_irq[0] = MpPciIrq(0, 3, 0, 11)
    t = parse(build(fw, cfg), 0xF5000)
    assert t["cpus"] == [(0, 3), (1, 1)]  # enabled; the first is the boot CPU
    assert [name for _, name in t["buses"]] == [b"PCI   ", b"ISA   "]
    isa = [i for i in t["intrs"] if i[2] == 1]
    assert (0, 0, 1, 0, 0, 2) in isa  # INT, ISA bus, IRQ 0 -> pin 2
    assert not any(i[3] in (2, 10, 11) and i[0] == 0 for i in isa)
    assert (0, 0x0F, 0, 3 << 2, 0, 11) in t["intrs"]


@given(st.integers(0, MP_MAX_CPUS), st.integers(0, 64), st.integers(0, 20000))
def test_never_writes_past_room(fw: HostFirmware, ncpus: int, nirqs: int, room: int) -> None:
    cfg = MpConfig(ncpus=ncpus, pci_buses=1, npci_irqs=nirqs)
    buf = ctypes.create_string_buffer(room + 64)
    ctypes.memset(ctypes.addressof(buf) + room, 0xA5, 64)
    used = fw.lib.mptable_build(buf, room, 0xF5000, ctypes.byref(cfg))
    assert used <= room
    assert buf.raw[room:] == b"\xa5" * 64
    if used:
        assert len(parse(buf.raw[:used], 0xF5000)["cpus"]) == ncpus


def test_too_many_cpus_is_refused(fw: HostFirmware) -> None:
    assert build(fw, MpConfig(ncpus=MP_MAX_CPUS + 1)) is None
