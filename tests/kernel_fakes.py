"""Builders of fake kernel images for the tests."""

import struct


def make_bzimage(version: int = 0x20F, setup_sects: int = 4, body: int = 4096) -> bytes:
    data = bytearray((setup_sects + 1) * 512 + body)
    data[0x1F1] = setup_sects
    struct.pack_into("<H", data, 0x1FE, 0xAA55)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x206, version)
    data[0x211] = 0x01
    struct.pack_into("<I", data, 0x22C, 0x7FFFFFFF)
    struct.pack_into("<I", data, 0x230, 0x200000)
    data[0x234] = 1
    struct.pack_into("<H", data, 0x236, 0x7F)
    struct.pack_into("<I", data, 0x238, 2047)
    struct.pack_into("<II", data, 0x248, 0x2CC, 1234)
    struct.pack_into("<Q", data, 0x258, 0x1000000)
    struct.pack_into("<I", data, 0x260, 0x3000000)
    return bytes(data)


def make_elf(pvh_entry: int | None = 0x1000, machine: int = 62) -> bytes:
    note = b""
    if pvh_entry is not None:
        note = struct.pack("<III", 4, 8, 18) + b"Xen\0" + struct.pack("<Q", pvh_entry)
    phoff, phnum = 64, 2
    note_off = phoff + 56 * phnum
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    header += struct.pack(
        "<HHIQQQIHHHHHH", 2, machine, 1, 0x1000000, phoff, 0, 0, 64, 56, phnum, 0, 0, 0
    )
    load = struct.pack(
        "<IIQQQQQQ", 1, 7, 0, 0xFFFFFFFF81000000, 0x1000000, 0x100, 0x2000000, 0x1000
    )
    pnote = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(note), len(note), 4)
    return header + load + pnote + note


def make_bzimage_with_payload(payload: bytes, setup_sects: int = 4) -> bytes:
    """A fake bzImage whose header points at `payload` (payload_offset 0x2cc, as Linux)."""
    image = bytearray(make_bzimage(setup_sects=setup_sects, body=0x2CC + len(payload)))
    struct.pack_into("<II", image, 0x248, 0x2CC, len(payload))
    start = (setup_sects + 1) * 512 + 0x2CC
    image[start : start + len(payload)] = payload
    return bytes(image)
