"""`minibios bench-exec`: `exec /bin/true` timed phase by phase, firmwares interleaved."""

import contextlib
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from minibios.agent import AgentMachine, ExecSettings, SnapshotPool, Timings
from minibios.bench.accel import EXEC_BENCH_ACCEL
from minibios.bench.vng_peer import VngPeer, run_peer
from minibios.images.assets import KernelAssets

# Phases from QEMU's start to the exit status on the host (prepare is the host's
# own cache lookups and virtiofsd starts, shown apart).
BOOT_PHASES = ("QEMU start", "firmware+early kernel", "kernel", "agent ready", "command")
WARM_UP = ("/bin/true",)
POOL_MODES = ("pool", "pool-warm")


@dataclass(frozen=True)
class ExecBenchPlan:
    firmwares: tuple[str, ...]
    runs: int
    machine: str = "pc"
    rootfs: str = "initramfs"
    memory: str = "512M"
    command: tuple[str, ...] = ("/bin/true",)
    # "off": cold boots; "auto": restored from a saved boot state (saved before timing);
    # "pool": handed out by a SnapshotPool of one QEMU waiting at -incoming defer, refilled
    # between runs (untimed): its QEMU start is paid ahead, so the total is take() to exit;
    # "pool-warm": the same, each waiting guest having run WARM_UP once (TCG's translations)
    snapshots: tuple[str, ...] = ("off",)
    accel: str = EXEC_BENCH_ACCEL  # as choose_accel resolved it
    kernel: KernelAssets | None = None  # None: exec's own default, the cached cloud kernel
    peer: VngPeer | None = None  # `vng --exec`, timed in the same rounds (same kernel)


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

    def median_wall(self) -> float:
        """What the caller waits: prepare and the boot phases."""
        return statistics.median(
            sum(v for k, v in t.phases() if k in (*BOOT_PHASES, "prepare")) for t in self.runs
        )


@dataclass
class PeerResult:
    name: str
    walls: list[float] = field(default_factory=list)  # vng started to vng exited

    def median_wall(self) -> float:
        return statistics.median(self.walls)


@dataclass
class ExecBenchOutcome:
    results: list[ExecBenchResult]
    peer: PeerResult | None = None


def _settings(plan: ExecBenchPlan, firmware: str, snapshot: str) -> ExecSettings:
    return ExecSettings(
        kernel=plan.kernel.vmlinuz if plan.kernel else None,
        machine=plan.machine,
        firmware=firmware,
        accel=plan.accel,
        rootfs=plan.rootfs,
        memory=plan.memory,
        snapshot="auto" if snapshot in POOL_MODES else snapshot,
    )


def run_exec_bench(plan: ExecBenchPlan, progress: Callable[[str], None]) -> ExecBenchOutcome:
    cases = [(fw, mode) for fw in plan.firmwares for mode in plan.snapshots]
    results = {case: ExecBenchResult(*case) for case in cases}
    peer = PeerResult("vng") if plan.peer else None
    with contextlib.ExitStack() as pools_open:
        pools: dict[str, SnapshotPool] = {}
        for firmware, mode in cases:
            if mode != "off":  # the saved state is made once, before timing starts
                with AgentMachine(_settings(plan, firmware, mode)) as vm:
                    vm.run(list(plan.command))
            if mode in POOL_MODES:
                warm = WARM_UP if mode == "pool-warm" else ()
                pool = SnapshotPool(_settings(plan, firmware, mode), size=1, warm=warm)
                pools[f"{firmware}:{mode}"] = pools_open.enter_context(pool)
        _timed_runs(plan, cases, pools, results, peer, progress)
    return ExecBenchOutcome(list(results.values()), peer)


