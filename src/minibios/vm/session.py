"""Boot a VmSpec to its end and sum up the outcome (shared by `run`, `demo` and bench-parallel)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from minibios.images.report import GuestReport, ReportError, find_report, parse_report_json
from minibios.vm.console import OutputCallback
from minibios.vm.machine import Machine, VmEnd
from minibios.vm.spec import VmSpec

log = logging.getLogger(__name__)

# CLI exit statuses by how the VM ended; 2 (bad input) is raised before any VM exists.
EXIT_STATUS = {
    VmEnd.POWERED_OFF: 0,
    VmEnd.RESET: 1,
    VmEnd.PANICKED: 1,
    VmEnd.FIRMWARE_ERROR: 1,
    VmEnd.KILLED: 1,
    VmEnd.TIMEOUT: 3,
    VmEnd.START_FAILED: 4,
    VmEnd.QEMU_ERROR: 4,
}


@dataclass(frozen=True)
class BootOutcome:
    end: VmEnd
    console: str
    stderr: str
    report: GuestReport | None
    report_error: str | None
    to_report: float | None
    to_end: float | None

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS.get(self.end, 1)


def boot(
    spec: VmSpec,
    timeout: float,
    on_output: OutputCallback | None = None,
    on_start: Callable[[Machine], None] | None = None,
) -> BootOutcome:
    """Run the VM until it ends or `timeout` passes; QEMU is gone on return."""
    with Machine(spec, on_output=on_output) as vm:
        if on_start is not None:
            on_start(vm)
        end = vm.wait_exit(timeout)
        log.info("VM ended: %s (QEMU exit status %s)", end.value, vm.returncode)
        console = vm.console
        match = find_report(console)
        to_report = vm.elapsed_at(match.start()) if match else None
    report = None
    report_error = None
    if match is not None:
        try:
            report = parse_report_json(match.group(1))
        except ReportError as exc:
            report_error = str(exc)
    return BootOutcome(
        end=end,
        console=console,
        stderr=vm.stderr,
        report=report,
        report_error=report_error,
        to_report=to_report,
        to_end=vm.duration if end is not VmEnd.TIMEOUT else None,
    )
