"""The `minibios` command: run, demo, bench, bench-parallel, rom, build."""

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from minibios.bench.parallel import ParallelPlan, render_parallel, run_parallel_bench
from minibios.bench.parallel import write_json as write_parallel_json
from minibios.bench.plot import check_plot_path, render_svg, write_plot
from minibios.bench.probe import BootTarget, FirmwareSpec
from minibios.bench.runner import BenchPlan, run_bench, stderr_progress, write_json
from minibios.bench.table import render
from minibios.cli.bench_memory import add_memory_command, run_memory_command
from minibios.cli.demo import DemoSettings, demo_plan
from minibios.cli.install import INSTALL_COMMANDS, add_install_commands, run_install_command
from minibios.cli.report_format import format_report, format_timing
from minibios.errors import MinibiosError
from minibios.firmware import rom
from minibios.firmware.choice import resolve_firmware
from minibios.images.assets import cache_dir, find_busybox, find_kernel
from minibios.images.entry import (
    AUTO,
    ENTRY_MODES,
    PVH,
    EntryChoice,
    choose_entry,
    pvh_blocker,
)
from minibios.images.initramfs import InitramfsSpec, build_initramfs
from minibios.vm.machine import QemuStartError, VmEnd
from minibios.vm.preflight import RunRequest, check_file, preflight
from minibios.vm.qemu_binary import choose_qemu
from minibios.vm.session import BootOutcome, boot
from minibios.vm.spec import BOOT_PROTOCOLS, DEFAULT_MICROVM_ACPI, QemuConfig
from minibios.vm.tsc import TSC_OPTION

EXIT_USAGE = 2
EXIT_QEMU_FAILED = 4
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a pipeline's writer
CONSOLE_TAIL_LINES = 15


