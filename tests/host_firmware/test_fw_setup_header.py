"""The setup header fields the launcher reads (minibios.images.kernel_image) sit where
the firmware's struct setup_header (firmware/include/linux.h) has them: one header, two
readers, checked against the C compiler's layout."""

import struct

from fwhost import HostFirmware

from minibios.images.kernel_image import SETUP_HEADER_FIELDS, SETUP_HEADER_OFFSET


def misplaced(fields: dict[str, tuple[int, str]], c_layout: dict) -> list[str]:
    wrong = []
    for name, (offset, fmt) in fields.items():
        where = c_layout.get(name)
        size = struct.calcsize("<" + fmt)
        if where != (offset - SETUP_HEADER_OFFSET, size):
            wrong.append(f"{name}: Python ({offset:#x}, {size}) C {where}")
    return wrong


def test_kernel_image_reads_the_c_layout(fw: HostFirmware) -> None:
    assert misplaced(SETUP_HEADER_FIELDS, fw.layouts()["setup_header"]) == []


def test_a_drift_is_caught(fw: HostFirmware) -> None:
    moved = SETUP_HEADER_FIELDS | {"init_size": (0x264, "I")}
    assert misplaced(moved, fw.layouts()["setup_header"]) == [
        "init_size: Python (0x264, 4) C (111, 4)"
    ]
