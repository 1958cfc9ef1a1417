"""`minibios run` and `minibios demo`: boot a kernel and show what happened."""

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from minibios.cli.demo import demo_plan
from minibios.cli.options import vm_spec
from minibios.cli.report_format import format_report, format_timing
from minibios.images.assets import cache_dir
from minibios.images.entry import EntryChoice, choose_entry
from minibios.vm.machine import Machine, VmEnd
from minibios.vm.preflight import check_file, preflight
from minibios.vm.qemu_binary import choose_qemu
from minibios.vm.runtime_dir import placeholder_runtime_dir
from minibios.vm.session import BootOutcome, boot
from minibios.vm.spec import VmSpec
from minibios.vm.tsc import TSC_OPTION

CONSOLE_TAIL_LINES = 15


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


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    kernel = check_file(args.kernel, "kernel")  # a clear error before anything else
    base = vm_spec(args, extra_args=tuple(extra))
    choice = choose_entry(kernel, cache_dir(), args.entry, args.protocol, base.pvh_blocker())
    spec = preflight(replace(base, kernel=choice.kernel))
    _print_entry(choice)
    return _boot_and_report(spec, args, stream=True, demo=False)


def cmd_demo(args: argparse.Namespace) -> int:
    plan = demo_plan(vm_spec(args), args.entry)
    spec = plan.spec
    print(
        f"minibios demo: Debian kernel {plan.kernel_version} on {spec.machine}, "
        f"{spec.cpus} vCPU(s), {spec.memory >> 20} MiB, firmware {spec.firmware_name} "
        f"({spec.firmware.path if spec.firmware else '-'}), accel {spec.accel}"
    )
    _print_entry(plan.entry)
    return _boot_and_report(spec, args, stream=args.verbose, demo=True)
