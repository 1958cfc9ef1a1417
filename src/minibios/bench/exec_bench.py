"""`minibios bench-exec`: `exec /bin/true` timed phase by phase, firmwares interleaved."""

import contextlib
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from minibios.agent import AgentMachine, ExecSettings, Timings

# Phases from QEMU's start to the exit status on the host (prepare is the host's
# own cache lookups and virtiofsd starts, shown apart).
BOOT_PHASES = ("QEMU start", "firmware+early kernel", "kernel", "agent ready", "command")


@dataclass(frozen=True)
class ExecBenchPlan:
    firmwares: tuple[str, ...]
    runs: int
    machine: str = "pc"
    rootfs: str = "initramfs"
    memory: str = "512M"
    command: tuple[str, ...] = ("/bin/true",)
    # "off": cold boots; "auto": restored from a saved boot state (saved before timing)
    snapshots: tuple[str, ...] = ("off",)


@dataclass
class ExecBenchResult:
    firmware: str
    snapshot: str = "off"
    runs: list[Timings] = field(default_factory=list)

    def median(self, phase: str) -> float:
        return statistics.median(dict(t.phases())[phase] for t in self.runs)

    def median_total(self) -> float:
        return statistics.median(
            sum(v for k, v in t.phases() if k in BOOT_PHASES) for t in self.runs
        )


def _settings(plan: ExecBenchPlan, firmware: str, snapshot: str) -> ExecSettings:
    return ExecSettings(
        machine=plan.machine,
        firmware=firmware,
        accel="tcg",
        rootfs=plan.rootfs,
        memory=plan.memory,
        snapshot=snapshot,
    )


def run_exec_bench(plan: ExecBenchPlan, progress: Callable[[str], None]) -> list[ExecBenchResult]:
    cases = [(fw, mode) for fw in plan.firmwares for mode in plan.snapshots]
    results = {case: ExecBenchResult(*case) for case in cases}
    for firmware, mode in cases:
        if mode != "off":  # the saved state is made once, before timing starts
            with AgentMachine(_settings(plan, firmware, mode)) as vm:
                vm.run(list(plan.command))
    for run in range(plan.runs):
        for firmware, mode in cases:  # interleaved: load changes hit every case alike
            with AgentMachine(_settings(plan, firmware, mode)) as vm:
                result = vm.run(list(plan.command))
                if mode != "off" and vm.snapshot_state != "restored":
                    raise RuntimeError(f"{firmware}: not restored ({vm.snapshot_state})")
            if result.returncode != 0:
                raise RuntimeError(f"{plan.command[0]} exited {result.returncode} ({firmware})")
            results[firmware, mode].runs.append(result.timings)
            total = sum(v for k, v in result.timings.phases() if k in BOOT_PHASES)
            progress(
                f"bench-exec: run {run + 1}/{plan.runs} {firmware} snapshot {mode}: "
                f"{total * 1000:.0f} ms"
            )
    return list(results.values())


@dataclass(frozen=True)
class RestoredFootprint:
    """N VMs restored from one saved state, all alive at once, each after `exec /bin/true`."""

    vms: int
    pss_mib: float  # median PSS of one QEMU (its private pages + its share of the RAM file)
    cpu_ms: float  # median QEMU CPU time (user+system) from exec to the command's exit


def _qemu_pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as smaps:
        for line in smaps:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Pss for QEMU {pid}")


def _qemu_cpu_ms(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) * 1000 / ticks  # utime + stime


def measure_restored_footprint(
    plan: ExecBenchPlan, counts: Sequence[int], progress: Callable[[str], None]
) -> list[RestoredFootprint]:
    firmware = plan.firmwares[0]
    with AgentMachine(_settings(plan, firmware, "auto")) as vm:  # the state, saved once
        vm.run(list(plan.command))
    found = []
    for count in counts:
        with contextlib.ExitStack() as stack:
            pids, cpu = [], []
            for _ in range(count):
                vm = stack.enter_context(AgentMachine(_settings(plan, firmware, "auto")))
                if vm.run(list(plan.command)).returncode != 0 or vm.snapshot_state != "restored":
                    raise RuntimeError(f"a restored VM failed ({vm.snapshot_state})")
                pid = vm.machine.pid
                assert pid is not None
                pids.append(pid)
                cpu.append(_qemu_cpu_ms(pid))
            # All of them alive: the RAM file's pages are shared among them.
            pss = [_qemu_pss_kib(pid) / 1024 for pid in pids]
        found.append(RestoredFootprint(count, statistics.median(pss), statistics.median(cpu)))
        progress(f"bench-exec: {count} restored VMs: PSS {found[-1].pss_mib:.1f} MiB each")
    return found


def render_footprint(found: Sequence[RestoredFootprint]) -> str:
    lines = [
        "restored VMs alive at once | PSS per QEMU (MiB, median) | QEMU CPU per VM (ms, median)",
        "|---|---|---|",
    ]
    lines += [f"| {f.vms} | {f.pss_mib:.1f} | {f.cpu_ms:.0f} |" for f in found]
    return "\n".join(lines)


def render_exec_bench(plan: ExecBenchPlan, results: Sequence[ExecBenchResult]) -> str:
    header = ["firmware", "snapshot", "total", *BOOT_PHASES, "prepare"]
    lines = [
        f"exec {' '.join(plan.command)} on {plan.machine}, TCG, rootfs {plan.rootfs}, "
        f"{plan.runs} runs each, medians in ms (total = QEMU start to exit status)",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in results:
        cells = [r.firmware, r.snapshot, f"{r.median_total() * 1000:.0f}"]
        cells += [f"{r.median(p) * 1000:.0f}" for p in (*BOOT_PHASES, "prepare")]
        lines.append("| " + " | ".join(cells) + " |")
    cold = {r.firmware: r.median_total() for r in results if r.snapshot == "off" and r.runs}
    for r in results:
        if r.snapshot != "off" and r.runs and cold.get(r.firmware):
            ratio = r.median_total() / cold[r.firmware]
            lines.append(f"{r.firmware}: restore / cold boot = {ratio:.3f}")
    return "\n".join(lines)
