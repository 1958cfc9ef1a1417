"""Unpacking a bzImage's vmlinux for PVH, for every compression the kernel offers."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import struct
from pathlib import Path

import lz4.block
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st
from kernel_fakes import make_bzimage_with_payload, make_elf

from minibios.images.vmlinux import VmlinuxError, decompress_payload, extract_vmlinux

ENTRY = 0x1000850


def lz4_legacy(data: bytes) -> bytes:
    blocks = [data[i : i + (8 << 20)] for i in range(0, len(data), 8 << 20)]
    out = struct.pack("<I", 0x184C2102)
    for block in blocks:
        packed = lz4.block.compress(block, store_size=False)
        out += struct.pack("<I", len(packed)) + packed
    return out + struct.pack("<I", len(data))  # the kernel appends the size


COMPRESSORS = {
    "gzip": lambda d: gzip.compress(d, mtime=0),
    "xz": lambda d: lzma.compress(d, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE) + struct.pack("<I", len(d)),
    "bzip2": lambda d: bz2.compress(d) + struct.pack("<I", len(d)),
    "zstd": lambda d: zstandard.ZstdCompressor().compress(d) + struct.pack("<I", len(d)),
    "lz4": lz4_legacy,
}


@pytest.mark.parametrize("compression", list(COMPRESSORS))
def test_each_compression_unpacks_to_the_elf(compression: str, tmp_path: Path) -> None:
    elf = make_elf(pvh_entry=ENTRY) + bytes(100_000)  # something worth compressing
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(make_bzimage_with_payload(COMPRESSORS[compression](elf)))
    vm = extract_vmlinux(kernel, tmp_path / "cache")
    assert (vm.compression, vm.entry) == (compression, ENTRY)
    assert vm.path.read_bytes() == elf
    again = extract_vmlinux(kernel, tmp_path / "cache")  # from the cache now
    assert again == vm


def test_a_kernel_without_pvh_note_is_refused(tmp_path: Path) -> None:
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(make_bzimage_with_payload(gzip.compress(make_elf(pvh_entry=None))))
    with pytest.raises(VmlinuxError, match="no PVH entry note"):
        extract_vmlinux(kernel, tmp_path)


def test_lzo_and_unknown_payloads_are_refused() -> None:
    with pytest.raises(VmlinuxError, match="lzo"):
        decompress_payload(b"\x89LZO\x00" + bytes(20))
    with pytest.raises(VmlinuxError, match="unknown payload compression"):
        decompress_payload(b"junkjunk")


@pytest.mark.parametrize("compression", list(COMPRESSORS))
def test_corrupt_payloads_give_a_clear_error(compression: str) -> None:
    good = COMPRESSORS[compression](make_elf() + bytes(5000))
    bad = good[:8] + bytes(b ^ 0x5A for b in good[8:40]) + good[40:]
    with pytest.raises(VmlinuxError):
        _, out = decompress_payload(bad)
        if out != make_elf() + bytes(5000):
            raise VmlinuxError("decompressed to something else")


@given(st.binary(max_size=200))
def test_garbage_after_a_magic_never_escapes_as_another_error(tail: bytes) -> None:
    for magic in (b"\x1f\x8b", b"\xfd7zXZ\x00", b"\x5d\x00\x00", b"BZh", b"\x28\xb5\x2f\xfd"):
        with contextlib.suppress(VmlinuxError):
            decompress_payload(magic + tail)


def test_not_a_bzimage(tmp_path: Path) -> None:
    elf = tmp_path / "vmlinux"
    elf.write_bytes(make_elf())
    with pytest.raises(VmlinuxError, match="not a bzImage"):
        extract_vmlinux(elf, tmp_path)
