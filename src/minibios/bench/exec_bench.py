"""`minibios bench-exec`: `exec /bin/true` timed phase by phase, firmwares interleaved."""

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


@dataclass
class ExecBenchResult:
    firmware: str
    runs: list[Timings] = field(default_factory=list)

    def median(self, phase: str) -> float:
        return statistics.median(dict(t.phases())[phase] for t in self.runs)

    def median_total(self) -> float:
        return statistics.median(
            sum(v for k, v in t.phases() if k in BOOT_PHASES) for t in self.runs
        )


def run_exec_bench(plan: ExecBenchPlan, progress: Callable[[str], None]) -> list[ExecBenchResult]:
    results = {fw: ExecBenchResult(fw) for fw in plan.firmwares}
    for run in range(plan.runs):
        for firmware in plan.firmwares:  # interleaved: load changes hit every firmware alike
            settings = ExecSettings(
                machine=plan.machine,
                firmware=firmware,
                accel="tcg",
                rootfs=plan.rootfs,
                memory=plan.memory,
            )
            with AgentMachine(settings) as vm:
                result = vm.run(list(plan.command))
            if result.returncode != 0:
                raise RuntimeError(f"{plan.command[0]} exited {result.returncode} ({firmware})")
            results[firmware].runs.append(result.timings)
            total = sum(v for k, v in result.timings.phases() if k in BOOT_PHASES)
            progress(f"bench-exec: run {run + 1}/{plan.runs} {firmware}: {total * 1000:.0f} ms")
    return list(results.values())


def render_exec_bench(plan: ExecBenchPlan, results: Sequence[ExecBenchResult]) -> str:
    header = ["firmware", "total", *BOOT_PHASES, "prepare"]
    lines = [
        f"exec {' '.join(plan.command)} on {plan.machine}, TCG, rootfs {plan.rootfs}, "
        f"{plan.runs} runs each, medians in ms (total = QEMU start to exit status)",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in results:
        cells = [r.firmware, f"{r.median_total() * 1000:.0f}"]
        cells += [f"{r.median(p) * 1000:.0f}" for p in (*BOOT_PHASES, "prepare")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
