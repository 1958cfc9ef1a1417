"""QEMU's peak RSS and PSS per VM, with the boot time (`minibios bench-memory`).

Each VM (the CLI gives the demo: Debian cloud kernel, report initramfs) boots under TCG; when
the guest's report line arrives (it has reached /init and looked around, the
boot is over) QEMU's VmHWM (peak resident set) and Pss (its share of what it
maps, from smaps_rollup) are read from /proc, then the guest powers off.
Configurations are interleaved (A B C A B C ...) so that load from other work
on the host spreads evenly; the table shows medians. The VMs boot a private copy of
the kernel file (with_private_kernel): QEMU maps it, and pages other VMs on the host
map too are counted in RSS, split in PSS and never paged out (vm/page_out.py), so a
shared copy would make the figures depend on whoever else boots that kernel.
"""

import json
import os
import shutil
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from minibios.errors import InputError, MinibiosError
from minibios.images.report import REPORT_RE
from minibios.vm.machine import Machine, MachineError
from minibios.vm.spec import VmSpec

Progress = Callable[[str], None]
# The VM to boot for a machine, firmware and guest RAM (the caller, the CLI,
# knows the demo's kernel and initramfs); measure() sets the tb-size itself.
Configure = Callable[[str, str, str], VmSpec]
KIB = 1024
BOOT_TIMEOUT = 180.0
QEMU_DEFAULT = 0  # tb-size 0 on our command line: leave QEMU's default


class MemoryBenchError(InputError):
    """A bad bench-memory request."""


@dataclass(frozen=True)
class MemoryCase:
    machine: str
    firmware: str
    tb_size: int  # MiB; QEMU_DEFAULT = QEMU's own
    kernel_page_out: bool = True  # VmSpec.kernel_page_out

    @property
    def label(self) -> str:
        tb = "default" if self.tb_size == QEMU_DEFAULT else f"{self.tb_size}M"
        page_out = "on" if self.kernel_page_out else "off"
        return f"{self.machine}/{self.firmware}/tb-size {tb}/kernel page-out {page_out}"


@dataclass(frozen=True)
class MemoryRun:
    case: MemoryCase
    ok: bool
    peak_rss_kib: int | None = None
    pss_kib: int | None = None
    to_report: float | None = None
    cpu_to_report: float | None = None  # QEMU's user+system seconds, all threads
    error: str | None = None
    kernel_rss_kib: int | None = None  # QEMU's resident pages of the -kernel file


@dataclass(frozen=True)
class MemoryPlan:
    machines: tuple[str, ...] = ("pc", "q35", "microvm")
    firmwares: tuple[str, ...] = ("minibios", "seabios", "qboot")
    tb_sizes: tuple[int, ...] = (QEMU_DEFAULT,)
    memory: str = "512M"
    runs: int = 3
    kernel_page_outs: tuple[bool, ...] = (True,)

    def cases(self) -> list[MemoryCase]:
        return [
            MemoryCase(machine, firmware, tb, page_out)
            for machine in self.machines
            for firmware in self.firmwares
            for tb in self.tb_sizes
            for page_out in self.kernel_page_outs
        ]

    def baseline(self, case: MemoryCase) -> MemoryCase:
        """The case whose CPU time the table divides by: first tb-size and page-out."""
        return replace(case, tb_size=self.tb_sizes[0], kernel_page_out=self.kernel_page_outs[0])


def _status_kib(pid: int, name: str, key: str) -> int:
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise MachineError(f"no {key} in /proc/{pid}/{name}")


def _mapped_rss_kib(pid: int, path: Path) -> int:
    """Rss of every mapping of `path` in /proc/PID/smaps."""
    wanted = str(path.resolve())
    total = 0
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if fields and "-" in fields[0] and not fields[0].endswith(":"):
            inside = len(fields) == 6 and fields[5] == wanted
        elif inside and line.startswith("Rss:"):
            total += int(fields[1])
    return total


