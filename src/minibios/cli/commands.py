"""The `minibios` command: its parser and main(); each command's code is imported only
when it is the one chosen (_dispatch), so that the parser stays light."""

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from minibios.cli.bench_options import (
    add_bench_exec_parser,
    add_bench_memory_parser,
    add_bench_parallel_parser,
    add_bench_parser,
)
from minibios.cli.exec_options import add_exec_parser, add_pool_parser, add_snapshot_parser
from minibios.cli.install_options import INSTALL_COMMANDS, add_install_commands
from minibios.cli.options import BOOT_OPTIONS, add_options
from minibios.cli.usage import UsageError
from minibios.errors import InputError, MinibiosError

EXIT_USAGE = 2  # bad input: what preflight (or argparse) rejects, before any VM
EXIT_RUN_FAILED = 4  # QEMU, the guest's tooling or a probe failed while running
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a pipeline's writer
log = logging.getLogger(__name__)

__all__ = ["UsageError", "build_parser", "main"]


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
    add_bench_parser(commands)  # cli/bench_options.py, as the other benchmarks
    add_bench_parallel_parser(commands)
    add_exec_parser(commands)  # cli/exec_options.py: `minibios exec`
    add_snapshot_parser(commands)  # and `minibios snapshot ls|rm|gc`
    add_pool_parser(commands)  # and `minibios pool`
    add_bench_exec_parser(commands)
    commands.add_parser("rom", help="print the ROM path (rebuilding it if stale)")
    commands.add_parser("build", help="rebuild the ROM (make -C firmware)")
    add_install_commands(commands)  # install, uninstall: see cli/install_options.py
    add_bench_memory_parser(commands)
    return parser


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
    """Run the chosen command. Each imports its implementation here, not at the top:
    a command loads only its own modules (`exec`, the quick one, no benchmark)."""
    command = args.command
    if command == "exec":
        from minibios.cli.exec_command import cmd_exec

        return cmd_exec(args, extra)
    if command in ("snapshot", "pool"):
        from minibios.cli.exec_command import cmd_pool, cmd_snapshot

        return cmd_snapshot(args) if command == "snapshot" else cmd_pool(args)
    if command in ("run", "demo"):
        from minibios.cli.boot_commands import cmd_demo, cmd_run

        return cmd_run(args, extra) if command == "run" else cmd_demo(args)
    if command in ("bench", "bench-parallel", "bench-exec"):
        from minibios.cli.bench_commands import cmd_bench, cmd_bench_exec, cmd_bench_parallel

        if command == "bench":
            return cmd_bench(args)
        return cmd_bench_parallel(args) if command == "bench-parallel" else cmd_bench_exec(args)
    if command == "bench-memory":
        from minibios.bench.runner import stderr_progress
        from minibios.cli.bench_memory import run_memory_command

        return run_memory_command(args, stderr_progress)
    if command in INSTALL_COMMANDS:
        from minibios.cli.install import run_install_command

        return run_install_command(args)
    from minibios.firmware import rom

    print(rom.rom_path() if command == "rom" else rom.build())
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
