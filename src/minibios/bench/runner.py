"""`minibios bench`: every boot phase, for several firmwares, interleaved, in one run."""

from __future__ import annotations

import itertools
import json
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from minibios.bench.probe import (
    BenchFirmware,
    BootCounts,
    BootTiming,
    probe_counts,
    probe_steps,
    probe_timing,
)
from minibios.vm.spec import VmSpec

# (key, label): the phases of a boot, in order; "total" is QEMU start to exit.
PHASES = (
    ("qemu", "QEMU start -> firmware entry"),
    ("firmware", "firmware entry -> kernel entry"),
    ("setup", "  of which Linux setup code"),
    ("kernel", "kernel entry -> /init"),
    ("init", "/init -> power-off"),
    ("total", "total"),
)
STACKED = ("qemu", "firmware", "kernel", "init")  # the phases that add up to the total

# What minibios has done when it writes each mark: enum step_mark and the
# MILESTONE_* values in firmware/include/debugport.h (tests/test_step_marks.py
# fails when they drift); a step lasts from the previous mark to its own.
STEPS = {
    0x10: "shadow copy, fw_cfg",
    0x11: "chipset",
    0x12: "interrupt controllers",
    0x13: "e820 map",
    0x14: "ACPI (QEMU builds them)",
    0x15: "SMBIOS",
    0x16: "MP table",
    0x17: "$PIR table",
    0x18: "tables reserved",
    2: "way in chosen, kernel placed",
    3: "kernel (+ initrd) load",
    4: "PVH: command line + initrd load",
}

FIRMWARE_START_MARK = 1  # MILESTONE_FIRMWARE_START: fw_cfg found, mid-step

METHOD = {
    "qemu": "QEMU held at reset (-S) until its gdb stub and QMP answer; exact",
    "firmware": "reset released through the gdb stub -> hardware breakpoint on the kernel's "
    "entry (startup_32 or startup_64 of a bzImage loaded at 1 MiB or 16 MiB, or the PVH "
    "entry of a :pvh vmlinux); exact, firmware-agnostic",
    "setup": "hardware breakpoint at 0x10200, the 16-bit setup code's entry; absent when the "
    "firmware enters the kernel directly",
    "kernel": "kernel entry -> the report line /init prints on the serial console "
    "(host pipe latency, well under 1 ms)",
    "init": "report line -> QEMU process exit",
    "counts": "a separate run per firmware under -icount shift=0 with record/replay "
    "(query-replay gives guest instructions) and QEMU's trace of every device access and "
    "fw_cfg select, counted between reset release and the kernel-entry breakpoint",
    "rss": "VmHWM of the QEMU process when /init reports",
    "steps": "minibios only: one more run after each timing run, with fw_cfg's "
    "opt/minibios/step-marks asking it to mark the end of each step on port 0xf4 "
    "(QEMU's trace timestamps the writes); the time from one mark to the next, the "
    "first from reset release",
    "milestones": "minibios writes 1 (fw_cfg found), 2 (kernel load starts), then 3 (jump "
    "into a Linux or multiboot kernel) or 4 (jump into a PVH kernel) to port 0xf4 "
    "(firmware/include/debugport.h) when fw_cfg's opt/minibios/milestones asks (the counting "
    "run does); seen through isa-debugcon, in ms after reset release",
}


def phases_of(t: BootTiming) -> dict[str, float | None]:
    """Phase durations in seconds."""
    return {
        "qemu": t.firmware_entry,
        "firmware": t.kernel_entry - t.firmware_entry,
        "setup": None if t.setup_entry is None else t.kernel_entry - t.setup_entry,
        "kernel": t.init - t.kernel_entry,
        "init": t.poweroff - t.init,
        "total": t.poweroff,
    }


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))


