"""The e820 map construction (firmware/e820.c) against a reference model."""

from __future__ import annotations

import ctypes

from fwhost import E820_MAX, E820Map, HostFirmware
from hypothesis import given, settings
from hypothesis import strategies as st

RAM, RESERVED, ACPI, HOLE = 1, 2, 3, 0
U64 = 2**64 - 1


def model_set(ranges: list[tuple[int, int, int]], start: int, end: int, kind: int):
    """What e820_set must produce: [start, end) given the type, the rest kept, normalised."""
    if start >= end:
        return list(ranges)
    out: list[tuple[int, int, int]] = []
    for s, e, t in ranges:
        out += [(s, min(e, start), t), (max(s, end), e, t)]
    out.append((start, end, kind))
    merged: list[tuple[int, int, int]] = []
    for s, e, t in sorted(r for r in out if r[0] < r[1] and r[2] != HOLE):
        if merged and merged[-1][2] == t and merged[-1][1] == s:
            merged[-1] = (merged[-1][0], e, t)
        else:
            merged.append((s, e, t))
    return merged


def apply(fw: HostFirmware, m: E820Map, start: int, end: int, kind: int) -> bool:
    return fw.lib.e820_set(ctypes.byref(m), start, end, kind)


addresses = st.one_of(st.integers(0, 4096), st.integers(U64 - 4096, U64))
kinds = st.sampled_from([RAM, RESERVED, ACPI, HOLE, 4, 7])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(addresses, addresses, kinds), max_size=60))
def test_matches_the_model(fw: HostFirmware, ops) -> None:
    m = E820Map()
    expected: list[tuple[int, int, int]] = []
    for start, end, kind in ops:
        before = m.ranges()
        want = model_set(expected, start, end, kind)
        ok = apply(fw, m, start, end, kind)
        if len(want) <= E820_MAX:
            assert ok
            expected = want
        else:
            assert not ok
            assert m.ranges() == before
        assert m.ranges() == expected


@given(st.integers(1, E820_MAX + 10))
def test_overflow_is_refused_and_leaves_the_map_intact(fw: HostFirmware, n: int) -> None:
    m = E820Map()
    for i in range(n):
        ok = apply(fw, m, i * 10, i * 10 + 5, RAM)
        assert ok == (i < E820_MAX)
    assert m.count == min(n, E820_MAX)


def test_qemu_map_with_bios_areas_carved_out(fw: HostFirmware) -> None:
    m = E820Map()
    apply(fw, m, 0, 512 << 20, RAM)
    apply(fw, m, 0xFEFFC000, 0xFF000000, RESERVED)
    apply(fw, m, 1 << 32, 5 << 30, RAM)
    apply(fw, m, 0xA0000, 0xF0000, HOLE)
    apply(fw, m, 0xF0000, 0x100000, RESERVED)
    apply(fw, m, (512 << 20) - 0x30000, 512 << 20, RESERVED)
    assert m.ranges() == [
        (0, 0xA0000, RAM),
        (0xF0000, 0x100000, RESERVED),
        (0x100000, (512 << 20) - 0x30000, RAM),
        ((512 << 20) - 0x30000, 512 << 20, RESERVED),
        (0xFEFFC000, 0xFF000000, RESERVED),
        (1 << 32, 5 << 30, RAM),
    ]
    assert fw.lib.e820_ram_end(ctypes.byref(m), 1 << 20) == (512 << 20) - 0x30000
    assert fw.lib.e820_ram_end(ctypes.byref(m), 0xA0000) == 0xA0000  # not RAM: itself


@given(st.integers(0, 2**40))
def test_bios_memory_answers(fw: HostFirmware, end: int) -> None:
    mem = fw.lib.bios_memory_from(end)
    ext = max(0, min(end, 1 << 32) - (1 << 20))
    assert mem.ext_kb == min(ext >> 10, 0xFFFF)
    assert mem.e801_low_kb == min(ext, 15 << 20) >> 10
    assert mem.e801_high_64k == min(max(0, ext - (15 << 20)) >> 16, 0xFFFF)
