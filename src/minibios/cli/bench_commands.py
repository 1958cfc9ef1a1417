"""`minibios bench`, `bench-parallel` and `bench-exec`: the benchmarks' argparse glue
(their options: cli/bench_options.py)."""

import argparse
from dataclasses import replace
from pathlib import Path

from minibios.bench import parallel
from minibios.bench.exec_bench import (
    ExecBenchPlan,
    measure_restored_footprint,
    render_exec_bench,
    render_footprint,
    run_exec_bench,
)
from minibios.bench.parallel import ParallelPlan, render_parallel, run_parallel_bench
from minibios.bench.plot import check_plot_path, render_svg, write_plot
from minibios.bench.probe import BenchFirmware
from minibios.bench.runner import BenchPlan, run_bench, stderr_progress, write_json
from minibios.bench.table import render
from minibios.bench.vng_peer import VngPeer, generic_kernel, peer_blocker
from minibios.cli.options import vm_spec
from minibios.cli.usage import UsageError
from minibios.firmware.choice import Firmware, resolve_firmware
from minibios.images.assets import cache_dir, find_busybox, find_kernel
from minibios.images.initramfs import InitramfsSpec, build_initramfs
from minibios.vm.accel import choose_accel
from minibios.vm.preflight import preflight
from minibios.vm.spec import Accel, VmSpec


def _bench_spec(args: argparse.Namespace, firmware: Firmware | None) -> VmSpec:
    """The preflighted spec a benchmark boots: the given kernel and initrd, else the
    cloud kernel and the demo initramfs (`minibios bench` gives each run its firmware)."""
    cache = cache_dir()
    kernel = Path(args.kernel) if args.kernel else find_kernel(cache).vmlinuz
    initrd = (
        Path(args.initrd)
        if args.initrd
        else build_initramfs(InitramfsSpec(busybox=find_busybox()), cache)
    )
    return preflight(vm_spec(args, kernel=kernel, initrd=initrd, firmware=firmware))


def cmd_bench(args: argparse.Namespace) -> int:
    if args.runs < 1 or args.count_runs < 0:
        raise UsageError("--runs must be at least 1 and --count-runs at least 0")
    if args.plot is not None:
        check_plot_path(args.plot)
    labels = tuple(f.strip() for f in args.firmware.split(",") if f.strip())
    # Every firmware resolved (minibios's ROM rebuilt) before any boot.
    firmwares = tuple(BenchFirmware.resolve(label, args.machine) for label in labels)
    plan = BenchPlan(_bench_spec(args, None), firmwares, args.runs, args.count_runs)
    results = run_bench(plan, stderr_progress)
    print(render(plan, results))
    if args.json:
        write_json(args.json, plan, results)
        print(f"minibios: raw runs in {args.json}")
    if args.plot:
        title = f"minibios bench: {plan.spec.machine}, {plan.spec.accel.upper()}"
        write_plot(args.plot, render_svg(results, title))
        print(f"minibios: plot in {args.plot}")
    return 0


def cmd_bench_parallel(args: argparse.Namespace) -> int:
    if args.vms < 1:
        raise UsageError("--vms must be at least 1")
    firmware = resolve_firmware(args.firmware, args.machine)
    plan = ParallelPlan(_bench_spec(args, firmware), args.vms, args.timeout)
    result = run_parallel_bench(plan, stderr_progress)
    print(render_parallel(result))
    if args.json:
        parallel.write_json(args.json, result)
        print(f"minibios: every VM's outcome in {args.json}")
    return 0 if result.ok else 1


def cmd_bench_exec(args: argparse.Namespace) -> int:
    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    firmwares = tuple(f.strip() for f in args.firmware.split(",") if f.strip())
    for name in firmwares:
        resolve_firmware(name, args.machine)  # a clear error before any boot
    snapshots = tuple(m.strip() for m in args.snapshot.split(",") if m.strip())
    if not snapshots or not set(snapshots) <= {"off", "auto", "pool", "pool-warm"}:
        raise UsageError("--snapshot takes off, auto, pool, pool-warm or several (off,auto)")
    plan = ExecBenchPlan(
        firmwares,
        args.runs,
        machine=args.machine,
        rootfs=args.rootfs,
        snapshots=snapshots,
        accel=choose_accel(args.accel),
    )
    if args.peer == "vng":
        blocker = peer_blocker()
        if blocker:
            stderr_progress(f"minibios: bench-exec: peer vng skipped: {blocker}")
        else:  # the same kernel for every row: the one vng can boot
            peer = VngPeer.here(plan.memory, tcg=plan.accel == Accel.TCG)
            plan = replace(plan, kernel=generic_kernel(), peer=peer)
    print(render_exec_bench(plan, run_exec_bench(plan, stderr_progress)))
    if args.footprint:
        counts = [int(n) for n in args.footprint.split(",")]
        print(render_footprint(measure_restored_footprint(plan, counts, stderr_progress)))
    return 0
