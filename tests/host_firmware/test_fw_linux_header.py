"""The boot protocol checks and initrd placement (firmware/linux_header.c)."""

from __future__ import annotations

import ctypes
import struct

from fwhost import BootParams, E820Entry, E820Map, HostFirmware, LinuxImage
from hypothesis import given
from hypothesis import strategies as st

HDR = 0x1F1
MiB = 1 << 20


def setup_block(
    *,
    setup_sects: int = 27,
    boot_flag: int = 0xAA55,
    magic: bytes = b"HdrS",
    version: int = 0x020F,
    loadflags: int = 1,
    initrd_addr_max: int = 0x7FFFFFFF,
    cmdline_size: int = 2047,
    init_size: int = 40 * MiB,
    xloadflags: int = 0x7F,
    relocatable: int = 1,
    pref_address: int = 16 * MiB,
    kernel_alignment: int = 2 * MiB,
) -> bytearray:
    size = ((setup_sects or 4) + 1) * 512
    b = bytearray(max(size, 0x270))
    b[HDR] = setup_sects
    struct.pack_into("<H", b, 0x1FE, boot_flag)
    b[0x202:0x206] = magic
    struct.pack_into("<H", b, 0x206, version)
    b[0x211] = loadflags
    struct.pack_into("<I", b, 0x22C, initrd_addr_max)
    struct.pack_into("<I", b, 0x238, cmdline_size)
    struct.pack_into("<I", b, 0x260, init_size)
    struct.pack_into("<H", b, 0x236, xloadflags)
    b[0x234] = relocatable
    struct.pack_into("<Q", b, 0x258, pref_address)
    struct.pack_into("<I", b, 0x230, kernel_alignment)
    b[0x201] = 0x6A  # the jump over the header: it ends at 0x202 + 0x6a = 0x26c
    return b


def image(block: bytes, **kw: int) -> LinuxImage:
    img = LinuxImage(
        setup_size=kw.get("setup_size", ((block[HDR] or 4) + 1) * 512),
        kernel_addr=kw.get("kernel_addr", MiB),
        kernel_size=kw.get("kernel_size", 14 * MiB),
        cmdline_size=kw.get("cmdline_size", 20),
        initrd_size=kw.get("initrd_size", 0),
    )
    return img


def check(fw: HostFirmware, block: bytes, img: LinuxImage) -> str | None:
    why = fw.lib.linux_check_setup(bytes(block), ctypes.byref(img))
    return why.decode() if why else None


def test_a_good_header_passes(fw: HostFirmware) -> None:
    b = setup_block()
    assert check(fw, b, image(b)) is None


def test_each_bad_header_has_its_reason(fw: HostFirmware) -> None:
    cases = {
        "no 0xaa55 boot flag": setup_block(boot_flag=0),
        "no HdrS signature": setup_block(magic=b"Junk"),
        "boot protocol too old": setup_block(version=0x0205),
        "not loaded high": setup_block(loadflags=0),
    }
    for reason, b in cases.items():
        assert reason in (check(fw, b, image(b)) or "")
    b = setup_block()
    assert "setup_sects" in check(fw, b, image(b, setup_size=len(b) + 512))
    assert "too small" in check(fw, b, image(b, setup_size=0x100))
    assert "command line longer" in check(fw, b, image(b, cmdline_size=5000))


@given(st.binary(min_size=0x270, max_size=0x8000), st.integers(0, 0x9000))
def test_arbitrary_bytes_never_crash(fw: HostFirmware, data: bytes, setup_size: int) -> None:
    img = image(data.ljust(0x270, b"\0"), setup_size=setup_size)
    check(fw, data, img)


