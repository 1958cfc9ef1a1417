"""`minibios bench-memory`: argparse glue for minibios.bench.memory, booting the demo
(its options: cli/bench_options.py)."""

import argparse
import tempfile
from pathlib import Path

from minibios.bench.memory import (
    MemoryBenchError,
    MemoryPlan,
    Progress,
    render_memory,
    run_memory_bench,
    with_private_kernel,
    write_json,
)
from minibios.cli.demo import demo_plan
from minibios.firmware.choice import resolve_firmware
from minibios.sizes import parse_memory
from minibios.vm.qemu_binary import choose_qemu
from minibios.vm.spec import VmSpec


def demo_config(machine: str, firmware: str, memory: str) -> VmSpec:
    """The demo's VM (cloud kernel, report initramfs, PVH where it can) under TCG."""
    base = VmSpec(
        machine=machine,
        memory=parse_memory(memory),
        accel="tcg",
        firmware=resolve_firmware(firmware, machine),
        qemu=choose_qemu(machine, "tcg").path,
    )
    return demo_plan(base).spec


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def run_memory_command(args: argparse.Namespace, progress: Progress) -> int:
    try:
        tb_sizes = tuple(int(t) for t in _csv(args.tb_size))
    except ValueError as exc:
        raise MemoryBenchError(f"--tb-size takes MiB numbers: {args.tb_size!r}") from exc
    if not tb_sizes or any(t < 0 for t in tb_sizes):
        raise MemoryBenchError(f"--tb-size takes MiB numbers >= 0: {args.tb_size!r}")
    switches = {"on": True, "off": False}
    page_outs = _csv(args.kernel_page_out)
    if not page_outs or any(p not in switches for p in page_outs):
        raise MemoryBenchError(f"--kernel-page-out takes on,off: {args.kernel_page_out!r}")
    plan = MemoryPlan(
        machines=_csv(args.machine),
        firmwares=_csv(args.firmware),
        tb_sizes=tb_sizes,
        memory=args.memory,
        runs=args.runs,
        kernel_page_outs=tuple(switches[p] for p in page_outs),
    )
    with tempfile.TemporaryDirectory(prefix="minibios-bench-memory-") as tmp:
        runs = run_memory_bench(plan, with_private_kernel(demo_config, Path(tmp)), progress)
    print(render_memory(plan, runs))
    if args.json:
        write_json(args.json, plan, runs)
        print(f"minibios: every run in {args.json}")
    return 0 if all(r.ok for r in runs) else 1
