"""Readable text for a guest report and the boot timings."""

from minibios.images.report import GuestReport
from minibios.sizes import format_size

# DMI keys worth a line of their own, in this order; others follow sorted.
DMI_FIRST = ("sys_vendor", "product_name", "bios_vendor", "bios_version", "bios_date")


def format_report(report: GuestReport) -> str:
    label = "{:<16}".format
    lines = [
        f"{label('CPUs online')}{report.cpus} ({report.nproc_cpuinfo} in /proc/cpuinfo)",
        label("MemTotal")
        + (
            f"{format_size(report.memtotal_kb * 1024)} ({report.memtotal_kb} kB)"
            if report.memtotal_kb is not None
            else "unknown"
        ),
        f"{label('command line')}{report.cmdline}",
    ]
    if report.memmap:
        for index, entry in enumerate(report.memmap):
            head = label("memory map" if index == 0 else "")
            lines.append(
                f"{head}{entry.start:#018x}-{entry.end:#018x}  "
                f"{entry.type:<12} {format_size(entry.size)}"
            )
    else:
        lines.append(f"{label('memory map')}(none in /sys/firmware/memmap)")
    lines.append(f"{label('ACPI tables')}{' '.join(report.acpi_tables) or '(none)'}")
    if report.smbios_entry_point is None:
        smbios = "(none)"
    else:
        smbios = report.smbios_entry or f"unknown ({report.smbios_entry_point[:5]!r})"
    lines.append(f"{label('SMBIOS entry')}{smbios}")
    dmi_keys = [k for k in DMI_FIRST if report.dmi.get(k)]
    dmi_keys += sorted(k for k, v in report.dmi.items() if v and k not in DMI_FIRST)
    if dmi_keys:
        for index, key in enumerate(dmi_keys):
            head = label("DMI" if index == 0 else "")
            lines.append(f"{head}{key}: {report.dmi[key]}")
    else:
        lines.append(f"{label('DMI')}(none)")
    lines.append(f"{label('block devices')}{' '.join(report.block_devices) or '(none)'}")
    lines.append(f"{label('payload sha256')}{report.payload_sha256 or '(no payload)'}")
    return "\n".join(lines)


def format_timing(to_report: float | None, to_end: float | None, end_label: str) -> str:
    parts = []
    if to_report is not None:
        parts.append(f"{to_report:.3f} s to the report")
    if to_end is not None:
        parts.append(f"{to_end:.3f} s to {end_label}")
    return "boot time (from QEMU start): " + (", ".join(parts) if parts else "n/a")
