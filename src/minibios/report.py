"""Parse the guest's `MINIBIOS-REPORT {json}` console line."""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from minibios.errors import MinibiosError
from minibios.init_script import REPORT_PREFIX

# The trailing newline is required: a line still arriving can end in "}" too.
REPORT_RE = re.compile(rf"^{re.escape(REPORT_PREFIX)}(\{{.*\}})[ \t]*\n", re.MULTILINE)


class ReportError(MinibiosError):
    """No report line, or one that does not hold what /init writes."""


@dataclass(frozen=True)
class MemmapEntry:
    """One /sys/firmware/memmap entry; `end` is inclusive, as the kernel shows it."""

    start: int
    end: int
    type: str

    @property
    def size(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class GuestReport:
    cpus: int
    nproc_cpuinfo: int
    memtotal_kb: int | None
    cmdline: str
    memmap: tuple[MemmapEntry, ...]
    acpi_tables: tuple[str, ...]
    dmi: dict[str, str] = field(default_factory=dict)
    payload_sha256: str | None = None

    def ram_bytes(self, start_at: int = 0) -> int:
        """Bytes of "System RAM" in the memory map at or above `start_at`."""
        total = 0
        for entry in self.memmap:
            if entry.type == "System RAM" and entry.end >= start_at:
                total += entry.end - max(entry.start, start_at) + 1
        return total


def _int(value: Any, what: str) -> int:
    # memmap addresses arrive as "0x…" strings; counts as JSON numbers.
    if isinstance(value, bool):
        raise ReportError(f"report field {what} is not a number: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
    raise ReportError(f"report field {what} is not a number: {value!r}")


def parse_report_json(payload: str) -> GuestReport:
    """Build a GuestReport from the JSON text after the prefix."""
    try:
        # strict=False: /init passes control characters through unescaped.
        data = json.loads(payload, strict=False)
    except json.JSONDecodeError as exc:
        raise ReportError(f"report is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ReportError("report is not a JSON object")
    try:
        memmap = tuple(
            MemmapEntry(
                _int(e["start"], "memmap.start"), _int(e["end"], "memmap.end"), str(e["type"])
            )
            for e in data["memmap"]
        )
        sha = data["payload_sha256"]
        return GuestReport(
            cpus=_int(data["cpus"], "cpus"),
            nproc_cpuinfo=_int(data["nproc_cpuinfo"], "nproc_cpuinfo"),
            memtotal_kb=None
            if data["memtotal_kb"] is None
            else _int(data["memtotal_kb"], "memtotal_kb"),
            cmdline=str(data["cmdline"]),
            memmap=memmap,
            acpi_tables=tuple(str(name) for name in data["acpi_tables"]),
            dmi={str(k): str(v) for k, v in dict(data["dmi"]).items()},
            payload_sha256=None if sha is None else str(sha),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"report is missing or mangles a field: {exc!r}") from None


def find_report(console: str) -> re.Match[str] | None:
    """The first report line in the console text, if any."""
    return REPORT_RE.search(console)


def parse_report(console: str) -> GuestReport:
    """Find and parse the report line in console output."""
    match = find_report(console)
    if match is None:
        raise ReportError("no MINIBIOS-REPORT line on the console")
    return parse_report_json(match.group(1))
