"""The fw_cfg file directory lookup (firmware/fw_cfg.c)."""

from __future__ import annotations

import ctypes
import struct

from fwhost import FwCfgDir, FwCfgFile, HostFirmware
from hypothesis import given
from hypothesis import strategies as st


def directory(names: list[bytes]) -> tuple[FwCfgDir, ctypes.Array]:
    files = (FwCfgFile * max(len(names), 1))()
    for i, name in enumerate(names):
        files[i] = FwCfgFile(struct.unpack(">I", struct.pack("<I", 100 + i))[0], 0, 0, name)
    return FwCfgDir(len(names), files), files


def find(fw: HostFirmware, d: FwCfgDir, name: bytes) -> int | None:
    fn = fw.lib.fw_cfg_dir_find
    fn.restype = ctypes.POINTER(FwCfgFile)
    fn.argtypes = [ctypes.POINTER(FwCfgDir), ctypes.c_char_p]
    hit = fn(ctypes.byref(d), name)
    if not hit:
        return None
    return ctypes.addressof(hit.contents)


def test_finds_exact_names_only(fw: HostFirmware) -> None:
    d, files = directory([b"etc/acpi/rsdp", b"etc/acpi/tables", b"etc/e820"])
    assert find(fw, d, b"etc/acpi/tables") == ctypes.addressof(files[1])
    assert find(fw, d, b"etc/acpi") is None
    assert find(fw, d, b"etc/e8200") is None
    assert find(fw, directory([])[0], b"etc/e820") is None


@given(st.lists(st.binary(min_size=1, max_size=55).filter(lambda b: b"\0" not in b), max_size=20))
def test_every_listed_name_is_found_at_its_first_place(fw: HostFirmware, names) -> None:
    d, files = directory(names)
    for name in names:
        assert find(fw, d, name) == ctypes.addressof(files[names.index(name)])


def test_a_name_filling_all_56_bytes_is_not_overrun(fw: HostFirmware) -> None:
    full = b"x" * 56  # no terminating NUL in the entry
    d, files = directory([full])
    assert find(fw, d, full) == ctypes.addressof(files[0])
