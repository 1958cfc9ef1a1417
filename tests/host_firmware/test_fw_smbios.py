"""SMBIOS structure walking, our Type 0 and entry-point patching (firmware/smbios.c)."""

from __future__ import annotations

import ctypes
import struct

from fwhost import HostFirmware
from hypothesis import given
from hypothesis import strategies as st


def structure(kind: int, body: bytes = b"", strings: list[bytes] | None = None) -> bytes:
    head = struct.pack("<BBH", kind, 4 + len(body), 0x100 + kind) + body
    tail = b"".join(s + b"\0" for s in strings or []) + b"\0" if strings else b"\0\0"
    return head + tail


def parse_strings(record: bytes) -> list[bytes]:
    return record[record[1] :].split(b"\0\0")[0].split(b"\0")


def test_has_type(fw: HostFirmware) -> None:
    tables = structure(1, b"\1\2", [b"QEMU", b"Standard PC"]) + structure(4) + structure(127)
    assert fw.lib.smbios_has_type(tables, len(tables), 1)
    assert fw.lib.smbios_has_type(tables, len(tables), 4)
    assert not fw.lib.smbios_has_type(tables, len(tables), 0)


@given(st.binary(max_size=512), st.integers(0, 255))
def test_walk_never_overruns(fw: HostFirmware, data: bytes, kind: int) -> None:
    fw.lib.smbios_has_type(data, len(data), kind)


def test_type0_says_minibios(fw: HostFirmware) -> None:
    buf = ctypes.create_string_buffer(128)
    size = fw.lib.smbios_type0(buf, 128)
    rec = buf.raw[:size]
    assert rec[0] == 0 and rec[1] == 0x18
    assert rec.endswith(b"\0\0")
    assert parse_strings(rec) == [b"minibios", b"0.1.0", b"04/01/2014"]
    assert fw.lib.smbios_has_type(rec, size, 0)
    assert fw.lib.smbios_type0(buf, 10) == 0  # no room: nothing written


def entry21() -> bytearray:
    e = bytearray(31)
    e[0:4] = b"_SM_"
    e[5] = 0x1F
    e[6], e[7] = 2, 8
    struct.pack_into("<H", e, 8, 0x40)
    e[0x10:0x15] = b"_DMI_"
    struct.pack_into("<HIH", e, 0x16, 300, 0, 9)
    return e


def entry30() -> bytearray:
    e = bytearray(24)
    e[0:5] = b"_SM3_"
    e[6] = 0x18
    e[7], e[8] = 3, 0
    return e


def test_patch_21(fw: HostFirmware) -> None:
    e = ctypes.create_string_buffer(bytes(entry21()), 31)
    assert fw.lib.smbios_patch_entry(e, 31, 0x1FFF0000, 350, 1, 0x60)
    raw = e.raw
    assert sum(raw) % 256 == 0
    assert sum(raw[0x10:0x1F]) % 256 == 0
    assert struct.unpack_from("<H", raw, 8)[0] == 0x60
    assert struct.unpack_from("<HIH", raw, 0x16) == (350, 0x1FFF0000, 10)


def test_patch_30(fw: HostFirmware) -> None:
    e = ctypes.create_string_buffer(bytes(entry30()), 24)
    assert fw.lib.smbios_patch_entry(e, 24, 0x1FFF0000, 350, 1, 0x60)
    raw = e.raw
    assert sum(raw) % 256 == 0
    assert struct.unpack_from("<IQ", raw, 0x0C) == (350, 0x1FFF0000)


def test_unknown_entry_point_is_refused(fw: HostFirmware) -> None:
    junk = ctypes.create_string_buffer(b"_XX_" + bytes(27), 31)
    assert not fw.lib.smbios_patch_entry(junk, 31, 0, 0, 0, 0)
    short = ctypes.create_string_buffer(bytes(entry21()[:20]), 20)
    assert not fw.lib.smbios_patch_entry(short, 20, 0, 0, 0, 0)
