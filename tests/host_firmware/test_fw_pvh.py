"""The boot information of PVH and multiboot kernels (firmware/pvh.c, multiboot.c)."""

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


def test_multiboot_memory_map(fw: HostFirmware, guest_ram) -> None:
    mbi, mmap = 0x9500, 0x9000
    struct.pack_into("<I", guest_ram, mbi, 1 << 6)  # flags: wants a memory map
    struct.pack_into("<I", guest_ram, mbi + 48, mmap)
    m = e820((0, 0xA0000, 1), (1 << 20, 64 << 20, 1))
    fw.lib.multiboot_fill_mmap(mbi, ctypes.byref(m))
    assert struct.unpack_from("<I", guest_ram, mbi + 44)[0] == 2 * 24
    assert struct.unpack_from("<IQQI", guest_ram, mmap + 24) == (20, 1 << 20, 63 << 20, 1)


def test_multiboot_without_mmap_flag_is_left_alone(fw: HostFirmware, guest_ram) -> None:
    mbi = 0x9500
    struct.pack_into("<IQ", guest_ram, mbi, 0, 0)
    fw.lib.multiboot_fill_mmap(mbi, ctypes.byref(e820((0, 0xA0000, 1))))
    assert struct.unpack_from("<I", guest_ram, mbi + 44)[0] == 0
