"""`minibios bench-memory` and the TCG translation-cache size on QEMU's command line."""

import os
import re
from pathlib import Path

import pytest
from vm_support import run_cli

from minibios.bench.memory import (
    QEMU_DEFAULT,
    MemoryCase,
    MemoryPlan,
    MemoryRun,
    _cpu_seconds,
    _status_kib,
    render_memory,
)
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
    plan = MemoryPlan(machines=("pc",), firmwares=("minibios",), tb_sizes=(QEMU_DEFAULT, 16))
    default, small = plan.cases()
    runs = [
        MemoryRun(default, True, 200 * 1024, 180 * 1024, 5.0, 2.0),
        MemoryRun(default, True, 210 * 1024, 190 * 1024, 7.0, 4.0),
        MemoryRun(default, True, 220 * 1024, 200 * 1024, 9.0, 3.0),
        MemoryRun(small, True, 170 * 1024, 150 * 1024, 6.0, 3.3),
        MemoryRun(small, False, error="boom"),
    ]
    table = render_memory(plan, runs).splitlines()
    assert table[2] == "| pc | minibios | default | 210.0 | 190.0 | 7.00 | 3.00 | 1.00 | 3/3 |"
    assert table[3] == "| pc | minibios | 16M | 170.0 | 150.0 | 6.00 | 3.30 | 1.10 | 1/2 |"
    assert MemoryCase("q35", "qboot", 8).label == "q35/qboot/tb-size 8M"


@pytest.mark.boot
def test_a_smaller_translation_cache_lowers_peak_rss(short_tmp: Path) -> None:
    result = run_cli("bench-memory", "--machine", "pc", "--firmware", "minibios",
                     "--tb-size", "0,16", "--runs", "1", tmpdir=short_tmp,
                     timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        match = re.match(r"\| pc \| minibios \| (\S+) \| ([\d.]+) \| ([\d.]+) \|", line)
        if match:
            rows[match.group(1)] = float(match.group(2))
    assert set(rows) == {"default", "16M"}, result.stdout
    # The boot translates ~40 MiB of code; a 16 MiB cache caps that part.
    assert rows["16M"] < rows["default"] - 15, rows
