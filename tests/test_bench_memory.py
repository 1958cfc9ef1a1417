"""`minibios bench-memory` and the TCG translation-cache size on QEMU's command line."""

import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from vm_support import run_cli

from minibios.bench.memory import (
    BOOT_TIMEOUT,
    QEMU_DEFAULT,
    MemoryCase,
    MemoryPlan,
    MemoryRun,
    _cpu_seconds,
    _mapped_rss_kib,
    _status_kib,
    render_memory,
    with_private_kernel,
)
from minibios.cli.bench_memory import demo_config
from minibios.images.report import REPORT_RE
from minibios.vm.machine import Machine, VmEnd
from minibios.vm.spec import SpecError, VmSpec

SOCK = Path("/tmp/x/qmp.sock")


def accel_of(config: VmSpec) -> str:
    argv = config.argv(SOCK)
    return argv[argv.index("-accel") + 1]


def test_tb_size_reaches_the_accel_option() -> None:
    assert accel_of(VmSpec(tcg_tb_size=24)) == "tcg,tb-size=24"
    assert accel_of(VmSpec(tcg_tb_size=None)) == "tcg"
    # KVM translates nothing: no tb-size for it.
    assert accel_of(VmSpec(accel="kvm", tcg_tb_size=24)) == "kvm"
    with pytest.raises(SpecError, match="tb-size"):
        VmSpec(tcg_tb_size=0)


def test_proc_readers_on_this_process() -> None:
    assert _status_kib(os.getpid(), "status", "VmHWM") > 0
    assert _cpu_seconds(os.getpid()) > 0


def test_table_shows_medians_and_cpu_ratio() -> None:
    plan = MemoryPlan(
        machines=("pc",),
        firmwares=("minibios",),
        tb_sizes=(QEMU_DEFAULT, 16),
        kernel_page_outs=(True, False),
    )
    default, default_kept, small, small_kept = plan.cases()
    assert not default_kept.kernel_page_out and small.kernel_page_out
    runs = [
        MemoryRun(default, True, 200 * 1024, 180 * 1024, 5.0, 2.0, kernel_rss_kib=0),
        MemoryRun(default, True, 210 * 1024, 190 * 1024, 7.0, 4.0, kernel_rss_kib=100),
        MemoryRun(default, True, 220 * 1024, 200 * 1024, 9.0, 3.0, kernel_rss_kib=200),
        MemoryRun(small, True, 170 * 1024, 150 * 1024, 6.0, 3.3),
        MemoryRun(small, False, error="boom"),
        MemoryRun(small_kept, True, 200 * 1024, 180 * 1024, 6.0, 3.6, kernel_rss_kib=33 * 1024),
    ]
    table = render_memory(plan, runs).splitlines()
    assert table[2] == (
        "| pc | minibios | default | on | 210.0 | 0.1 | 190.0 | 7.00 | 3.00 | 1.00 | 3/3 |"
    )
    assert table[3] == "| pc | minibios | default | off | - | - | - | - | - | - | 0/0 |"
    assert table[4] == "| pc | minibios | 16M | on | 170.0 | - | 150.0 | 6.00 | 3.30 | 1.10 | 1/2 |"
    # The CPU ratio is to the first tb-size with the first page-out setting.
    assert (
        table[5]
        == "| pc | minibios | 16M | off | 200.0 | 33.0 | 180.0 | 6.00 | 3.60 | 1.20 | 1/1 |"
    )
    assert MemoryCase("q35", "qboot", 8).label == "q35/qboot/tb-size 8M/kernel page-out on"


def test_each_kernel_file_is_copied_once(tmp_path: Path) -> None:
    kernel = tmp_path / "vmlinux.elf"
    kernel.write_bytes(b"ELF kernel")
    private_dir = tmp_path / "private"
    private_dir.mkdir()

    def configure(machine: str, firmware: str, memory: str) -> VmSpec:
        return VmSpec(machine=machine, kernel=kernel if firmware == "minibios" else None)

    private = with_private_kernel(configure, private_dir)
    first, second = private("pc", "minibios", "512M"), private("q35", "minibios", "512M")
    assert first.kernel == second.kernel == private_dir / "0-vmlinux.elf"
    assert first.kernel.read_bytes() == b"ELF kernel" and second.machine == "q35"
    assert private("pc", "qboot", "512M").kernel is None
    assert [p.name for p in private_dir.iterdir()] == ["0-vmlinux.elf"]


@pytest.mark.boot
def test_a_smaller_translation_cache_lowers_peak_rss(short_tmp: Path) -> None:
    # Page-out off: whether it can take the kernel file out of QEMU depends on other
    # VMs mapping the same file at that moment; this test is about the cache only.
    result = run_cli("bench-memory", "--machine", "pc", "--firmware", "minibios",
                     "--tb-size", "0,16", "--kernel-page-out", "off", "--runs", "1",
                     tmpdir=short_tmp, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        match = re.match(r"\| pc \| minibios \| (\S+) \| off \| ([\d.]+) \| ([\d.]+) \|", line)
        if match:
            rows[match.group(1)] = float(match.group(2))
    assert set(rows) == {"default", "16M"}, result.stdout
    # The boot translates ~40 MiB of code; a 16 MiB cache caps that part.
    assert rows["16M"] < rows["default"] - 15, rows


@pytest.mark.boot
def test_qemu_keeps_no_resident_copy_of_the_kernel(short_tmp: Path) -> None:
    """The demo's vmlinux leaves QEMU's RSS once loaded, and the boot reports the same.

    A private copy of the file, so that no other VM shares its pages (the kernel
    leaves pages alone that another process maps).
    """
    base = demo_config("pc", "minibios", "512M")
    assert base.kernel is not None and base.kernel.suffix == ".elf"  # PVH: QEMU maps it
    kernel = short_tmp / "vmlinux.elf"
    shutil.copyfile(base.kernel, kernel)
    resident = {}
    for page_out in (True, False):
        spec = replace(base, kernel=kernel, kernel_page_out=page_out)
        spec = replace(spec, extra_args=(*spec.extra_args, "-no-shutdown"))
        with Machine(spec) as vm:
            vm.wait_for(REPORT_RE, BOOT_TIMEOUT)
            assert vm.pid is not None
            resident[page_out] = (
                _mapped_rss_kib(vm.pid, kernel) / 1024,
                _status_kib(vm.pid, "status", "VmHWM") / 1024,
            )
            vm.wait_exit(BOOT_TIMEOUT)
        assert vm.end is VmEnd.POWERED_OFF
    (kept_on, peak_on), (kept_off, peak_off) = resident[True], resident[False]
    # The cloud kernel loads 32.6 MiB from the file; QEMU keeps them all without page-out.
    assert kept_off > 30 and kept_on < 1, resident
    assert peak_on < peak_off - 25, resident
