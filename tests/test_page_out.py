"""Paging QEMU's mapping of the -kernel file out of its resident set (vm/page_out.py)."""

import mmap
import os
from pathlib import Path

import pytest

from minibios.vm.page_out import Mapping, file_mappings, page_out, page_out_file
from minibios.vm.spec import VmSpec

MIB = 1024 * 1024
SOCK = Path("/tmp/x/qmp.sock")


def mapped_rss_kib(path: Path) -> int:
    """Rss of this process's mappings of `path`, from /proc/self/smaps."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            inside = len(fields) == 6 and fields[5] == str(path.resolve())
        elif inside and line.startswith("Rss:"):
            total += int(fields[1])
    return total


def test_file_mappings_picks_the_file_by_its_resolved_path(tmp_path: Path) -> None:
    kernel = tmp_path / "vmlinux.elf"
    kernel.write_bytes(b"x")
    maps = "\n".join([
        f"7f0000000000-7f0000200000 rw-p 00000000 fe:01 12 {kernel}",
        "7f0000200000-7f0000400000 rw-p 00000000 00:00 0 ",
        f"7f0000400000-7f0000401000 r--p 00000000 fe:01 13 {kernel}.other",
        f"7f0000500000-7f0000600000 r--p 00200000 fe:01 12 {kernel}",
    ])  # fmt: skip
    assert file_mappings(maps, tmp_path / "." / "vmlinux.elf") == [
        Mapping(0x7F0000000000, 0x7F0000200000),
        Mapping(0x7F0000500000, 0x7F0000600000),
    ]
    assert file_mappings(maps, tmp_path / "bzImage") == []


def test_page_out_takes_a_read_file_out_of_the_resident_set(tmp_path: Path) -> None:
    # A private file: no other process may map it (the kernel skips shared pages).
    path = tmp_path / "kernel.elf"
    payload = os.urandom(8 * MIB)
    path.write_bytes(payload)
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, mmap.MAP_PRIVATE) as view:
        assert view[::4096] == payload[::4096]  # fault every page in, as QEMU's copy does
        assert mapped_rss_kib(path) >= 8 * 1024
        try:
            page_out(os.getpid(), file_mappings(Path("/proc/self/maps").read_text(), path))
        except PermissionError:
            pytest.skip("process_madvise needs CAP_SYS_NICE")
        assert mapped_rss_kib(path) < 1024
        assert view[:] == payload  # read back from the file on the next touch
    assert page_out_file(os.getpid(), path) == 0  # nothing maps it any more


def test_page_out_file_leaves_a_gone_process_alone(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_bytes(b"\0")
    assert page_out_file(2**22 + 1, path) is None  # above pid_max's default: no such pid


def test_page_out_is_the_launchers_not_a_qemu_option() -> None:
    assert VmSpec().kernel_page_out is True
    on = VmSpec(kernel=Path("/k"))
    assert on.argv(SOCK) == VmSpec(kernel=Path("/k"), kernel_page_out=False).argv(SOCK)
    assert on.to_json()["kernel_page_out"] is True
