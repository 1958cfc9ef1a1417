"""`minibios bench-parallel`: N VMs booted at once against the same N one by one.

Every VM boots the same kernel, initramfs, firmware and memory and must reach
/init (its report line) and power off. The figure is each batch's wall time,
from the first QEMU start to the last QEMU exit, and their ratio.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from minibios.sizes import MIB
from minibios.vm.machine import Machine, QemuStartError, VmEnd
from minibios.vm.session import boot
from minibios.vm.spec import VmSpec

Progress = Callable[[str], None]
ONE_BY_ONE = "one by one"
AT_ONCE = "at once"


@dataclass(frozen=True)
class ParallelPlan:
    spec: VmSpec  # validated (preflight), the same for every VM
    vms: int = 8
    timeout: float = 300.0  # per VM; eight TCG guests on a few cores are slow


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


@dataclass(frozen=True)
class VmRun:
    """One VM's outcome; times are seconds from its QEMU's start."""

    end: VmEnd
    to_init: float | None
    to_end: float | None

    @property
    def ok(self) -> bool:
        return self.end is VmEnd.POWERED_OFF and self.to_init is not None


@dataclass(frozen=True)
class Batch:
    mode: str
    wall: float
    runs: tuple[VmRun, ...]

    @property
    def ok(self) -> bool:
        return all(run.ok for run in self.runs)

    @property
    def median_to_init(self) -> float | None:
        return _median([run.to_init for run in self.runs])

    @property
    def median_to_end(self) -> float | None:
        return _median([run.to_end for run in self.runs])


@dataclass(frozen=True)
class ParallelResult:
    plan: ParallelPlan
    one_by_one: Batch
    at_once: Batch

    @property
    def ok(self) -> bool:
        return self.one_by_one.ok and self.at_once.ok

    @property
    def ratio(self) -> float:
        """Wall time at once over wall time one by one (below 1: parallel pays off)."""
        return self.at_once.wall / self.one_by_one.wall


class _Fleet:
    """The VMs of the at-once batch, so that an interrupt can stop them all at once
    instead of waiting for every guest to finish (or time out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._machines: list[Machine] = []
        self._stopping = False

    def add(self, vm: Machine) -> None:
        with self._lock:
            self._machines.append(vm)
            stopping = self._stopping
        if stopping:  # started just as the others were being stopped
            _kill(vm)

    def kill_all(self) -> None:
        with self._lock:
            self._stopping = True
            machines = list(self._machines)
        for vm in machines:
            _kill(vm)


def _kill(vm: Machine) -> None:
    # SIGKILL only: the worker thread sees its VM end and cleans up as usual.
    pid = vm.pid
    if vm.running and pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def _boot_one(plan: ParallelPlan, fleet: _Fleet | None = None) -> VmRun:
    # Runs entirely in the calling thread, which therefore outlives QEMU
    # (Machine's PR_SET_PDEATHSIG is tied to the starting thread).
    try:
        outcome = boot(plan.spec, plan.timeout, on_start=None if fleet is None else fleet.add)
    except QemuStartError:  # e.g. out of memory with many VMs: a failed run, not a crash
        return VmRun(VmEnd.START_FAILED, None, None)
    return VmRun(outcome.end, outcome.to_report, outcome.to_end)


def _describe(mode: str, index: int, total: int, run: VmRun) -> str:
    init = f"/init at {run.to_init:.2f} s" if run.to_init is not None else "no /init"
    return f"[{mode} {index}/{total}] {run.end.value}, {init}"


def run_parallel_bench(plan: ParallelPlan, progress: Progress | None = None) -> ParallelResult:
    """One by one first, then all at once (the kernel is in the page cache for both)."""
    runs: list[VmRun] = []
    started = time.monotonic()
    for index in range(plan.vms):
        runs.append(_boot_one(plan))
        if progress:
            progress(_describe(ONE_BY_ONE, index + 1, plan.vms, runs[-1]))
    one_by_one = Batch(ONE_BY_ONE, time.monotonic() - started, tuple(runs))

    started = time.monotonic()
    fleet = _Fleet()
    with ThreadPoolExecutor(max_workers=plan.vms) as pool:
        futures = [pool.submit(_boot_one, plan, fleet) for _ in range(plan.vms)]
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                if progress:
                    progress(_describe(AT_ONCE, done, plan.vms, future.result()))
        except BaseException:  # ^C or a signal: leaving the pool waits for every worker
            fleet.kill_all()
            raise
        parallel_runs = tuple(f.result() for f in futures)
    at_once = Batch(AT_ONCE, time.monotonic() - started, parallel_runs)
    return ParallelResult(plan, one_by_one, at_once)


def _seconds(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "-"


def render_parallel(result: ParallelResult) -> str:
    plan, spec = result.plan, result.plan.spec
    lines = [
        f"minibios bench-parallel: {plan.vms} VMs, {spec.machine}, "
        f"{spec.memory // MIB} MiB each, firmware {spec.firmware_name}, {spec.accel.upper()}, "
        f"{os.cpu_count()} host CPUs",
        f"kernel {spec.kernel}",
        "",
        f"{'':<12}{'wall time':>11}{'median /init':>15}{'median total':>14}",
    ]
    for batch in (result.one_by_one, result.at_once):
        lines.append(
            f"{batch.mode:<12}{batch.wall:>9.2f} s"
            f"{_seconds(batch.median_to_init):>15}{_seconds(batch.median_to_end):>14}"
        )
    lines += [
        "",
        f"at once / one by one: {result.ratio:.2f} of the wall time "
        f"({1 / result.ratio:.2f}x the throughput)",
    ]
    if result.ok:
        lines.append(f"all {2 * plan.vms} VMs reached /init and powered off")
    for batch in (result.one_by_one, result.at_once):
        for index, run in enumerate(batch.runs, start=1):
            if not run.ok:
                reached = "reached /init" if run.to_init is not None else "did not reach /init"
                lines.append(
                    f"FAILED: {batch.mode} VM {index} {reached} and ended: {run.end.value}"
                )
    return "\n".join(lines)


def to_json(result: ParallelResult) -> dict:
    plan, spec = result.plan, result.plan.spec
    return {
        "vms": plan.vms,
        "firmware": spec.firmware_name,
        "machine": spec.machine.value,
        "memory_mib": spec.memory // MIB,
        "accel": spec.accel.value,
        "kernel": str(spec.kernel),
        "initrd": str(spec.initrd) if spec.initrd else None,
        "append": spec.append,
        "host_cpus": os.cpu_count(),
        "ratio": result.ratio,
        "ok": result.ok,
        "batches": {
            batch.mode: {
                "wall": batch.wall,
                "runs": [asdict(run) | {"end": run.end.value} for run in batch.runs],
            }
            for batch in (result.one_by_one, result.at_once)
        },
    }


def write_json(path: Path, result: ParallelResult) -> None:
    path.write_text(json.dumps(to_json(result), indent=2) + "\n")