def _timed_runs(
    plan: ExecBenchPlan,
    cases: Sequence[tuple[str, str]],
    pools: dict[str, SnapshotPool],
    results: dict[tuple[str, str], ExecBenchResult],
    peer: PeerResult | None,
    progress: Callable[[str], None],
) -> None:
    for run in range(plan.runs):
        for firmware, mode in cases:  # interleaved: load changes hit every case alike
            pool = pools.get(f"{firmware}:{mode}")
            if pool is not None:
                machine = pool.take()
            else:
                machine = AgentMachine(_settings(plan, firmware, mode))
            with machine as vm:
                result = vm.run(list(plan.command))
                if mode != "off" and vm.snapshot_state != "restored":
                    raise RuntimeError(f"{firmware}: not restored ({vm.snapshot_state})")
                if pool is not None and not vm.pooled:
                    raise RuntimeError(f"{firmware}: not from the pool ({pool.notes})")
            if pool is not None:
                pool.refill()  # as a pool's owner does when idle
            if result.returncode != 0:
                raise RuntimeError(f"{plan.command[0]} exited {result.returncode} ({firmware})")
            results[firmware, mode].runs.append(result.timings)
            total = sum(v for k, v in result.timings.phases() if k in BOOT_PHASES)
            progress(
                f"bench-exec: run {run + 1}/{plan.runs} {firmware} snapshot {mode}: "
                f"{total * 1000:.0f} ms"
            )
        if plan.peer and peer:  # in the same round, after the firmwares
            peer.walls.append(run_peer(plan.peer, plan.command))
            progress(f"bench-exec: run {run + 1}/{plan.runs} vng: {peer.walls[-1] * 1000:.0f} ms")


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


def _describe_kernel(plan: ExecBenchPlan) -> str:
    if plan.kernel is None:
        return "kernel: the cached Debian cloud kernel"
    why = " (Debian generic: the kernel vng can boot here)" if plan.peer else ""
    return f"kernel {plan.kernel.version}{why}"


def render_exec_bench(plan: ExecBenchPlan, outcome: ExecBenchOutcome) -> str:
    results = outcome.results
    header = ["firmware", "snapshot", "total", *BOOT_PHASES, "prepare", "wall"]
    lines = [
        f"exec {' '.join(plan.command)} on {plan.machine}, {plan.accel.upper()}, "
        f"rootfs {plan.rootfs}, {_describe_kernel(plan)} for every row, {plan.runs} runs "
        "each, medians in ms (total = QEMU start to exit status; wall = prepare + total)",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in results:
        cells = [r.firmware, r.snapshot, f"{r.median_total() * 1000:.0f}"]
        cells += [f"{r.median(p) * 1000:.0f}" for p in (*BOOT_PHASES, "prepare")]
        cells.append(f"{r.median_wall() * 1000:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    peer = outcome.peer
    if plan.peer and peer and peer.walls:
        dashes = ["-"] * (len(header) - 3)
        cells = [f"{peer.name} (peer)", "-", *dashes, f"{peer.median_wall() * 1000:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
        lines.append(f"{peer.name}: {plan.peer.describe()}")
    cold = {r.firmware: r.median_total() for r in results if r.snapshot == "off" and r.runs}
    for r in results:
        if r.snapshot != "off" and r.runs and cold.get(r.firmware):
            ratio = r.median_total() / cold[r.firmware]
            lines.append(f"{r.firmware}: {r.snapshot} / cold boot = {ratio:.3f}")
    lines += _wall_ratios(results, peer)
    return "\n".join(lines)


def _wall_ratios(results: Sequence[ExecBenchResult], peer: PeerResult | None) -> list[str]:
    """Every other row's wall against minibios's cold boots of the same rounds."""
    base = next(
        (r for r in results if r.firmware == "minibios" and r.snapshot == "off" and r.runs), None
    )
    if base is None:
        return []
    others = [
        (f"{r.firmware} {r.snapshot}", r.median_wall()) for r in results if r.runs and r is not base
    ]
    if peer and peer.walls:
        others.append((peer.name, peer.median_wall()))
    if not others:
        return []
    ratios = ", ".join(f"{name} {wall / base.median_wall():.2f}" for name, wall in others)
    return [f"wall / minibios's (snapshot off, same rounds): {ratios}"]
