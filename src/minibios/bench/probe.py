"""One instrumented boot: when each phase began, and what the guest did before the kernel.

The VM starts held at reset (-S) with QEMU's gdb stub; releasing it marks
firmware entry exactly. Hardware breakpoints on the Linux entry points stop
the VM on the first instruction of the setup code and of the kernel, so the
boundaries are the same for every firmware. The report line of /init and
QEMU's exit close the boot.

A timing run carries nothing else. A counting run adds -icount with
record/replay (so QMP's query-replay gives the guest instruction count),
QEMU's trace of every device access and fw_cfg select, and a debug console
on port 0xf4 where minibios writes its milestones (asked for through fw_cfg:
by default it writes none, since kvm-unit-tests and others put isa-debug-exit
on that port). A step run (minibios
only) asks the firmware, through fw_cfg, to mark the end of each of its
steps on that port too, and traces only those writes.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from minibios.bench.gdb_remote import GdbRemote
from minibios.bench.trace_log import (
    TRACE_EVENTS,
    AccessCounts,
    TraceEvent,
    count_window,
    parse_events,
    port_writes,
)
from minibios.errors import RunError
from minibios.firmware.choice import Firmware, FirmwareKind, FirmwareSpec, resolve_firmware
from minibios.images.assets import cache_dir
from minibios.images.report import REPORT_RE
from minibios.images.vmlinux import extract_vmlinux
from minibios.vm.machine import Machine, VmEnd
from minibios.vm.runtime_dir import make_runtime_dir
from minibios.vm.spec import VmSpec

SETUP_ENTRY = 0x10200  # 16-bit protocol: setup code at 0x1020:0000 (QEMU puts it at 0x10000)
# startup_32 and startup_64 of a kernel loaded at 1 MiB (QEMU's option ROMs, qboot) or at
# 16 MiB (minibios honours pref_address). The first one hit is the entry: the kernel's own
# later jumps come after it.
KERNEL_ENTRIES = (0x100000, 0x100200, 0x1000000, 0x1000200)
MILESTONE_PORT = 0xF4
STEP_MARKS_FILE = "opt/minibios/step-marks"  # firmware/include/debugport.h
MILESTONES_FILE = "opt/minibios/milestones"  # ditto: the milestones only when asked
RIP_HEX = slice(16 * 16, 17 * 16)  # 'g' reply: 16 64-bit GPRs, then rip (x86-64 layout)
_VMHWM_RE = re.compile(r"^VmHWM:\s+(\d+) kB", re.MULTILINE)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchFirmware:
    """One firmware of a comparison, resolved: the file, and how it enters the kernel."""

    label: str  # as the user wrote it: "minibios", "minibios:32", "qboot:pvh"
    firmware: Firmware
    protocol: int | None = None  # minibios's Linux entry (16, 32 or 64)
    pvh: bool = False  # boot the bzImage's vmlinux through its PVH entry

    @classmethod
    def resolve(cls, label: str, machine: str) -> BenchFirmware:
        """Parse a --firmware entry and find its file (rebuilding minibios's ROM)."""
        spec = FirmwareSpec.parse(label)
        return cls(label, resolve_firmware(spec.name, machine), spec.protocol, spec.pvh)

    @property
    def is_minibios(self) -> bool:
        return self.firmware.kind is FirmwareKind.MINIBIOS


@dataclass(frozen=True)
class BootTiming:
    """Seconds from QEMU's start (one monotonic clock) at each boundary."""

    firmware_entry: float
    setup_entry: float | None  # None when the kernel was entered without its setup code
    kernel_entry: float
    init: float
    poweroff: float
    peak_rss_kb: int | None


@dataclass(frozen=True)
class BootCounts:
    """Deterministic work from reset to kernel entry."""

    accesses: AccessCounts
    instructions: int | None
    milestones: tuple[tuple[int, float], ...]  # (value, seconds after reset release)


class ProbeError(RunError):
    """The boot did not go through its phases."""


def _peak_rss_kb(pid: int | None) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = _VMHWM_RE.search(status)
    return int(m.group(1)) if m else None


def _stop_rip(gdb: GdbRemote) -> int:
    # QEMU's stub does not answer single-register reads ('p'): read them all.
    raw = bytes.fromhex(gdb.request("g")[RIP_HEX])
    return int.from_bytes(raw, "little")


class _ProbedBoot:
    """Shared driver: start held at reset, release, stop at setup and kernel entry."""

    def __init__(
        self, spec: VmSpec, firmware: BenchFirmware, extra: list[str], workdir: Path, timeout: float
    ):
        self.gdb = GdbRemote(workdir / "gdb.sock", timeout=timeout)
        self.timeout = timeout
        self.entries = KERNEL_ENTRIES
        spec = replace(spec, firmware=firmware.firmware, boot_protocol=firmware.protocol)
        if firmware.pvh:
            assert spec.kernel is not None
            vmlinux = extract_vmlinux(spec.kernel, cache_dir())
            spec = replace(spec, kernel=vmlinux.path)
            self.entries = (vmlinux.entry,)
        gdb = ["-S", "-gdb", f"unix:{self.gdb.path},server=on,wait=off"]
        self.vm = Machine(replace(spec, extra_args=(*spec.extra_args, *gdb, *extra)))

    def __enter__(self) -> _ProbedBoot:
        self.vm.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gdb.close()
        self.vm.close()

    def since_start(self) -> float:
        assert self.vm.started_at is not None
        return time.monotonic() - self.vm.started_at

    def release_and_stop_at_kernel(
        self, at_kernel: Callable[[], None] | None = None
    ) -> tuple[float, float | None, float]:
        """Release reset; returns (firmware entry, setup entry, kernel entry)."""
        gdb = self.gdb
        gdb.connect()
        for address in (SETUP_ENTRY, *self.entries):
            gdb.set_breakpoint(address)
        released = self.since_start()
        self.wall_released = time.time()
        gdb.resume()
        setup = None
        while True:
            gdb.wait_stop()
            stopped = self.since_start()
            rip = _stop_rip(gdb)
            log.debug("stopped at %#x after %.3f s", rip, stopped)
            if rip in self.entries:
                break
            # Real mode: the setup code starts at 0x1020:0000, so IP reads 0.
            if rip != 0 or setup is not None:
                raise ProbeError(f"stopped at an unexpected place (rip {rip:#x})")
            setup = stopped
            gdb.clear_breakpoint(SETUP_ENTRY)
            gdb.resume()
        self.wall_kernel = time.time()
        if at_kernel is not None:
            at_kernel()
        # Every breakpoint goes, the setup entry's too when it was never hit: while
        # any is set, TCG checks each block it runs against them, and the kernel
        # phase after a direct entry would run up to 15 % slower than after setup.
        for address in (*self.entries, *([SETUP_ENTRY] if setup is None else [])):
            gdb.clear_breakpoint(address)
        gdb.resume()
        return released, setup, stopped

    def finish(self) -> tuple[float, float, int | None]:
        """Wait for /init's report and the power-off: (init, poweroff, peak RSS)."""
        match = self.vm.wait_for(REPORT_RE, self.timeout)
        init = self.vm.elapsed_at(match.start())
        rss = _peak_rss_kb(self.vm.pid)
        end = self.vm.wait_exit(self.timeout)
        if end is not VmEnd.POWERED_OFF or init is None or self.vm.duration is None:
            raise ProbeError(f"the guest did not power off cleanly ({end.value})")
        return init, self.vm.duration, rss


def probe_timing(spec: VmSpec, firmware: BenchFirmware, timeout: float) -> BootTiming:
    """A plain boot with only the breakpoints: the phase boundaries."""
    workdir = make_runtime_dir()  # swept like a VM's if we are killed
    try:
        with _ProbedBoot(spec, firmware, [], workdir, timeout) as boot:
            released, setup, kernel = boot.release_and_stop_at_kernel()
            init, poweroff, rss = boot.finish()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return BootTiming(released, setup, kernel, init, poweroff, rss)


@dataclass(frozen=True)
class _TraceWindow:
    """QEMU's trace events from reset release to kernel entry (host wall-clock times)."""

    events: list[TraceEvent]
    start: float
    end: float

    def milestones(self) -> tuple[tuple[int, float], ...]:
        """Writes to the milestone port: (value, seconds after reset release)."""
        return tuple(
            (value, when - self.start) for when, value in port_writes(self.events, MILESTONE_PORT)
        )


def _traced_boot(
    spec: VmSpec,
    firmware: BenchFirmware,
    timeout: float,
    trace_events: Sequence[str],
    extra: Sequence[str] = (),
    *,
    record: bool = False,
    at_kernel: Callable[[_ProbedBoot], None] | None = None,
) -> _TraceWindow:
    """A boot with QEMU's trace (and, if asked, -icount record/replay) and a debug
    console on the milestone port; at_kernel runs while the VM is stopped there."""
    workdir = make_runtime_dir()  # swept like a VM's if we are killed
    trace = workdir / "trace.log"
    args = [
        *extra,
        "-D", str(trace),
        "-msg", "timestamp=on",
        "-chardev", "null,id=minibios-milestones",
        "-device", f"isa-debugcon,iobase={MILESTONE_PORT:#x},chardev=minibios-milestones",
    ]  # fmt: skip
    if firmware.is_minibios:
        args += ["-fw_cfg", f"name={MILESTONES_FILE},string=1"]
    if record:
        args += ["-icount", f"shift=0,sleep=off,rr=record,rrfile={workdir / 'replay.bin'}"]
    for event in trace_events:
        args += ["-trace", event]
    try:
        with _ProbedBoot(spec, firmware, args, workdir, timeout) as boot:
            boot.release_and_stop_at_kernel(
                (lambda: at_kernel(boot)) if at_kernel is not None else None
            )
            boot.finish()
            start, end = boot.wall_released, boot.wall_kernel
        with trace.open(errors="replace") as f:
            events = [ev for ev in parse_events(f) if start <= ev.time <= end]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _TraceWindow(events, start, end)


def probe_steps(
    spec: VmSpec, firmware: BenchFirmware, timeout: float
) -> tuple[tuple[int, float], ...]:
    """minibios's own marks, (value, seconds after reset release), up to kernel entry."""
    fw_cfg = ["-fw_cfg", f"name={STEP_MARKS_FILE},string=1"]
    writes = ["memory_region_ops_write"]
    return _traced_boot(spec, firmware, timeout, writes, fw_cfg).milestones()


def probe_counts(spec: VmSpec, firmware: BenchFirmware, timeout: float) -> BootCounts:
    """An instruction-counted, traced boot: what happened from reset to kernel entry."""
    instructions: list[int] = []

    def read_icount(boot: _ProbedBoot) -> None:
        instructions.append(int(boot.vm.qmp.cmd("query-replay")["icount"]))

    window = _traced_boot(spec, firmware, timeout, TRACE_EVENTS, record=True, at_kernel=read_icount)
    return BootCounts(
        count_window(window.events, window.start, window.end),
        instructions[0] if instructions else None,
        window.milestones(),
    )
