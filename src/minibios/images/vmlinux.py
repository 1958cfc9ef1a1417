"""The vmlinux inside a bzImage, for booting it through PVH.

A bzImage carries the kernel proper as a compressed ELF (its payload, at
payload_offset from the end of the setup code); the in-guest decompressor
unpacks it on every boot. Unpacked once on the host and given to QEMU as
`-kernel`, the ELF is loaded by QEMU itself and entered through its PVH note
(XEN_ELFNOTE_PHYS32_ENTRY), skipping both the firmware's copy of the kernel
and the decompression.

Supported payloads: gzip, xz, lzma, bzip2 (Python's standard library), zstd
(the zstandard package) and lz4 in the kernel's legacy framing (the lz4
package). lzo has no maintained Python package and is refused.
"""

from __future__ import annotations

import bz2
import hashlib
import logging
import lzma
import os
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Protocol

from minibios.errors import InputError
from minibios.images.elf_trim import trim_zero_tails
from minibios.images.file_memo import FileMemo
from minibios.images.kernel_image import BzImage, ElfKernel, KernelImageError, parse_kernel

log = logging.getLogger(__name__)

LZ4_LEGACY_MAGIC = 0x184C2102
LZ4_LEGACY_BLOCK = 8 << 20  # the kernel's lz4 -l blocks decompress to at most 8 MiB


class VmlinuxError(InputError):
    """The bzImage's payload cannot be turned into a PVH-bootable ELF."""


class _Stream(Protocol):
    eof: bool

    def decompress(self, data: bytes) -> bytes: ...


def _whole(stream: _Stream, data: bytes) -> bytes:
    """One compressed stream; what follows it (the size the kernel appends) is left
    unread, but a stream that stops short is an error, not a short kernel."""
    out = stream.decompress(data)
    if not stream.eof:
        raise VmlinuxError("the payload ends before its compressed stream does")
    return out


def _gzip(data: bytes) -> bytes:
    return _whole(zlib.decompressobj(wbits=16 + zlib.MAX_WBITS), data)


def _xz(data: bytes) -> bytes:
    return _whole(lzma.LZMADecompressor(format=lzma.FORMAT_XZ), data)


def _lzma(data: bytes) -> bytes:
    return _whole(lzma.LZMADecompressor(format=lzma.FORMAT_ALONE), data)


def _bzip2(data: bytes) -> bytes:
    return _whole(bz2.BZ2Decompressor(), data)


# zstandard and lz4 are imported by their decompressor, as it runs: unpacking happens once
# per kernel, and every later boot (each `minibios exec`) finds the vmlinux cached.
def _zstd(data: bytes) -> bytes:
    import zstandard

    try:
        return _whole(zstandard.ZstdDecompressor().decompressobj(), data)
    except zstandard.ZstdError as exc:
        raise VmlinuxError(f"corrupt zstd payload: {exc}") from exc