@given(
    kernel_size=st.integers(0, 64 * MiB),
    init_size=st.integers(0, 256 * MiB),
    initrd_size=st.integers(0, 1 << 32),
    initrd_addr_max=st.integers(0, 2**32 - 1),
    ram_end=st.integers(MiB, 1 << 33),
)
def test_initrd_placement(
    fw: HostFirmware,
    kernel_size: int,
    init_size: int,
    initrd_size: int,
    initrd_addr_max: int,
    ram_end: int,
) -> None:
    b = setup_block(initrd_addr_max=initrd_addr_max, init_size=init_size)
    img = image(b, kernel_size=kernel_size, initrd_size=min(initrd_size, 2**32 - 1))
    why = fw.lib.linux_place(bytes(b[HDR:]), ctypes.byref(img), ram_end)
    if why:
        return
    assert img.kernel_addr in (MiB, 16 * MiB)
    kernel_end = img.kernel_addr + max(kernel_size, init_size)
    assert kernel_end <= ram_end
    if img.initrd_size:
        start, end = img.initrd_addr, img.initrd_addr + img.initrd_size
        assert start % 4096 == 0
        assert start >= kernel_end
        assert end <= min(initrd_addr_max + 1, ram_end)
        # It goes as high as it can: one more page up would not fit.
        assert start + 4096 + img.initrd_size > min(initrd_addr_max + 1, ram_end)


def test_a_20_mib_initrd_fits_in_512_mib(fw: HostFirmware) -> None:
    b = setup_block()
    img = image(b, initrd_size=20 * MiB)
    assert fw.lib.linux_place(bytes(b[HDR:]), ctypes.byref(img), 512 * MiB) is None
    assert img.initrd_addr == (512 - 20) * MiB
    assert img.kernel_addr == 16 * MiB  # pref_address of a relocatable kernel


def test_an_initrd_larger_than_ram_is_refused(fw: HostFirmware) -> None:
    b = setup_block()
    img = image(b, initrd_size=600 * MiB)
    why = fw.lib.linux_place(bytes(b[HDR:]), ctypes.byref(img), 512 * MiB)
    assert why == b"initrd does not fit in RAM between the kernel and its address limit"


def test_kernel_goes_to_1_mib_when_pref_address_leaves_no_room(fw: HostFirmware) -> None:
    b = setup_block()
    img = image(b, initrd_size=470 * MiB)  # fits only if the kernel starts at 1 MiB
    assert fw.lib.linux_place(bytes(b[HDR:]), ctypes.byref(img), 512 * MiB) is None
    assert img.kernel_addr == MiB
    for bad in (setup_block(relocatable=0), setup_block(pref_address=16 * MiB + 4096)):
        img = image(bad)
        assert fw.lib.linux_place(bytes(bad[HDR:]), ctypes.byref(img), 512 * MiB) is None
        assert img.kernel_addr == MiB


def test_protocol_choice(fw: HostFirmware) -> None:
    with64, without = setup_block(), setup_block(xloadflags=0)
    pick = fw.lib.linux_pick_protocol
    assert pick(bytes(with64[HDR:]), 0) == 64
    assert pick(bytes(without[HDR:]), 0) == 32
    assert pick(bytes(without[HDR:]), 64) == 32
    assert pick(bytes(with64[HDR:]), 16) == 16
    assert pick(bytes(with64[HDR:]), 32) == 32


def test_setup_data_chain_follows_the_kernel(fw: HostFirmware, guest_ram) -> None:
    # Two entries at the end of a kernel that moved from 0x10000 to 0x40000.
    old, new, size = 0x10000, 0x40000, 0x2000
    first, second = old + 0x1000, old + 0x1800
    struct.pack_into("<QII", guest_ram, first - old + new, second, 1, 8)
    struct.pack_into("<QII", guest_ram, second - old + new, 0, 8, 8)
    b = setup_block()
    struct.pack_into("<Q", b, 0x250, first)
    hdr = ctypes.create_string_buffer(bytes(b[HDR:]), len(b) - HDR)
    fw.lib.linux_relocate_setup_data(hdr, old, new, size)
    assert struct.unpack_from("<Q", hdr.raw, 0x250 - HDR)[0] == first - old + new
    assert struct.unpack_from("<Q", guest_ram, first - old + new)[0] == second - old + new
    assert struct.unpack_from("<Q", guest_ram, second - old + new)[0] == 0
    assert fw.lib.harness_stray_accesses() == 0


