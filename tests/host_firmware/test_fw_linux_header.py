"""The boot protocol checks and initrd placement (firmware/linux_header.c)."""

from __future__ import annotations

import ctypes
import struct

from fwhost import HostFirmware, LinuxImage
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
    why = fw.lib.linux_place_initrd(bytes(b[HDR:]), ctypes.byref(img), ram_end)
    kernel_end = MiB + max(kernel_size, init_size)
    if why:
        return
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
    assert fw.lib.linux_place_initrd(bytes(b[HDR:]), ctypes.byref(img), 512 * MiB) is None
    assert img.initrd_addr == (512 - 20) * MiB


def test_an_initrd_larger_than_ram_is_refused(fw: HostFirmware) -> None:
    b = setup_block()
    img = image(b, initrd_size=600 * MiB)
    why = fw.lib.linux_place_initrd(bytes(b[HDR:]), ctypes.byref(img), 512 * MiB)
    assert why == b"initrd does not fit in RAM between the kernel and its address limit"


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
