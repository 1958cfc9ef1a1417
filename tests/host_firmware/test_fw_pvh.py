"""The boot information of PVH and multiboot kernels (firmware/pvh.c, multiboot.c)."""

from __future__ import annotations

import ctypes
import struct

from fwhost import E820Entry, E820Map, HostFirmware, MultibootInfo
from hypothesis import example, given
from hypothesis import strategies as st

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


MB_FLAGS_MEMORY, MB_FLAGS_MMAP = 1 << 0, 1 << 6
QEMU_BASE, MMAP_ROOM = 0x9000, 0x500
BLOCK = MMAP_ROOM + ctypes.sizeof(MultibootInfo)
BLOCK_SPOTS = (QEMU_BASE, 0x1000, 0x90000 - 0x1000)  # QEMU's, then low, then below the EBDA


def qemu_info(flags: int) -> bytes:
    """The information QEMU's multiboot loader hands over: flags, a command line at 0x200000."""
    # QEMU already says where the map is meant to go
    return bytes(MultibootInfo(flags=flags, cmdline=0x200000, mmap_addr=QEMU_BASE))


def written_info(guest_ram, mbi: int) -> MultibootInfo:
    return MultibootInfo.from_buffer_copy(guest_ram, mbi)


def test_multiboot_info_as_qemus_rom_fills_it(fw: HostFirmware, guest_ram) -> None:
    m = e820(
        (0, 0x9FC00, 1), (0x9FC00, 0xA0000, 2), (1 << 20, 64 << 20, 1), (64 << 20, 65 << 20, 2)
    )
    flags = MB_FLAGS_MEMORY | MB_FLAGS_MMAP
    mbi = fw.lib.multiboot_write_info(QEMU_BASE, qemu_info(flags), 88, ctypes.byref(m), 639)
    assert mbi == QEMU_BASE + MMAP_ROOM
    info = written_info(guest_ram, mbi)
    assert (info.flags, info.mem_lower, info.mem_upper) == (flags, 639, 63 * 1024)
    assert info.cmdline == 0x200000  # QEMU's fields kept
    assert (info.mmap_length, info.mmap_addr) == (4 * 24, QEMU_BASE)
    assert struct.unpack_from("<IQQI", guest_ram, QEMU_BASE + 2 * 24) == (20, 1 << 20, 63 << 20, 1)
    assert fw.lib.harness_stray_accesses() == 0


def test_multiboot_info_only_what_the_flags_claim(fw: HostFirmware, guest_ram) -> None:
    m = e820((0, 0x9FC00, 1), (1 << 20, 64 << 20, 1))
    mbi = fw.lib.multiboot_write_info(0x1000, qemu_info(0), 88, ctypes.byref(m), 639)
    info = written_info(guest_ram, mbi)
    assert (info.flags, info.mem_lower, info.mem_upper) == (0, 0, 0)
    assert (info.mmap_length, info.mmap_addr) == (0, QEMU_BASE)


def test_multiboot_info_short_from_qemu_is_zero_padded(fw: HostFirmware, guest_ram) -> None:
    guest_ram[0x1000 + MMAP_ROOM : 0x1000 + BLOCK] = b"\xee" * ctypes.sizeof(MultibootInfo)
    m = e820((0, 0x9FC00, 1), (1 << 20, 64 << 20, 1))
    mbi = fw.lib.multiboot_write_info(0x1000, qemu_info(0)[:20], 20, ctypes.byref(m), 639)
    info = written_info(guest_ram, mbi)
    assert info.cmdline == 0x200000
    assert (info.mods_count, info.mmap_addr, info.vbe_interface_len) == (0, 0, 0)


def test_multiboot_map_is_cut_to_qemus_room(fw: HostFirmware, guest_ram) -> None:
    m = e820(*((i << 20, (i << 20) + 4096, 1 + i % 2) for i in range(100)))
    mbi = fw.lib.multiboot_write_info(QEMU_BASE, qemu_info(MB_FLAGS_MMAP), 88, ctypes.byref(m), 639)
    assert written_info(guest_ram, mbi).mmap_length == MMAP_ROOM // 24 * 24


@given(st.integers(1 << 8, (4 << 20) - 1))
def test_multiboot_mem_upper_is_ram_from_1mib(fw: HostFirmware, hole_kb: int) -> None:
    """mem_upper: KiB of RAM contiguous from 1 MiB up to the first hole, as QEMU's ROM counts."""
    hole = hole_kb << 10
    whole = e820((0, 0x9FC00, 1), (1 << 20, 5 << 30, 1))
    assert fw.lib.multiboot_mem_upper_kb(ctypes.byref(whole)) == ((4 << 30) - (1 << 20)) >> 10
    if hole <= 1 << 20:
        return
    split = e820(
        (0, 0x9FC00, 1), (1 << 20, hole, 1), (hole, hole + 4096, 2), (hole + 4096, 5 << 30, 1)
    )
    assert fw.lib.multiboot_mem_upper_kb(ctypes.byref(split)) == (hole - (1 << 20)) >> 10


@given(st.integers(0, 0x100000), st.integers(0, 0x100000))
@example(0, 0x8F001)  # ends one byte into the last spot: no room, though below 0x90000
def test_multiboot_block_never_over_the_kernel(fw: HostFirmware, kernel: int, size: int) -> None:
    base = fw.lib.multiboot_block_base(kernel, size)
    if base == 0:  # only when the kernel overlaps every spot
        assert size and all(s < kernel + size and kernel < s + BLOCK for s in BLOCK_SPOTS)
        return
    assert base in BLOCK_SPOTS
    assert base + BLOCK <= kernel or base >= kernel + size or size == 0
    if size == 0 or kernel >= QEMU_BASE + BLOCK or kernel + size <= QEMU_BASE:
        assert base == QEMU_BASE  # QEMU's own place whenever it is free


def test_multiboot_block_moves_off_a_low_kernel(fw: HostFirmware) -> None:
    """kvm-unit-tests' realmode test spans 0x8000-0xda30, over QEMU's 0x9000/0x9500."""
    assert fw.lib.multiboot_block_base(0x8000, 0x5A30) == 0x1000
