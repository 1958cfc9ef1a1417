"""QEMU's trace log (-trace … -D FILE -msg timestamp=on), read back as events.

A line reads `TID@SECONDS.MICROS:EVENT ARGS`. The benchmark enables
memory_region_ops_read/write (every port and MMIO access that reaches a
device model: each one a VM exit under KVM) and fw_cfg_select, then counts
what the guest did inside a window of wall-clock time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

TRACE_EVENTS = ("memory_region_ops_read", "memory_region_ops_write", "fw_cfg_select")
PORT_SPACE_END = 0x10000  # x86 I/O ports are 16-bit; device MMIO lives far above

_LINE_RE = re.compile(r"^(?P<tid>\d+)@(?P<sec>\d+)\.(?P<usec>\d{6}):(?P<event>\w+) (?P<args>.*)$")
_ACCESS_RE = re.compile(
    r"cpu (?P<cpu>-?\d+) mr \S+ addr (?P<addr>0x[0-9a-f]+) value (?P<value>0x[0-9a-f]+) "
    r"size (?P<size>\d+) name '(?P<name>[^']*)'"
)


@dataclass(frozen=True)
class TraceEvent:
    time: float  # host wall-clock seconds
    event: str
    args: str


@dataclass(frozen=True)
class Access:
    """One guest access to a device register."""

    time: float
    write: bool
    addr: int
    value: int
    size: int
    region: str

    @property
    def is_port(self) -> bool:
        return self.addr < PORT_SPACE_END


@dataclass(frozen=True)
class AccessCounts:
    port_io: int
    mmio: int
    fw_cfg_selects: int

    @property
    def total(self) -> int:
        return self.port_io + self.mmio


def parse_events(lines: Iterable[str]) -> Iterator[TraceEvent]:
    """The timestamped trace lines; anything else (warnings, partial lines) is skipped."""
    for line in lines:
        m = _LINE_RE.match(line.rstrip("\n"))
        if m:
            when = int(m["sec"]) + int(m["usec"]) / 1e6
            yield TraceEvent(when, m["event"], m["args"])


def accesses(events: Iterable[TraceEvent]) -> Iterator[Access]:
    """Device accesses made by a vCPU (QEMU's own, cpu -1, are left out)."""
    for ev in events:
        if ev.event not in ("memory_region_ops_read", "memory_region_ops_write"):
            continue
        m = _ACCESS_RE.match(ev.args)
        if m is None or int(m["cpu"]) < 0:
            continue
        yield Access(
            ev.time,
            ev.event.endswith("write"),
            int(m["addr"], 16),
            int(m["value"], 16),
            int(m["size"]),
            m["name"],
        )


def count_window(events: Iterable[TraceEvent], start: float, end: float) -> AccessCounts:
    """What the guest did between start and end (wall clock, inclusive)."""
    port = mmio = selects = 0
    window = [ev for ev in events if start <= ev.time <= end]
    for ev in window:
        if ev.event == "fw_cfg_select":
            selects += 1
    for acc in accesses(window):
        if acc.is_port:
            port += 1
        else:
            mmio += 1
    return AccessCounts(port, mmio, selects)


def port_writes(events: Iterable[TraceEvent], port: int) -> list[tuple[float, int]]:
    """(time, value) of every guest write to an I/O port: the firmware's milestones."""
    return [(a.time, a.value) for a in accesses(events) if a.write and a.addr == port]
