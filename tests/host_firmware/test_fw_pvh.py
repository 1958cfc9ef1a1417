"""hvm_start_info for PVH kernels (firmware/pvh.c)."""

from __future__ import annotations

import ctypes
import struct

from fwhost import E820Entry, E820Map, HostFirmware

ADDR = 0x8000


def e820(*ranges: tuple[int, int, int]) -> E820Map:
    m = E820Map()
    for i, (start, end, kind) in enumerate(ranges):
        m.entry[i] = E820Entry(start, end - start, kind)
    m.count = len(ranges)
    return m


def test_start_info_with_an_initrd(fw: HostFirmware, guest_ram) -> None:
    m = e820((0, 0xA0000, 1), (0xF0000, 1 << 20, 2), (1 << 20, 500 << 20, 1))
    used = fw.lib.pvh_fill_start_info(ADDR, ctypes.byref(m), 0x20000, 0x1F000000, 4096, 0xF5A0)
    magic, version, _flags, nr_modules, modlist, cmdline, rsdp, memmap, entries = (
        struct.unpack_from("<IIIIQQQQI", guest_ram, ADDR)
    )
    assert (magic, version, nr_modules) == (0x336EC578, 1, 1)
    assert (cmdline, rsdp, entries) == (0x20000, 0xF5A0, 3)
    assert struct.unpack_from("<QQ", guest_ram, modlist) == (0x1F000000, 4096)
    assert struct.unpack_from("<QQI", guest_ram, memmap + 2 * 24) == (1 << 20, 499 << 20, 1)
    assert used == memmap + 3 * 24 - ADDR
    assert fw.lib.harness_stray_accesses() == 0


def test_no_initrd_no_module(fw: HostFirmware, guest_ram) -> None:
    m = e820((0, 0xA0000, 1))
    fw.lib.pvh_fill_start_info(ADDR, ctypes.byref(m), 0x20000, 0, 0, 0)
    _magic, _v, _f, nr_modules, modlist = struct.unpack_from("<IIIIQ", guest_ram, ADDR)
    assert (nr_modules, modlist) == (0, 0)
