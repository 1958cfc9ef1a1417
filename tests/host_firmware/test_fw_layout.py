"""The ctypes mirrors in fwhost.py against the C structs they mirror.

The harness exports the sizeof and every field's offset and size of each mirrored struct
as the C compiler laid it out (harness_layouts in firmware/host/harness.c);
a field added, removed, resized or moved on one side only fails here.
"""

from __future__ import annotations

import ctypes

import pytest
from fwhost import MIRRORS, HostFirmware


def mirror_layout(mirror: type[ctypes.Structure]) -> dict[str | None, tuple[int, int]]:
    """{field: (offset, size)}, the struct itself under None: as harness_layouts has it."""
    layout: dict[str | None, tuple[int, int]] = {None: (0, ctypes.sizeof(mirror))}
    for name, *_ in mirror._fields_:
        field = getattr(mirror, name)
        layout[name] = (field.offset, field.size)
    return layout


def test_every_exported_struct_has_a_mirror(fw: HostFirmware) -> None:
    assert set(fw.layouts()) == set(MIRRORS)


@pytest.mark.parametrize("struct", sorted(MIRRORS))
def test_mirror_matches_the_c(fw: HostFirmware, struct: str) -> None:
    c_layout = fw.layouts()[struct]
    py_layout = mirror_layout(MIRRORS[struct])
    assert py_layout == c_layout, f"struct {struct}: ctypes {py_layout} != C {c_layout}"


def test_a_drift_is_caught() -> None:
    class Shifted(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("addr", ctypes.c_uint64), ("size", ctypes.c_uint32), ("type", ctypes.c_uint32)]

    assert mirror_layout(Shifted) != mirror_layout(MIRRORS["e820_entry"])
