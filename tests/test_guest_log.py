"""What a Linux guest's own log says about the firmware it booted on.

The kernel keys paths on firmware facts: the SMBIOS BIOS year (rtc-cmos takes the ACPI
RTC alarm instead of HPET interrupts from 2015 on Intel CPUs, 2021 on AMD, and
`hwclock` then waits seconds for RTC ticks), the MTRRs (PAT only when they are
enabled), the e820 map (MMCONFIG used without ACPI only when reserved there). Each
test boots a real guest and reads its kernel log and its report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from vm_support import BOOT_TIMEOUT, BootImages, make_machine

from minibios.images.report import REPORT_RE, GuestReport, parse_report_json
from minibios.vm.machine import VmEnd

pytestmark = pytest.mark.boot

# Not "quiet": the kernel's informational lines are what these tests read.
VERBOSE_APPEND = "console=ttyS0 panic=-1"
FIRMWARE_BIOS_DATE = "04/01/2014"
INTEL_CPU = "Skylake-Client"  # TCG emulates it; QEMU's default CPU says AuthenticAMD
RTC_RE = re.compile(r"rtc_cmos 00:0\d: alarms up to .*")
CPU0_RE = re.compile(r"smpboot: CPU0: (\w+)")


@dataclass(frozen=True)
class GuestBoot:
    log: str
    report: GuestReport

    def line(self, regex: re.Pattern[str]) -> str:
        match = regex.search(self.log)
        assert match is not None, f"no {regex.pattern!r} in the kernel log"
        return match.group(0)

    @property
    def cpu_vendor(self) -> str:
        match = CPU0_RE.search(self.log)
        assert match is not None, "the kernel did not name CPU0"
        return match.group(1)


def boot(
    firmware: str,
    images: BootImages,
    machine: str,
    extra_args: tuple[str, ...] = (),
    append: str = VERBOSE_APPEND,
    cpus: int = 1,
) -> GuestBoot:
    with make_machine(
        firmware,
        kernel=images.kernel.vmlinuz,
        initrd=images.plain_initrd,
        append=append,
        machine=machine,
        cpus=cpus,
        memory="256M",
        extra_args=extra_args,
    ) as vm:
        match = vm.wait_for(REPORT_RE, BOOT_TIMEOUT)
        report = parse_report_json(match.group(1))
        end = vm.wait_exit(BOOT_TIMEOUT)
        log = vm.console
    assert end is VmEnd.POWERED_OFF, log[-2000:]
    return GuestBoot(log, report)


@pytest.mark.parametrize(
    ("machine", "cpu", "vendor"),
    [
        ("q35", INTEL_CPU, "Intel"),
        ("q35", None, "AMD"),
        ("pc", "qemu64,vendor=GenuineIntel", "Intel"),
    ],
    ids=["q35-intel", "q35-amd", "pc-intel"],
)
def test_rtc_alarm_uses_hpet_on_both_vendors(
    firmware: str, boot_images: BootImages, machine: str, cpu: str | None, vendor: str
) -> None:
    """Our BIOS date keeps rtc-cmos on HPET interrupts, as with SeaBIOS."""
    guest = boot(firmware, boot_images, machine, ("-cpu", cpu) if cpu else ())
    assert guest.cpu_vendor == vendor
    rtc = guest.line(RTC_RE)
    assert rtc.endswith(", hpet irqs"), rtc
    assert guest.report.dmi["bios_date"] == FIRMWARE_BIOS_DATE


def test_user_bios_date_wins(firmware: str, boot_images: BootImages) -> None:
    """-smbios type=0 comes in QEMU's tables and replaces our Type 0: its date is what
    the guest sees, and a recent one sends rtc-cmos on an Intel CPU to the ACPI alarm."""
    user = ("-cpu", INTEL_CPU, "-smbios", "type=0,vendor=Someone,date=01/02/2026")
    guest = boot(firmware, boot_images, "q35", user)
    assert guest.report.dmi["bios_date"] == "01/02/2026"
    assert guest.report.dmi["bios_vendor"] == "Someone"
    assert "hpet irqs" not in guest.line(RTC_RE)


PAT_ON = "x86/PAT: Configuration [0-7]: WB  WC  UC- UC  WB  WP  UC- WT"
MMCONFIG_E820 = "BIOS-e820: [mem 0x00000000b0000000-0x00000000bfffffff] reserved"
PCI_GAP_RE = re.compile(r"\[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] available for PCI devices")


@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_mtrrs_enabled_and_pat_on(firmware: str, boot_images: BootImages, machine: str) -> None:
    """MTRRs on (Linux no longer skips PAT) on every CPU; the APs answered the firmware."""
    guest = boot(firmware, boot_images, machine, cpus=2)
    assert "MTRRs disabled" not in guest.log
    assert PAT_ON in guest.log
    assert "x86/PAT: PAT support disabled" not in guest.log
    assert "minibios: MTRRs:" not in guest.log, "an AP did not take the MTRRs"
    assert guest.report.cpus == 2


@pytest.mark.parametrize("acpi", [True, False], ids=["acpi", "acpi-off"])
def test_q35_mmconfig_reserved_in_e820(firmware: str, boot_images: BootImages, acpi: bool) -> None:
    """The MMCONFIG window is reserved in e820: Linux with ACPI accepts it at its first
    check, and without ACPI keeps PCI allocations out of it."""
    append = VERBOSE_APPEND if acpi else f"{VERBOSE_APPEND} acpi=off"
    guest = boot(firmware, boot_images, "q35", append=append)
    assert MMCONFIG_E820 in guest.log
    gap = PCI_GAP_RE.search(guest.log)
    assert gap is not None and int(gap.group(2), 16) < 0xB000_0000, gap
    if acpi:
        assert "PCI: MMCONFIG at [mem 0xb0000000-0xbfffffff] reserved in E820" in guest.log


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_keyboard_controller_translates(
    firmware: str, boot_images: BootImages, machine: str
) -> None:
    """Scan code translation on, as every PC BIOS leaves the i8042 (SeaBIOS too)."""
    guest = boot(firmware, boot_images, machine)
    assert "input: AT Translated Set 2 keyboard" in guest.log
