"""The MTRR values every CPU gets (firmware/mtrr.c), checked by evaluating them as a CPU
does: the memory type of any address."""

from __future__ import annotations

import ctypes

from c_header import header_ints
from fwhost import HostFirmware, MsrWrite
from hypothesis import given
from hypothesis import strategies as st

GIB4 = 1 << 32
MAX_WRITES = 1 + 11 + 2 * 6 + 1
HOLE_RANGES = 6
APIC = header_ints("apic.h")
APICS = (APIC["LAPIC_BASE"], APIC["IOAPIC_BASE"])  # uncached whatever the RAM size
UC, WP, WB = 0, 5, 6
DEF_TYPE = 0x2FF
FIXED = {0x250: 0x0606060606060606, 0x258: 0x0606060606060606, 0x259: 0}
FIXED.update({0x268 + i: 0x0505050505050505 for i in range(8)})


def plan(fw: HostFirmware, hole: int, phys_bits: int, vcnt: int) -> list[tuple[int, int]]:
    out = (MsrWrite * MAX_WRITES)()
    n = fw.lib.mtrr_plan(hole, phys_bits, vcnt, out)
    assert n <= MAX_WRITES
    return [(w.msr, w.value) for w in out[:n]]


def variable_ranges(writes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(base, mask) of each valid variable MTRR, as the CPU ends up with them."""
    regs = dict(writes)
    ranges = []
    for n in range(8):
        base, mask = regs.get(0x200 + 2 * n, 0), regs.get(0x201 + 2 * n, 0)
        if mask & (1 << 11):
            ranges.append((base, mask & ~0xFFF))
    return ranges


def memory_type(writes: list[tuple[int, int]], addr: int) -> int:
    default = dict(writes)[DEF_TYPE] & 0xFF
    types = {base & 0xFF for base, mask in variable_ranges(writes) if addr & mask == base & mask}
    return UC if UC in types else types.pop() if types else default


def uc_start(hole: int, ranges: int) -> int:
    """Where the uncached hole must start: the hole, rounded up so its size keeps only
    its `ranges` highest bits."""
    size = GIB4 - ((hole + 0xFFF) & ~0xFFF) if hole < GIB4 else 0
    kept = 0
    for bit in reversed(range(12, 32)):
        if size & (1 << bit) and bin(kept).count("1") < ranges:
            kept |= 1 << bit
    return GIB4 - kept


holes = st.one_of(
    st.sampled_from([0x8000_0000, 0xB000_0000, 0xC000_0000, 0xE000_0000, 0x1000_0000]),
    st.integers(1 << 20, GIB4).map(lambda a: a & ~0xFFFFF),
    st.integers(0, GIB4 + 4096),
)


@given(holes, st.sampled_from([36, 39, 40, 46, 48, 52]), st.integers(0, 8))
def test_types_as_a_cpu_sees_them(fw: HostFirmware, hole: int, phys_bits: int, vcnt: int) -> None:
    writes = plan(fw, hole, phys_bits, vcnt)
    assert writes[0] == (DEF_TYPE, 0), "MTRRs must be off while they change"
    assert writes[-1] == (DEF_TYPE, (1 << 11) | (1 << 10) | WB)
    regs = dict(writes)
    for msr, value in FIXED.items():
        assert regs[msr] == value
    ranges = variable_ranges(writes)
    assert len(ranges) <= min(vcnt, HOLE_RANGES)
    for base, mask in ranges:
        size = (~mask & ((1 << phys_bits) - 1)) + 1
        assert mask >> phys_bits == 0, "mask bits beyond the physical address width"
        assert size & (size - 1) == 0 and base & (size - 1) == 0
    start = uc_start(hole, min(vcnt, HOLE_RANGES))
    for addr in {0, hole - 1, hole, start - 1, start, GIB4 - 1, GIB4, 5 << 30, *APICS}:
        if 0 <= addr < 1 << phys_bits:
            expected = UC if start <= addr < GIB4 else WB
            assert memory_type(writes, addr) == expected, hex(addr)


def test_qemu_maps(fw: HostFirmware) -> None:
    """Low RAM ends at 2, 3 or 3.5 GiB on big guests, at the RAM size on small ones:
    one range each, or one a bit for an odd size."""
    assert variable_ranges(plan(fw, 0x8000_0000, 40, 8)) == [
        (0x8000_0000 | UC, 0xFF_8000_0000),
    ]
    assert len(variable_ranges(plan(fw, 0xE000_0000, 40, 8))) == 1
    assert len(variable_ranges(plan(fw, 0x1000_0000, 40, 8))) == 4  # 256M..4G


def test_no_variable_mtrrs(fw: HostFirmware) -> None:
    writes = plan(fw, 0x1000_0000, 36, 0)
    assert variable_ranges(writes) == []
    assert len(writes) == 1 + 11 + 1


def test_unused_ranges_are_cleared(fw: HostFirmware) -> None:
    regs = dict(plan(fw, 0x8000_0000, 40, 8))
    for n in range(1, HOLE_RANGES):
        assert regs[0x200 + 2 * n] == 0 and regs[0x201 + 2 * n] == 0
    assert 0x200 + 2 * HOLE_RANGES not in regs, "the OS's own ranges are left alone"


def test_out_buffer_is_exactly_big_enough(fw: HostFirmware) -> None:
    assert len(plan(fw, 0x0FF0_1000, 52, 8)) == MAX_WRITES
    assert ctypes.sizeof(MsrWrite) == 12
