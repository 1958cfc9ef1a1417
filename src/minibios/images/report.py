"""Parse the guest's `MINIBIOS-REPORT {json}` console line."""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from minibios.errors import RunError
from minibios.images.init_script import REPORT_PREFIX

# The trailing newline is required: a line still arriving can end in "}" too.
REPORT_RE = re.compile(rf"^{re.escape(REPORT_PREFIX)}(\{{.*\}})[ \t]*\n", re.MULTILINE)
ACPI_SIGNATURE_LEN = 4


class ReportError(RunError):
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
    # The first bytes of /sys/firmware/dmi/tables/smbios_entry_point (None: no SMBIOS).
    smbios_entry_point: bytes | None = None
    block_devices: tuple[str, ...] = ()

    @property
    def smbios_entry(self) -> str | None:
        """The SMBIOS version the entry point announces ("2.8", "3.0"), if any."""
        if self.smbios_entry_point is None:
            return None
        return smbios_entry_version(self.smbios_entry_point)

    @property
    def acpi_signatures(self) -> tuple[str, ...]:
        """The ACPI table signatures, one per table, sorted (SSDT1, SSDT2 -> SSDT, SSDT)."""
        return tuple(sorted(acpi_signature(name) for name in self.acpi_tables))

    def ram_bytes(self, start_at: int = 0) -> int:
        """Bytes of "System RAM" in the memory map at or above `start_at`."""
        total = 0
        for entry in self.memmap:
            if entry.type == "System RAM" and entry.end >= start_at:
                total += entry.end - max(entry.start, start_at) + 1
        return total


def acpi_signature(name: str) -> str:
    """The signature of a /sys/firmware/acpi/tables entry: "SSDT2" -> "SSDT".

    The kernel appends an instance number when a signature occurs more than
    once; signatures are four characters and may end in a digit ("DBG2").
    """
    head, tail = name[:ACPI_SIGNATURE_LEN], name[ACPI_SIGNATURE_LEN:]
    return head if tail.isdigit() else name


def smbios_entry_version(entry: bytes) -> str | None:
    """The "major.minor" an SMBIOS entry point announces, None if it is neither kind.

    The 2.1 (32-bit) entry point "_SM_" keeps the version in bytes 6 and 7,
    the 3.0 (64-bit) one "_SM3_" in bytes 7 and 8.
    """
    if entry.startswith(b"_SM3_") and len(entry) >= 9:
        return f"{entry[7]}.{entry[8]}"
    if entry.startswith(b"_SM_") and len(entry) >= 8:
        return f"{entry[6]}.{entry[7]}"
    return None


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
        raise ReportError(f"report is not valid JSON: {exc}") from exc
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
        smbios = data["smbios_entry_point"]
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
            smbios_entry_point=None if smbios is None else bytes.fromhex(str(smbios)),
            block_devices=tuple(str(name) for name in data["block_devices"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"report is missing or mangles a field: {exc!r}") from exc


def find_report(console: str) -> re.Match[str] | None:
    """The first report line in the console text, if any."""
    return REPORT_RE.search(console)


def parse_report(console: str) -> GuestReport:
    """Find and parse the report line in console output."""
    match = find_report(console)
    if match is None:
        raise ReportError("no MINIBIOS-REPORT line on the console")
    return parse_report_json(match.group(1))
