"""`minibios bench-parallel`: the figures' arithmetic and text, and real small runs."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest
from vm_support import BOOT_APPEND, BootImages, popen_cli, qemu_pids, read_until, run_cli

from minibios.bench.parallel import (
    AT_ONCE,
    ONE_BY_ONE,
    Batch,
    ParallelPlan,
    ParallelResult,
    VmRun,
    render_parallel,
    to_json,
)
from minibios.firmware.choice import Firmware, FirmwareKind
from minibios.images.init_script import HOLD_FLAG
from minibios.sizes import MIB
from minibios.vm.machine import VmEnd
from minibios.vm.spec import VmSpec

GOOD = VmRun(VmEnd.POWERED_OFF, 2.0, 2.1)


def result(at_once_runs: tuple[VmRun, ...] = (GOOD, GOOD)) -> ParallelResult:
    minibios = Firmware("minibios", Path("/rom"), FirmwareKind.MINIBIOS)
    spec = VmSpec(memory=256 * MIB, kernel=Path("/k"), firmware=minibios)
    plan = ParallelPlan(spec, vms=2)
    serial = Batch(ONE_BY_ONE, 4.4, (GOOD, VmRun(VmEnd.POWERED_OFF, 2.2, 2.3)))
    return ParallelResult(plan, serial, Batch(AT_ONCE, 3.3, at_once_runs))


def test_ratio_and_text() -> None:
    r = result()
    assert r.ratio == pytest.approx(0.75) and r.ok
    text = render_parallel(r)
    assert "2 VMs, pc, 256 MiB each, firmware minibios, TCG" in text
    assert re.search(r"^one by one\s+4\.40 s\s+2\.10 s\s+2\.20 s$", text, re.MULTILINE)
    assert re.search(r"^at once\s+3\.30 s\s+2\.00 s\s+2\.10 s$", text, re.MULTILINE)
    assert "at once / one by one: 0.75 of the wall time (1.33x the throughput)" in text
    assert "all 4 VMs reached /init and powered off" in text
    assert "FAILED" not in text


def test_a_vm_that_failed_is_named() -> None:
    r = result((GOOD, VmRun(VmEnd.TIMEOUT, None, None)))
    assert not r.ok
    text = render_parallel(r)
    assert "reached /init and powered off" not in text
    assert "FAILED: at once VM 2 did not reach /init and ended: timeout" in text
    data = to_json(r)
    assert data["ok"] is False
    failed = data["batches"][AT_ONCE]["runs"][1]
    assert failed == {"end": "timeout", "to_init": None, "to_end": None}


@pytest.mark.boot
def test_two_vms_at_once_and_one_by_one(
    firmware: str, boot_images: BootImages, short_tmp: Path, tmp_path: Path
) -> None:
    out = tmp_path / "parallel.json"
    result = run_cli("bench-parallel", "--vms", "2", "--firmware", firmware,
                     "--initrd", str(boot_images.plain_initrd), "--json", str(out),
                     tmpdir=short_tmp)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text())
    batches = data["batches"]
    for batch in batches.values():
        assert [run["end"] for run in batch["runs"]] == ["powered off"] * 2
        assert all(0 < run["to_init"] <= run["to_end"] for run in batch["runs"])
    # One by one, the wall time covers every VM's run; at once, the longest one.
    serial, parallel = batches[ONE_BY_ONE], batches[AT_ONCE]
    assert serial["wall"] >= sum(run["to_end"] for run in serial["runs"])
    assert parallel["wall"] >= max(run["to_end"] for run in parallel["runs"])
    assert data["ratio"] == pytest.approx(parallel["wall"] / serial["wall"])
    text = result.stdout
    assert f"one by one{serial['wall']:>11.2f} s" in text
    assert f"at once   {parallel['wall']:>11.2f} s" in text
    assert f"at once / one by one: {data['ratio']:.2f} of the wall time" in text
    assert "all 4 VMs reached /init and powered off" in text
    assert list(short_tmp.iterdir()) == [], "temporary files left behind"


@pytest.mark.boot
def test_vms_that_do_not_reach_init_fail_the_bench(
    firmware: str, boot_images: BootImages, short_tmp: Path
) -> None:
    result = run_cli("bench-parallel", "--vms", "1", "--firmware", firmware,
                     "--initrd", str(boot_images.plain_initrd),
                     "--append", "console=ttyS0 panic=-1 rdinit=/nonexistent",
                     tmpdir=short_tmp)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    for mode in (ONE_BY_ONE, AT_ONCE):
        assert f"FAILED: {mode} VM 1 did not reach /init and ended: panicked" in result.stdout


@pytest.mark.boot
def test_interrupt_stops_every_vm_of_the_batch_at_once(
    firmware: str, boot_images: BootImages, short_tmp: Path
) -> None:
    """^C while held guests run at once: the bench ends now, not at their timeout."""
    timeout = 10.0
    cli = popen_cli("bench-parallel", "--vms", "2", "--firmware", firmware,
                    "--initrd", str(boot_images.plain_initrd),
                    "--append", f"{BOOT_APPEND} {HOLD_FLAG}", "--timeout", f"{timeout:g}",
                    tmpdir=short_tmp)  # fmt: skip
    try:
        # The QMP sockets sit under short_tmp: that finds this bench's QEMUs.
        read_until(cli.stderr, f"[{ONE_BY_ONE} 2/2]".encode(), 4 * timeout)
        deadline = time.monotonic() + timeout / 2
        while len(qemu_pids(short_tmp.name)) < 2:
            assert time.monotonic() < deadline, "the VMs of the batch never started"
            time.sleep(0.05)
        cli.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, stderr = cli.communicate(timeout=3 * timeout)
        elapsed = time.monotonic() - started
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 130, stderr
    assert b"minibios: interrupted; QEMU stopped" in stderr
    assert elapsed < timeout / 2
    assert not qemu_pids(short_tmp.name)
    assert list(short_tmp.iterdir()) == [], "temporary files left behind"