class UsageError(Exception):
    """Bad command-line syntax (argparse's complaint, kept to one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _add_microvm_acpi_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--microvm-acpi",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_MICROVM_ACPI,
        help="microvm only: let QEMU build ACPI tables (default on)",
    )


def _add_vm_options(parser: argparse.ArgumentParser, default_timeout: float) -> None:
    parser.add_argument("--machine", default="pc", help="pc, q35 or microvm (default pc)")
    parser.add_argument("--cpus", type=int, default=1, help="vCPUs (default 1)")
    parser.add_argument("--memory", default="512M", help="RAM, QEMU -m syntax (default 512M)")
    parser.add_argument(
        "--firmware",
        default="minibios",
        help="minibios, seabios, qboot or a ROM file (default minibios)",
    )
    parser.add_argument("--accel", default="auto", help="auto, kvm or tcg (default auto)")
    _add_microvm_acpi_option(parser)
    parser.add_argument(
        "--entry",
        choices=ENTRY_MODES,
        default=AUTO,
        help="pvh: unpack the bzImage's vmlinux (cached) and boot it through its PVH entry, "
        "no kernel copy by the firmware, no decompression in the guest; bzimage: boot the "
        "bzImage itself; auto (default): pvh when the kernel allows it, else bzimage",
    )
    # The option's earlier spelling, kept working for existing scripts.
    parser.add_argument(
        "--pvh", action="store_const", const=PVH, dest="entry", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--protocol",
        type=int,
        choices=BOOT_PROTOCOLS,
        help="minibios only: enter the bzImage through its 16-bit setup code or straight in "
        "32/64-bit mode (default: 64-bit when the kernel has it); implies --entry bzimage",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=default_timeout,
        help=f"seconds before the VM is stopped (default {default_timeout:g})",
    )
    parser.add_argument(
        "--qemu",
        help="the QEMU binary to run (default: qemu-system-x86_64, or its microvm-only build "
        "for --machine microvm under KVM)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="minibios", description="Build and boot the minibios firmware.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run",
        help="boot a kernel; QEMU arguments may follow `--`",
        usage="minibios run --kernel K [--initrd I] [options] [-- EXTRA-QEMU-ARGS]",
    )
    run.add_argument("--kernel", required=True, help="bzImage or ELF kernel")
    run.add_argument("--initrd", help="initramfs / initrd file")
    run.add_argument("--append", default="console=ttyS0", help="kernel command line")
    _add_vm_options(run, default_timeout=120)
    demo = commands.add_parser("demo", help="boot the cached cloud kernel and show its report")
    _add_vm_options(demo, default_timeout=120)
    demo.add_argument("--verbose", action="store_true", help="also show the guest console")
    bench = commands.add_parser(
        "bench", help="time every boot phase for several firmwares, interleaved"
    )
    bench.add_argument("--kernel", help="kernel (default: the cached Debian cloud kernel)")
    bench.add_argument("--initrd", help="initrd (default: the demo initramfs)")
    bench.add_argument("--append", default="console=ttyS0 quiet panic=-1")
    bench.add_argument("--machine", default="pc", help="pc, q35 or microvm (default pc)")
    bench.add_argument("--memory", default="512M")
    _add_microvm_acpi_option(bench)
    bench.add_argument("--runs", type=int, default=10, help="timed runs per firmware (10)")
    bench.add_argument("--count-runs", type=int, default=2, help="counting runs per firmware (2)")
    bench.add_argument(
        "--firmware",
        default="minibios,seabios,qboot",
        help="comma-separated: minibios, seabios, qboot or ROM files; minibios:16, "
        "minibios:32, minibios:64 pick its way into Linux; NAME:pvh boots the kernel's "
        "vmlinux through PVH",
    )
    bench.add_argument("--json", type=Path, help="write every raw run here")
    bench.add_argument("--plot", type=Path, help="write a timeline plot (.svg or .png)")
    parallel = commands.add_parser(
        "bench-parallel",
        help="wall time of N VMs booted at once against the same N one by one (TCG)",
    )
    parallel.add_argument("--vms", type=int, default=8, help="VMs per batch (default 8)")
    parallel.add_argument("--kernel", help="kernel (default: the cached Debian cloud kernel)")
    parallel.add_argument("--initrd", help="initrd (default: the demo initramfs)")
    parallel.add_argument("--append", default="console=ttyS0 quiet panic=-1")
    parallel.add_argument("--machine", default="pc", help="pc, q35 or microvm (default pc)")
    parallel.add_argument("--memory", default="256M", help="RAM per VM (default 256M)")
    parallel.add_argument(
        "--firmware", default="minibios", help="minibios, seabios, qboot or a ROM file"
    )
    _add_microvm_acpi_option(parallel)
    parallel.add_argument(
        "--timeout", type=float, default=300, help="seconds per VM before it is stopped (300)"
    )
    parallel.add_argument("--json", type=Path, help="write every VM's outcome here")
    commands.add_parser("rom", help="print the ROM path (building it if missing)")
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


def _boot_and_report(
    config: QemuConfig, timeout: float, stream: bool, demo: bool, qemu: str | None = None
) -> int:
    print(f"minibios: {choose_qemu(config.machine, config.accel, qemu).describe()}")
    if config.tsc_khz is not None:
        print(
            f"minibios: {config.machine} under {config.accel}: the kernel has nothing to "
            f"calibrate its TSC against; told it the host's ({TSC_OPTION}{config.tsc_khz})"
        )
    try:
        outcome = boot(config, timeout, on_output=_stream if stream else None)
    except QemuStartError as exc:
        print(f"minibios: error: {exc}", file=sys.stderr)
        return EXIT_QEMU_FAILED
    sys.stdout.flush()
    _print_outcome(outcome, timeout, demo=demo)
    return outcome.exit_status


def _print_entry(choice: EntryChoice) -> None:
    print(f"minibios: {choice.describe()}")
    sys.stdout.flush()


def _cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    kernel = check_file(args.kernel, "kernel")  # a clear error before anything else
    blocker = pvh_blocker(args.firmware, args.machine, args.microvm_acpi)
    choice = choose_entry(kernel, cache_dir(), args.entry, args.protocol, blocker)
    request = RunRequest(
        kernel=str(choice.kernel),
        initrd=args.initrd,
        append=args.append,
        machine=args.machine,
        cpus=args.cpus,
        memory=args.memory,
        firmware=args.firmware,
        accel=args.accel,
        qemu=args.qemu,
        microvm_acpi=args.microvm_acpi,
        boot_protocol=args.protocol,
        extra_args=tuple(extra),
    )
    config = preflight(request)
    _print_entry(choice)
    return _boot_and_report(config, args.timeout, stream=True, demo=False, qemu=args.qemu)


def _cmd_demo(args: argparse.Namespace) -> int:
    settings = DemoSettings(
        machine=args.machine,
        cpus=args.cpus,
        memory=args.memory,
        firmware=args.firmware,
        accel=args.accel,
        microvm_acpi=args.microvm_acpi,
        boot_protocol=args.protocol,
        entry=args.entry,
        qemu=args.qemu,
    )
    plan = demo_plan(settings)
    config = plan.config
    print(
        f"minibios demo: Debian kernel {plan.kernel_version} on {config.machine}, "
        f"{config.cpus} vCPU(s), {config.memory >> 20} MiB, firmware {args.firmware} "
        f"({config.firmware}), accel {config.accel}"
    )
    _print_entry(plan.entry)
    return _boot_and_report(config, args.timeout, stream=args.verbose, demo=True, qemu=args.qemu)


def _default_assets(kernel: str | None, initrd: str | None) -> tuple[Path, Path]:
    """The given kernel and initrd, else the cloud kernel and the demo initramfs."""
    cache = cache_dir()
    return (
        Path(kernel) if kernel else find_kernel(cache).vmlinuz,
        Path(initrd) if initrd else build_initramfs(InitramfsSpec(busybox=find_busybox()), cache),
    )


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.runs < 1 or args.count_runs < 0:
        raise UsageError("--runs must be at least 1 and --count-runs at least 0")
    if args.plot is not None:
        check_plot_path(args.plot)
    firmwares = tuple(f.strip() for f in args.firmware.split(",") if f.strip())
    for spec in firmwares:
        # A clear error before any boot.
        resolve_firmware(FirmwareSpec.parse(spec).name, args.machine)
    kernel, initrd = _default_assets(args.kernel, args.initrd)
    preflight(
        RunRequest(
            kernel=str(kernel),
            initrd=str(initrd),
            append=args.append,
            machine=args.machine,
            memory=args.memory,
            firmware=FirmwareSpec.parse(firmwares[0]).name,
        )
    )
    plan = BenchPlan(
        target=BootTarget(
            kernel=kernel,
            initrd=initrd,
            append=args.append,
            machine=args.machine,
            memory=args.memory,
            microvm_acpi=args.microvm_acpi,
        ),
        firmwares=firmwares,
        runs=args.runs,
        count_runs=args.count_runs,
    )
    results = run_bench(plan, stderr_progress)
    print(render(plan, results))
    if args.json:
        write_json(args.json, plan, results)
        print(f"minibios: raw runs in {args.json}")
    if args.plot:
        write_plot(args.plot, render_svg(results, f"minibios bench: {args.machine}, TCG"))
        print(f"minibios: plot in {args.plot}")
    return 0


def _cmd_bench_parallel(args: argparse.Namespace) -> int:
    if args.vms < 1:
        raise UsageError("--vms must be at least 1")
    kernel, initrd = _default_assets(args.kernel, args.initrd)
    config = preflight(
        RunRequest(
            kernel=str(kernel),
            initrd=str(initrd),
            append=args.append,
            machine=args.machine,
            memory=args.memory,
            firmware=args.firmware,
            accel="tcg",  # the figure is about TCG guests sharing the host's cores
            microvm_acpi=args.microvm_acpi,
        )
    )
    plan = ParallelPlan(config, args.firmware, args.vms, args.timeout)
    result = run_parallel_bench(plan, stderr_progress)
    print(render_parallel(result))
    if args.json:
        write_parallel_json(args.json, result)
        print(f"minibios: every VM's outcome in {args.json}")
    return 0 if result.ok else 1


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through `with Machine(...)`, which stops QEMU.
    raise SystemExit(128 + signum)


def _dispatch(args: argparse.Namespace, extra: list[str]) -> int:
    if args.command == "run":
        return _cmd_run(args, extra)
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
        if extra and args.command != "run":
            raise UsageError("extra QEMU arguments after `--` are only accepted by `run`")
        status = _dispatch(args, extra)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        # The reader went away (`minibios run | head`); QEMU is stopped already, as
        # the error unwound through the Machine. Nothing more goes to that pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (UsageError, MinibiosError) as exc:
        print(f"minibios: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("minibios: interrupted; QEMU stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
