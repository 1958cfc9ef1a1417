"""Zero tails of PT_LOAD segments leave p_filesz (and QEMU's RSS), nothing else changes."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kernel_fakes import make_elf

from minibios.images.elf import PT_LOAD, parse_elf
from minibios.images.elf_trim import PAGE, trim_zero_tails

PHOFF = 64


def elf_with_segment(body: bytes, memsz: int) -> bytes:
    """A 64-bit ELF whose one PT_LOAD holds `body` at file offset 0x1000."""
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, PHOFF, 0, 0, 64, 56, 1, 0, 0, 0)
    load = struct.pack("<IIQQQQQQ", PT_LOAD, 7, 0x1000, 0, 0x1000000, len(body), memsz, 0x1000)
    head = header + load
    return head + bytes(0x1000 - len(head)) + body


def load_segment(elf: bytes) -> tuple[int, int]:
    (seg,) = [s for s in parse_elf(elf).segments if s.type == PT_LOAD]
    return seg.filesz, seg.memsz


def test_whole_zero_pages_at_the_end_leave_filesz() -> None:
    body = b"\x01" * 100 + bytes(3 * PAGE)
    trimmed = trim_zero_tails(elf_with_segment(body, 8 * PAGE))
    assert load_segment(trimmed) == (PAGE, 8 * PAGE)
    # Same size, same bytes but for the program header's p_filesz.
    original = elf_with_segment(body, 8 * PAGE)
    assert len(trimmed) == len(original)
    changed = [i for i, (a, b) in enumerate(zip(trimmed, original, strict=True)) if a != b]
    assert changed and all(PHOFF + 32 <= i < PHOFF + 40 for i in changed)  # p_filesz


def test_a_tail_under_a_page_and_small_kernels_stay() -> None:
    body = b"\x01" * (PAGE - 10) + bytes(10)
    elf = elf_with_segment(body, 2 * PAGE)
    assert trim_zero_tails(elf) == elf
    fake = make_elf()  # its PT_LOAD runs past the file's end: left alone
    assert trim_zero_tails(fake) == fake


@given(st.binary(max_size=3 * PAGE), st.integers(0, 3 * PAGE))
def test_loaded_memory_is_unchanged(data: bytes, zeros: int) -> None:
    """What ELF semantics load (file bytes, then zeros up to memsz) stays the same."""
    body = data + bytes(zeros)
    memsz = len(body) + PAGE
    elf = elf_with_segment(body, memsz)
    filesz, trimmed_memsz = load_segment(trim_zero_tails(elf))
    assert trimmed_memsz == memsz and filesz <= len(body)
    loaded = body[:filesz] + bytes(memsz - filesz)
    assert loaded == body + bytes(memsz - len(body))
    assert filesz % PAGE == 0 or filesz == len(body)


def test_not_an_elf_is_an_error() -> None:
    with pytest.raises(ValueError):
        trim_zero_tails(b"MZ" + bytes(100))
