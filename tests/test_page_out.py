"""Paging QEMU's mapping of the -kernel file out of its resident set (vm/page_out.py)."""

import mmap
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from minibios.bench.memory import BOOT_TIMEOUT, _mapped_rss_kib
from minibios.cli.bench_memory import demo_config
from minibios.images.init_script import HOLD_FLAG
from minibios.images.report import REPORT_RE
from minibios.vm.machine import Machine
from minibios.vm.page_out import Mapping, file_mappings, page_out, page_out_file
from minibios.vm.spec import VmSpec

MIB = 1024 * 1024
SOCK = Path("/tmp/x/qmp.sock")


def mapped_rss_kib(path: Path) -> int:
    return _mapped_rss_kib(os.getpid(), path)


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


@pytest.mark.parametrize(("extra", "paged"), [((), True), (("-incoming", "defer"), False)])
def test_a_restore_pages_nothing_out(
    monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...], paged: bool
) -> None:
    """An -incoming QEMU has copied no kernel yet: no maps read, no readahead."""
    calls: list[int] = []
    monkeypatch.setattr("minibios.vm.machine.page_out_file", lambda pid, path: calls.append(pid))
    machine = Machine(VmSpec(kernel=Path("/k"), extra_args=extra))
    machine._proc = subprocess.Popen(["true"])  # any process: only its pid is passed
    machine._proc.wait()
    machine._page_out_kernel()
    assert bool(calls) == paged


@pytest.mark.boot
def test_a_reset_after_page_out_loads_the_kernel_again(short_tmp: Path) -> None:
    """QMP system_reset copies the kernel from the file again: the same guest boots."""
    base = demo_config("pc", "minibios", "512M")
    assert base.kernel is not None and base.kernel.suffix == ".elf"  # PVH: QEMU maps it
    kernel = short_tmp / "vmlinux.elf"  # private: no other VM keeps its pages mapped
    shutil.copyfile(base.kernel, kernel)
    spec = replace(
        base,
        kernel=kernel,
        append=f"{base.append} {HOLD_FLAG}",
        extra_args=("-action", "reboot=reset"),
    )
    reports, resident = [], []
    with Machine(spec) as vm:
        since = 0
        for boot in range(2):
            match = vm.wait_for(REPORT_RE, BOOT_TIMEOUT, since)
            since = match.end()
            reports.append(match.group(1))
            assert vm.pid is not None
            resident.append(_mapped_rss_kib(vm.pid, kernel))
            if boot == 0:
                vm.qmp.cmd("system_reset")
    assert reports[1] == reports[0]
    # Paged out after the first load; the reset's copy faulted the file back in.
    assert resident[0] < 1024 and resident[1] > 30 * 1024, resident