def test_setup_data_outside_the_kernel_stays(fw: HostFirmware, guest_ram) -> None:
    b = setup_block()
    struct.pack_into("<Q", b, 0x250, 0x90000)
    hdr = ctypes.create_string_buffer(bytes(b[HDR:]), len(b) - HDR)
    fw.lib.linux_relocate_setup_data(hdr, 0x10000, 0x40000, 0x2000)
    assert struct.unpack_from("<Q", hdr.raw, 0x250 - HDR)[0] == 0x90000


def test_boot_params(fw: HostFirmware) -> None:
    b = setup_block(version=0x020F)
    img = image(b, initrd_size=8 * MiB)
    img.kernel_addr, img.initrd_addr = 16 * MiB, 500 * MiB
    m = E820Map()
    for i, (start, end, kind) in enumerate(
        [(0, 0xA0000, 1), (0xF0000, MiB, 2), (MiB, 510 * MiB, 1), (510 * MiB, 512 * MiB, 2)]
    ):
        m.entry[i] = E820Entry(start, end - start, kind)
    m.count = 4
    bp = BootParams()
    fw.lib.linux_fill_boot_params(
        ctypes.byref(bp), bytes(b), ctypes.byref(img), ctypes.byref(m), 0x20000, 0xF5A0
    )
    assert bp.acpi_rsdp_addr == 0xF5A0
    assert bp.e820_entries == 4
    e = bp.e820_table[2]
    assert (e.addr, e.size, e.type) == (MiB, 509 * MiB, 1)
    assert bp.alt_mem_k == 509 * 1024
    assert bp.hdr.header == int.from_bytes(b"HdrS", "little")
    assert (bp.hdr.ramdisk_image, bp.hdr.ramdisk_size) == (500 * MiB, 8 * MiB)
    assert bp.hdr.cmd_line_ptr == 0x20000
    assert bp.hdr.code32_start == 16 * MiB
    assert bytes(bp._pad_0x26c) == bytes(len(bp._pad_0x26c))  # nothing past the header
    assert (bp.ext_ramdisk_image, bp.ext_ramdisk_size, bp.ext_cmd_line_ptr) == (0, 0, 0)


def test_boot_params_header_copy_stops_at_the_e820_table(fw: HostFirmware) -> None:
    """A header whose jump claims more than fits is cut where the e820 table starts."""
    b = setup_block()
    b[0x201] = 0xFF  # would run to 0x301
    b[0x26C:0x2D8] = b"\xee" * (0x2D8 - 0x26C)
    img = image(b)
    m = E820Map()
    bp = BootParams()
    fw.lib.linux_fill_boot_params(
        ctypes.byref(bp), bytes(b), ctypes.byref(img), ctypes.byref(m), 0x20000, 0
    )
    assert bytes(bp._pad_0x26c) == b"\xee" * len(bp._pad_0x26c)  # a newer header's tail kept
    assert bytes(bp)[0x2D0:0x2D8] == bytes(8)  # the (empty) table untouched
    assert bp.e820_entries == 0


def test_header_patch(fw: HostFirmware) -> None:
    b = setup_block()
    img = image(b, initrd_size=4096)
    img.initrd_addr = 0x1000_0000
    hdr = ctypes.create_string_buffer(bytes(b[HDR:]), len(b) - HDR)
    fw.lib.linux_patch_header(hdr, ctypes.byref(img), 0x20000)
    raw = hdr.raw
    assert raw[0x210 - HDR] == 0xFF
    assert raw[0x211 - HDR] & 0x80
    assert struct.unpack_from("<I", raw, 0x214 - HDR)[0] == MiB
    assert struct.unpack_from("<II", raw, 0x218 - HDR) == (0x1000_0000, 4096)
    assert struct.unpack_from("<H", raw, 0x224 - HDR)[0] == 0xFE00
    assert struct.unpack_from("<I", raw, 0x228 - HDR)[0] == 0x20000