def _cpu_seconds(pid: int) -> float:
    """utime + stime of every thread so far: less sensitive than wall time to a busy host."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(case: MemoryCase, memory: str, configure: Configure) -> MemoryRun:
    """Boot one VM to its report and read QEMU's memory figures."""
    try:
        base = configure(case.machine, case.firmware, memory)
        tb = None if case.tb_size == QEMU_DEFAULT else case.tb_size
        # -no-shutdown: QEMU outlives the guest's power-off, so /proc is still
        # there to read however soon after the report line the guest is done.
        extra = (*base.extra_args, "-no-shutdown")
        config = replace(
            base,
            accel="tcg",
            tcg_tb_size=tb,
            kernel_page_out=case.kernel_page_out,
            extra_args=extra,
        )
        with Machine(config) as vm:
            match = vm.wait_for(REPORT_RE, BOOT_TIMEOUT)
            to_report = vm.elapsed_at(match.start())
            assert vm.pid is not None
            peak = _status_kib(vm.pid, "status", "VmHWM")
            pss = _status_kib(vm.pid, "smaps_rollup", "Pss")
            cpu = _cpu_seconds(vm.pid)
            kernel = _mapped_rss_kib(vm.pid, config.kernel) if config.kernel else None
            vm.wait_exit(BOOT_TIMEOUT)
    except (MinibiosError, TimeoutError, OSError) as exc:
        return MemoryRun(case, False, error=str(exc).splitlines()[0])
    return MemoryRun(case, True, peak, pss, to_report, cpu, kernel_rss_kib=kernel)


def with_private_kernel(configure: Configure, directory: Path) -> Configure:
    """`configure`, booting a copy in `directory` of each kernel file (one per file)."""
    copies: dict[Path, Path] = {}

    def private(machine: str, firmware: str, memory: str) -> VmSpec:
        spec = configure(machine, firmware, memory)
        if spec.kernel is None:
            return spec
        if spec.kernel not in copies:
            copy = directory / f"{len(copies)}-{spec.kernel.name}"
            shutil.copyfile(spec.kernel, copy)
            copies[spec.kernel] = copy
        return replace(spec, kernel=copies[spec.kernel])

    return private


def run_memory_bench(plan: MemoryPlan, configure: Configure, progress: Progress) -> list[MemoryRun]:
    if plan.runs < 1:
        raise MemoryBenchError("--runs must be at least 1")
    cases = plan.cases()
    runs: list[MemoryRun] = []
    for index in range(plan.runs):
        for case in cases:
            run = measure(case, plan.memory, configure)
            runs.append(run)
            if run.ok:
                assert run.peak_rss_kib is not None and run.pss_kib is not None
                detail = (
                    f"peak RSS {run.peak_rss_kib / KIB:.1f} MiB, PSS {run.pss_kib / KIB:.1f} "
                    f"MiB (kernel file {(run.kernel_rss_kib or 0) / KIB:.1f}), "
                    f"report at {run.to_report:.2f} s ({run.cpu_to_report:.2f} s CPU)"
                )
            else:
                detail = f"FAILED: {run.error}"
            progress(f"bench-memory: run {index + 1}/{plan.runs} {case.label}: {detail}")
    return runs


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def render_memory(plan: MemoryPlan, runs: Sequence[MemoryRun]) -> str:
    """A Markdown table of medians; QEMU's CPU time also as a ratio to plan.baseline()'s."""
    lines = [
        "| machine | firmware | tb-size | kernel page-out | peak RSS MiB | kernel file MiB "
        "| PSS MiB | to report s | CPU s | CPU ratio | ok |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    medians: dict[MemoryCase, float | None] = {}
    for case in plan.cases():
        mine = [r for r in runs if r.case == case]
        medians[case] = _median([r.cpu_to_report for r in mine if r.ok])
    for case in plan.cases():
        mine = [r for r in runs if r.case == case]
        good = [r for r in mine if r.ok]
        peak = _median([r.peak_rss_kib / KIB for r in good if r.peak_rss_kib])
        pss = _median([r.pss_kib / KIB for r in good if r.pss_kib])
        kernel = _median([r.kernel_rss_kib / KIB for r in good if r.kernel_rss_kib is not None])
        to_report = _median([r.to_report for r in good])
        cpu = medians[case]
        base = medians.get(plan.baseline(case))
        ratio = f"{cpu / base:.2f}" if cpu and base else "-"
        tb = "default" if case.tb_size == QEMU_DEFAULT else f"{case.tb_size}M"
        kernel_text = "-" if kernel is None else f"{kernel:.1f}"
        figures = (
            f"{peak:.1f} | {kernel_text} | {pss:.1f} | {to_report:.2f} | {cpu:.2f}"
            if peak and pss and to_report and cpu
            else "- | - | - | - | -"
        )
        page_out = "on" if case.kernel_page_out else "off"
        lines.append(
            f"| {case.machine} | {case.firmware} | {tb} | {page_out} | {figures} | {ratio} "
            f"| {len(good)}/{len(mine)} |"
        )
    return "\n".join(lines)


def write_json(path: Path, plan: MemoryPlan, runs: Sequence[MemoryRun]) -> None:
    path.write_text(
        json.dumps({"plan": asdict(plan), "runs": [asdict(r) for r in runs]}, indent=2) + "\n"
    )
