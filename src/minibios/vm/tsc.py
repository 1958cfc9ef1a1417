"""The TSC frequency a microvm guest under TCG cannot measure for itself.

microvm has no HPET, no ACPI PM timer and no port 0x61 (the PIT's gate), so the
kernel has nothing to calibrate its TSC against; with ACPI on it then often hangs
before /init under TCG. Under TCG the guest's TSC is the host's (QEMU reads the
host's counter), so the host's frequency, given as `tsc_early_khz=`, is right.
"""

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
TSC_OPTION = "tsc_early_khz="


def host_tsc_khz(cpuinfo: Path = CPUINFO) -> int | None:
    """The host's TSC frequency in kHz, as Linux gives it ("cpu MHz").

    That is the TSC's rate where the TSC is constant (constant_tsc, every x86 of
    the last fifteen years); elsewhere it is the current clock, a guess that still
    beats a kernel hanging on its calibration. None where there is no such line.
    """
    try:
        first_cpu = cpuinfo.read_text().split("\n\n", 1)[0]
    except OSError:
        return None
    fields = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in first_cpu.splitlines())
    )
    try:
        khz = round(float(fields.get("cpu MHz", "")) * 1000)
    except (ValueError, OverflowError):  # also "nan" and "inf"
        return None
    return khz if khz > 0 else None


def tsc_hint_khz(
    machine: str, accel: str, append: str | None, cpuinfo: Path = CPUINFO
) -> int | None:
    """kHz to tell the kernel, or None where it can calibrate or was told already."""
    if machine != "microvm" or accel != "tcg" or TSC_OPTION in (append or ""):
        return None
    return host_tsc_khz(cpuinfo)