def _lz4_legacy(data: bytes) -> bytes:
    """lz4 -l: a magic, then (u32 size, block) pairs; the kernel appends a u32 length."""
    import lz4.block

    out = []
    pos = 4
    while len(data) - pos > 4:
        (size,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if size == LZ4_LEGACY_MAGIC:  # concatenated streams start over
            continue
        if size > len(data) - pos:
            raise VmlinuxError("lz4 payload is truncated")
        try:
            out.append(
                lz4.block.decompress(data[pos : pos + size], uncompressed_size=LZ4_LEGACY_BLOCK)
            )
        except lz4.block.LZ4BlockError as exc:
            raise VmlinuxError(f"corrupt lz4 payload: {exc}") from exc
        pos += size
    return b"".join(out)


# Magic prefix -> (name, decompressor), as the kernel's compressors write them.
DECOMPRESSORS: Mapping[bytes, tuple[str, Callable[[bytes], bytes]]] = MappingProxyType(
    {
        b"\x1f\x8b": ("gzip", _gzip),
        b"\xfd7zXZ\x00": ("xz", _xz),
        b"\x5d\x00\x00": ("lzma", _lzma),
        b"BZh": ("bzip2", _bzip2),
        b"\x28\xb5\x2f\xfd": ("zstd", _zstd),
        b"\x02\x21\x4c\x18": ("lz4", _lz4_legacy),
    }
)
LZO_MAGIC = b"\x89LZO"


def payload_of(image: BzImage, data: bytes) -> bytes:
    start = image.setup_size + image.payload_offset
    if not image.payload_length or start + image.payload_length > len(data):
        raise VmlinuxError("the bzImage has no payload the header points to (protocol < 2.08?)")
    return data[start : start + image.payload_length]


def decompress_payload(payload: bytes) -> tuple[str, bytes]:
    """(compression, vmlinux bytes); a clear error for what cannot be read."""
    if payload.startswith(LZO_MAGIC):
        raise VmlinuxError("lzo-compressed kernels are not supported (no maintained Python lzo)")
    for magic, (name, decompress) in DECOMPRESSORS.items():
        if payload.startswith(magic):
            try:
                return name, decompress(payload)
            except VmlinuxError:
                raise
            except (
                OSError,
                EOFError,
                ValueError,
                zlib.error,
                lzma.LZMAError,
            ) as exc:
                raise VmlinuxError(f"corrupt {name} payload: {exc}") from exc
    raise VmlinuxError(f"unknown payload compression (starts {payload[:6].hex()})")


def pvh_entry(vmlinux: bytes, where: Path) -> int:
    """The 32-bit PVH entry point of an ELF kernel; VmlinuxError if it has none."""
    try:
        kernel = parse_kernel(vmlinux, where)
    except KernelImageError as exc:
        raise VmlinuxError(f"the payload is not an ELF kernel: {exc}") from exc
    if not isinstance(kernel, ElfKernel):
        raise VmlinuxError("the payload is not an ELF kernel")
    if kernel.pvh_entry is None:
        raise VmlinuxError("the kernel has no PVH entry note (built without CONFIG_PVH)")
    return kernel.pvh_entry


@dataclass(frozen=True)
class Vmlinux:
    path: Path
    compression: str
    entry: int


def extract_vmlinux(bzimage: Path, cache: Path) -> Vmlinux:
    """The bzImage's vmlinux, unpacked into the cache once (keyed by the bzImage's hash);
    which one it is, and its PVH entry, remembered by the bzImage's identity (finding
    them reads both files whole: 60 MB)."""

    def decode(value: object) -> Vmlinux:
        if not isinstance(value, dict):
            raise ValueError("not a remembered vmlinux")
        found = Vmlinux(Path(value["path"]), value["compression"], value["entry"])
        if not found.path.is_file():
            raise ValueError(f"{found.path} is gone")
        return found

    def encode(found: Vmlinux) -> dict[str, object]:
        return {"path": str(found.path), "compression": found.compression, "entry": found.entry}

    memo = FileMemo.in_cache(cache)
    return memo.remember(
        "vmlinux", [bzimage], None, lambda: _unpack_vmlinux(bzimage, cache), encode, decode
    )


def _unpack_vmlinux(bzimage: Path, cache: Path) -> Vmlinux:
    data = bzimage.read_bytes()
    try:
        image = parse_kernel(data, bzimage)
    except KernelImageError as exc:
        raise VmlinuxError(str(exc)) from exc
    if not isinstance(image, BzImage):
        raise VmlinuxError(f"{bzimage} is not a bzImage")
    digest = hashlib.sha256(data).hexdigest()[:32]
    # "-trimmed": zero tails cut from p_filesz (elf_trim.py); older cache
    # entries, made without, are left for older checkouts.
    out = cache / "vmlinux" / f"{digest}-trimmed.elf"
    meta = out.with_suffix(".compression")
    log.info("vmlinux of %s: %s (%s)", bzimage, out, "cached" if out.exists() else "unpacking")
    if out.exists() and meta.exists():
        return Vmlinux(out, meta.read_text().strip(), pvh_entry(out.read_bytes(), out))
    compression, vmlinux = decompress_payload(payload_of(image, data))
    entry = pvh_entry(vmlinux, bzimage)
    vmlinux = trim_zero_tails(vmlinux)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(vmlinux)
    partial.replace(out)  # atomic: parallel runs never see half a file
    meta.write_text(compression + "\n")
    return Vmlinux(out, compression, entry)
