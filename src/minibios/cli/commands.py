"""The `minibios` command: run, demo, bench, bench-parallel, rom, build."""

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from minibios.bench import parallel
from minibios.bench.accel import BOOT_BENCH_ACCEL, EXEC_BENCH_ACCEL, PARALLEL_ACCEL
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
from minibios.cli.bench_memory import add_memory_command, run_memory_command
from minibios.cli.demo import demo_plan
from minibios.cli.exec_command import (
    add_exec_parser,
    add_pool_parser,
    add_snapshot_parser,
    cmd_exec,
    cmd_pool,
    cmd_snapshot,
)
from minibios.cli.install import INSTALL_COMMANDS, add_install_commands, run_install_command
from minibios.cli.options import BOOT_OPTIONS, add_options, vm_spec
from minibios.cli.report_format import format_report, format_timing
from minibios.errors import InputError, MinibiosError
from minibios.firmware import rom
from minibios.firmware.choice import Firmware, resolve_firmware
from minibios.images.assets import cache_dir, find_busybox, find_kernel
from minibios.images.entry import EntryChoice, choose_entry
from minibios.images.initramfs import InitramfsSpec, build_initramfs
from minibios.vm.accel import choose_accel
from minibios.vm.machine import Machine, VmEnd
from minibios.vm.preflight import check_file, preflight
from minibios.vm.qemu_binary import choose_qemu
from minibios.vm.runtime_dir import placeholder_runtime_dir
from minibios.vm.session import BootOutcome, boot
from minibios.vm.spec import Accel, VmSpec
from minibios.vm.tsc import TSC_OPTION

EXIT_USAGE = 2  # bad input: what preflight (or argparse) rejects, before any VM
EXIT_RUN_FAILED = 4  # QEMU, the guest's tooling or a probe failed while running
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a pipeline's writer
CONSOLE_TAIL_LINES = 15
BENCH_APPEND = "console=ttyS0 quiet panic=-1"
log = logging.getLogger(__name__)


