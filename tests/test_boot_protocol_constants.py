"""The Linux boot protocol values the launcher reads kernels with (minibios.images.kernel_image)
are the firmware's (firmware/include/linux.h): one protocol, two readers, no drift."""

import struct

from c_header import header_ints

from minibios.images import kernel_image

# kernel_image's name -> linux.h's
PAIRS = {
    "BOOT_FLAG": "BOOT_FLAG_MAGIC",
    "DEFAULT_LOAD_ADDRESS": "LINUX_DEFAULT_LOAD",
    "LOADED_HIGH": "LOADFLAG_LOADED_HIGH",
}


def mismatches(python: dict[str, int], header: dict[str, int]) -> list[str]:
    return [
        f"{py} = {python[py]:#x}, linux.h {c} = {header.get(c)}"
        for py, c in PAIRS.items()
        if python[py] != header.get(c)
    ]


def test_kernel_image_agrees_with_linux_h() -> None:
    header = header_ints("linux.h")
    python = {name: getattr(kernel_image, name) for name in PAIRS}
    assert mismatches(python, header) == []
    assert struct.unpack("<I", kernel_image.HDRS)[0] == header["HDRS_MAGIC"]


def test_a_drift_is_caught() -> None:
    header = header_ints("linux.h")
    python = {name: getattr(kernel_image, name) for name in PAIRS} | {"LOADED_HIGH": 0x80}
    assert mismatches(python, header) == ["LOADED_HIGH = 0x80, linux.h LOADFLAG_LOADED_HIGH = 1"]