@dataclass
class FirmwareResult:
    name: str
    timings: list[BootTiming] = field(default_factory=list)
    counts: list[BootCounts] = field(default_factory=list)
    steps: list[tuple[tuple[int, float], ...]] = field(default_factory=list)

    def phase(self, key: str) -> Spread | None:
        values = [v for t in self.timings if (v := phases_of(t)[key]) is not None]
        return Spread.of(values) if values else None

    def peak_rss_kb(self) -> Spread | None:
        values = [float(t.peak_rss_kb) for t in self.timings if t.peak_rss_kb is not None]
        return Spread.of(values) if values else None

    def step_durations(self) -> dict[str, Spread]:
        """Each firmware step's duration, over the step runs, in the order done."""
        durations: dict[str, list[float]] = {}
        for marks in self.steps:
            # The first step starts at reset release; the firmware-start milestone
            # falls inside it (after the shadow copy), so it ends no step.
            timeline = [(0, 0.0), *((v, at) for v, at in marks if v != FIRMWARE_START_MARK)]
            for (_, before), (value, at) in itertools.pairwise(timeline):
                durations.setdefault(STEPS.get(value, f"mark {value:#x}"), []).append(at - before)
        return {name: Spread.of(values) for name, values in durations.items()}

    def counts_identical(self) -> bool:
        first = self.counts[0] if self.counts else None
        return all(
            (c.accesses, c.instructions) == (first.accesses, first.instructions)
            for c in self.counts
        )


@dataclass(frozen=True)
class BenchPlan:
    spec: VmSpec  # what every firmware boots (preflighted); its firmware is replaced per run
    firmwares: tuple[BenchFirmware, ...]
    runs: int = 10
    count_runs: int = 2
    timeout: float = 120.0  # per wait: for /init's report, then for the power-off


Progress = Callable[[str], None]


def run_bench(plan: BenchPlan, progress: Progress | None = None) -> list[FirmwareResult]:
    """Timing runs interleaved (A B C A B C ...), each minibios one followed by a step
    run, then the counting runs."""
    results = {fw.label: FirmwareResult(fw.label) for fw in plan.firmwares}
    stepped = [fw for fw in plan.firmwares if fw.is_minibios]
    total = (plan.runs + plan.count_runs) * len(plan.firmwares) + plan.runs * len(stepped)
    done = 0

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(f"[{done}/{total}] {what}")

    spec, timeout = plan.spec, plan.timeout
    for run in range(plan.runs):
        for fw in plan.firmwares:
            name = fw.label
            timing = probe_timing(spec, fw, timeout)
            results[name].timings.append(timing)
            tick(
                f"{name} run {run + 1}: firmware "
                f"{(timing.kernel_entry - timing.firmware_entry) * 1e3:.1f} ms, "
                f"total {timing.poweroff * 1e3:.0f} ms"
            )
            if fw in stepped:
                results[name].steps.append(probe_steps(spec, fw, timeout))
                tick(f"{name} steps {run + 1}")
    for run in range(plan.count_runs):
        for fw in plan.firmwares:
            name = fw.label
            counts = probe_counts(spec, fw, timeout)
            results[name].counts.append(counts)
            tick(
                f"{name} count {run + 1}: {counts.accesses.total} "
                f"accesses, {counts.instructions} instructions"
            )
    return list(results.values())


def to_json(plan: BenchPlan, results: Sequence[FirmwareResult]) -> dict:
    # The spec as booted, firmware aside (each run has its own), with the command
    # line the guest got (on microvm the TSC frequency is added: vm/tsc.py).
    target = plan.spec.to_json() | {"firmware": None, "timeout": plan.timeout}
    return {
        "target": target,
        "firmware_files": {fw.label: str(fw.firmware.path) for fw in plan.firmwares},
        "runs": plan.runs,
        "method": METHOD,
        "firmwares": {
            r.name: {
                "timings": [asdict(t) | {"phases": phases_of(t)} for t in r.timings],
                "counts": [asdict(c) for c in r.counts],
                "counts_identical": r.counts_identical(),
                "steps": [[list(mark) for mark in marks] for marks in r.steps],
            }
            for r in results
        },
    }


def write_json(path: Path, plan: BenchPlan, results: Sequence[FirmwareResult]) -> None:
    path.write_text(json.dumps(to_json(plan, results), indent=2) + "\n")


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