class UsageError(InputError):
    """Bad command-line syntax (argparse's complaint, kept to one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minibios", description="Build and boot the minibios firmware.")
    parser.add_argument(
        "-v",
        dest="log_level",
        action="count",
        default=0,
        help="log what minibios does to stderr (-v: info, -vv: debug)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="boot a kernel; QEMU arguments may follow `--`",
        usage="minibios run --kernel K [--initrd I] [options] [-- EXTRA-QEMU-ARGS]",
    )
    add_options(run, "kernel", "initrd", "append", *BOOT_OPTIONS, kernel={"required": True})
    demo = commands.add_parser("demo", help="boot the cached cloud kernel and show its report")
    add_options(demo, *BOOT_OPTIONS)
    demo.add_argument("--verbose", action="store_true", help="also show the guest console")
    default_kernel = {"help": "kernel (default: the cached Debian cloud kernel)"}
    default_initrd = {"help": "initrd (default: the demo initramfs)"}
    bench = commands.add_parser(
        "bench", help="time every boot phase for several firmwares, interleaved"
    )
    add_options(bench, "kernel", "initrd", "append", "machine", "memory", "microvm_acpi",
                "firmware", kernel=default_kernel, initrd=default_initrd,
                append={"default": BENCH_APPEND, "help": "kernel command line"},
                firmware={"default": "minibios,seabios,qboot",
                          "help": "comma-separated: minibios, seabios, qboot or ROM files; "
                          "minibios:16, minibios:32, minibios:64 pick its way into Linux; "
                          "NAME:pvh boots the kernel's vmlinux through PVH"})  # fmt: skip
    bench.set_defaults(accel=BOOT_BENCH_ACCEL)
    bench.add_argument("--runs", type=int, default=10, help="timed runs per firmware (10)")
    bench.add_argument("--count-runs", type=int, default=2, help="counting runs per firmware (2)")
    bench.add_argument("--json", type=Path, help="write every raw run here")
    bench.add_argument("--plot", type=Path, help="write a timeline plot (.svg or .png)")
    par = commands.add_parser(
        "bench-parallel",
        help="wall time of N VMs booted at once against the same N one by one (TCG)",
    )
    par.add_argument("--vms", type=int, default=8, help="VMs per batch (default 8)")
    add_options(par, "kernel", "initrd", "append", "machine", "memory", "firmware",
                "microvm_acpi", "timeout", kernel=default_kernel, initrd=default_initrd,
                append={"default": BENCH_APPEND, "help": "kernel command line"},
                memory={"default": "256M", "help": "RAM per VM (default %(default)s)"},
                timeout={"default": 300.0,
                         "help": "seconds per VM before it is stopped (%(default)g)"})  # fmt: skip
    par.set_defaults(accel=PARALLEL_ACCEL)
    par.add_argument("--json", type=Path, help="write every VM's outcome here")
    add_exec_parser(commands)  # cli/exec_command.py: `minibios exec`
    add_snapshot_parser(commands)  # and `minibios snapshot ls|rm|gc`
    add_pool_parser(commands)  # and `minibios pool`
    bench_exec = commands.add_parser(
        "bench-exec", help="time `exec /bin/true` phase by phase for several firmwares"
    )
    bench_exec.add_argument("--runs", type=int, default=5, help="runs per firmware (5)")
    bench_exec.add_argument("--firmware", default="minibios,seabios,qboot")
    bench_exec.add_argument("--machine", default="pc", help="pc, q35 or microvm (default pc)")
    bench_exec.add_argument("--rootfs", default="initramfs", choices=("host", "initramfs"))
    bench_exec.add_argument(
        "--footprint",
        metavar="N,N,...",
        help="also: PSS and CPU time of each QEMU with N VMs restored from one state at once",
    )
    bench_exec.add_argument(
        "--snapshot",
        default="off",
        help="off (cold boots), auto (restored from a saved state), pool (restored in a QEMU "
        "started ahead at -incoming defer), pool-warm (the same, its guest having run "
        "/bin/true once); several, comma-separated: interleaved",
    )
    bench_exec.add_argument(
        "--peer",
        choices=("vng",),
        help="also time virtme-ng's `vng --exec` in the same rounds; every row then boots "
        "Debian's generic kernel, the one vng can boot here",
    )
    bench_exec.set_defaults(accel=EXEC_BENCH_ACCEL)
    commands.add_parser("rom", help="print the ROM path (rebuilding it if stale)")
    commands.add_parser("build", help="rebuild the ROM (make -C firmware)")
    add_install_commands(commands)  # install, uninstall: see cli/install.py
    add_memory_command(commands)  # bench-memory: see cli/bench_memory.py
    return parser


def _stream(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _print_outcome(outcome: BootOutcome, timeout: float, demo: bool) -> None:
    if outcome.report is not None:
        print("minibios: guest report:")
        print(format_report(outcome.report))
    elif outcome.report_error:
        print(f"minibios: bad report line: {outcome.report_error}")
    elif demo:
        print("minibios: no MINIBIOS-REPORT line on the console")
    if demo and outcome.report is None:
        tail = outcome.console.rstrip("\n").splitlines()[-CONSOLE_TAIL_LINES:]
        print("minibios: console tail:\n" + "\n".join(tail))
    if outcome.end is VmEnd.TIMEOUT:
        print(f"minibios: timed out after {timeout:g} s; QEMU stopped")
    else:
        print(f"minibios: guest {outcome.end.value}")
    if outcome.end is VmEnd.QEMU_ERROR and outcome.stderr.strip():
        print(f"minibios: QEMU stderr: {outcome.stderr.strip()}")
    print("minibios: " + format_timing(outcome.to_report, outcome.to_end, outcome.end.value))


def _show_command(spec: VmSpec, qmp_socket: Path) -> None:
    print(spec.shell_command(qmp_socket), file=sys.stderr, flush=True)


def _boot_and_report(spec: VmSpec, args: argparse.Namespace, stream: bool, demo: bool) -> int:
    """Boot `spec` as `run` and `demo` do; with --dry-run only show its command line."""
    if args.dry_run:
        # The QMP socket's dir is made as QEMU starts: show where it would be.
        _show_command(spec, placeholder_runtime_dir() / "qmp.sock")
        return 0
    print(f"minibios: {choose_qemu(spec.machine, spec.accel, args.qemu).describe()}")
    if spec.tsc_khz is not None:
        print(
            f"minibios: {spec.machine} under {spec.accel}: the kernel has nothing to "
            f"calibrate its TSC against; told it the host's ({TSC_OPTION}{spec.tsc_khz})"
        )
    sys.stdout.flush()

    def started(vm: Machine) -> None:
        if args.show_command:
            _show_command(vm.spec, vm.qmp_socket)

    outcome = boot(spec, args.timeout, on_output=_stream if stream else None, on_start=started)
    sys.stdout.flush()
    _print_outcome(outcome, args.timeout, demo=demo)
    return outcome.exit_status


def _print_entry(choice: EntryChoice) -> None:
    print(f"minibios: {choice.describe()}")
    sys.stdout.flush()


def _cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    kernel = check_file(args.kernel, "kernel")  # a clear error before anything else
    base = vm_spec(args, extra_args=tuple(extra))
    choice = choose_entry(kernel, cache_dir(), args.entry, args.protocol, base.pvh_blocker())
    spec = preflight(replace(base, kernel=choice.kernel))
    _print_entry(choice)
    return _boot_and_report(spec, args, stream=True, demo=False)


def _cmd_demo(args: argparse.Namespace) -> int:
    plan = demo_plan(vm_spec(args), args.entry)
    spec = plan.spec
    print(
        f"minibios demo: Debian kernel {plan.kernel_version} on {spec.machine}, "
        f"{spec.cpus} vCPU(s), {spec.memory >> 20} MiB, firmware {spec.firmware_name} "
        f"({spec.firmware.path if spec.firmware else '-'}), accel {spec.accel}"
    )
    _print_entry(plan.entry)
    return _boot_and_report(spec, args, stream=args.verbose, demo=True)


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


def _cmd_bench(args: argparse.Namespace) -> int:
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


def _cmd_bench_parallel(args: argparse.Namespace) -> int:
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


def _cmd_bench_exec(args: argparse.Namespace) -> int:
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


def _setup_logging(level: int) -> None:
    """-v: info, -vv: debug, for every minibios module's logger; else warnings only."""
    logging.basicConfig(
        level=max(logging.DEBUG, logging.WARNING - 10 * level),
        format="minibios: %(levelname)s: %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through `with Machine(...)`, which stops QEMU.
    raise SystemExit(128 + signum)


def _dispatch(args: argparse.Namespace, extra: list[str]) -> int:
    if args.command == "run":
        return _cmd_run(args, extra)
    if args.command == "exec":
        return cmd_exec(args, extra)
    if args.command == "bench-exec":
        return _cmd_bench_exec(args)
    if args.command == "snapshot":
        return cmd_snapshot(args)
    if args.command == "pool":
        return cmd_pool(args)
    if args.command == "demo":
        return _cmd_demo(args)
    if args.command == "bench":
        return _cmd_bench(args)
    if args.command == "bench-parallel":
        return _cmd_bench_parallel(args)
    if args.command == "bench-memory":
        return run_memory_command(args, stderr_progress)
    if args.command in INSTALL_COMMANDS:
        return run_install_command(args)
    if args.command == "rom":
        print(rom.rom_path())
        return 0
    print(rom.build())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args_list:
        split = args_list.index("--")
        args_list, extra = args_list[:split], args_list[split + 1 :]
    # Our own handlers: an inherited "ignore" must not leave QEMU running.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    try:
        args = build_parser().parse_args(args_list)
        _setup_logging(args.log_level)
        if extra and args.command not in ("run", "exec"):
            raise UsageError("extra QEMU arguments after `--` are only accepted by `run`")
        status = _dispatch(args, extra)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        # The reader went away (`minibios run | head`); QEMU is stopped already, as
        # the error unwound through the Machine. Nothing more goes to that pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except InputError as exc:
        log.debug("bad input", exc_info=True)
        print(f"minibios: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MinibiosError as exc:  # a RunError: QEMU, the guest or a probe failed
        log.debug("failed while running", exc_info=True)
        print(f"minibios: error: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except KeyboardInterrupt:
        print("minibios: interrupted; QEMU stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
