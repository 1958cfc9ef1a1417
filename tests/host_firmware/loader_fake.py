"""A stand-in for QEMU's fw_cfg and guest memory, for driving the table-loader."""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field

from fwhost import (
    ALLOC,
    LOAD,
    LOOKUP,
    WRITE_POINTER,
    HostFirmware,
    LoaderBlob,
    LoaderOps,
    TableLoader,
)

GUARD = 32
CANARY = 0xA5
ALLOCATE, ADD_POINTER, ADD_CHECKSUM, WRITE_POINTER_CMD = 1, 2, 3, 4
ZONE_HIGH, ZONE_FSEG = 1, 2


def name56(name: str | bytes) -> bytes:
    raw = name.encode() if isinstance(name, str) else name
    return raw[:56].ljust(56, b"\0")


def allocate(file: str, align: int = 16, zone: int = ZONE_HIGH) -> bytes:
    return struct.pack("<I", ALLOCATE) + name56(file) + struct.pack("<IB", align, zone)


def add_pointer(dest: str, src: str, offset: int, size: int) -> bytes:
    return (
        struct.pack("<I", ADD_POINTER)
        + name56(dest)
        + name56(src)
        + struct.pack("<IB", offset, size)
    )


def add_checksum(file: str, offset: int, start: int, length: int) -> bytes:
    return (
        struct.pack("<I", ADD_CHECKSUM) + name56(file) + struct.pack("<III", offset, start, length)
    )


def write_pointer(dest: str, src: str, dst_offset: int, src_offset: int, size: int) -> bytes:
    return (
        struct.pack("<I", WRITE_POINTER_CMD)
        + name56(dest)
        + name56(src)
        + struct.pack("<IIB", dst_offset, src_offset, size)
    )


def script(*commands: bytes) -> bytes:
    return b"".join(c.ljust(128, b"\0") for c in commands)


@dataclass
class Allocation:
    buf: ctypes.Array
    size: int
    addr: int

    def data(self) -> bytes:
        return bytes(self.buf[GUARD : GUARD + self.size])

    def guards_intact(self) -> bool:
        raw = bytes(self.buf)
        return (
            raw[:GUARD] == bytes([CANARY]) * GUARD
            and raw[GUARD + self.size :] == bytes([CANARY]) * GUARD
        )


@dataclass
class FakeMachine:
    """fw_cfg files by name, zones with room, and a record of what happened."""

    files: dict[str, bytes]
    zone_room: dict[int, int] = field(default_factory=lambda: {ZONE_HIGH: 1 << 20, ZONE_FSEG: 4096})
    allocations: list[Allocation] = field(default_factory=list)
    pointer_writes: list[tuple[str, int, int, int]] = field(default_factory=list)
    next_addr: dict[int, int] = field(
        default_factory=lambda: {ZONE_HIGH: 0x1FFE_0000, ZONE_FSEG: 0xF_4000}
    )

    def __post_init__(self) -> None:
        self.names = list(self.files)
        self._ops = LoaderOps(
            None,
            LOOKUP(self._lookup),
            ALLOC(self._alloc),
            LOAD(self._load),
            WRITE_POINTER(self._write_pointer),
        )

    def _lookup(self, _ctx, name, size, select) -> bool:
        key = name.decode(errors="replace")
        if key not in self.files:
            return False
        size[0] = len(self.files[key])
        select[0] = 0x20 + self.names.index(key)
        return True

    def _alloc(self, _ctx, zone, size, align, addr) -> int | None:
        if size > self.zone_room[zone]:
            return None
        self.zone_room[zone] -= size
        buf = (ctypes.c_uint8 * (size + 2 * GUARD))(*([CANARY] * (size + 2 * GUARD)))
        base = self.next_addr[zone]
        base = (base + align - 1) & ~(align - 1)
        self.next_addr[zone] = base + size
        self.allocations.append(Allocation(buf, size, base))
        addr[0] = base
        return ctypes.addressof(buf) + GUARD

    def _load(self, _ctx, select, buf, size) -> None:
        data = self.files[self.names[select - 0x20]]
        ctypes.memmove(buf, data, min(size, len(data)))

    def _write_pointer(self, _ctx, select, offset, value, size) -> None:
        self.pointer_writes.append((self.names[select - 0x20], offset, value, size))

    def run(self, fw: HostFirmware, raw_script: bytes) -> TableLoader:
        max_blobs = len(raw_script) // 128
        self._blobs = (LoaderBlob * max(max_blobs, 1))()
        tl = TableLoader(ctypes.pointer(self._ops), self._blobs, 0, max_blobs, 0)
        fw.lib.table_loader_run(ctypes.byref(tl), raw_script, len(raw_script))
        return tl

    def blob(self, tl: TableLoader, name: str) -> bytes:
        for i in range(tl.nblobs):
            b = self._blobs[i]
            if b.name.decode() == name:
                return ctypes.string_at(b.data, b.size)
        raise KeyError(name)

    def address(self, tl: TableLoader, name: str) -> int:
        for i in range(tl.nblobs):
            if self._blobs[i].name.decode() == name:
                return self._blobs[i].addr
        raise KeyError(name)
