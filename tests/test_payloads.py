"""Real payloads nobody here wrote, minibios next to SeaBIOS on the same command line.

memtest86+ (a bzImage-style 64-bit image) and the Xen hypervisor (a multiboot
image) with Debian's generic kernel as its dom0. scripts/setup unpacks both
packages into the cache (apt-get download + dpkg-deb -x: installing Xen would
change the host); without them the tests skip. Every wait is bounded and
asserts on the console lines that show how far each firmware got.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from vm_support import BootImages, make_machine

from minibios.images.assets import KernelAssets, cache_dir
from minibios.images.report import REPORT_RE, parse_report_json
from minibios.vm.machine import VmEnd

REFERENCE = "seabios"
# Under TCG on a shared 2-core host each step can take minutes; normally seconds.
STEP_TIMEOUT = 300.0


def package_file(package: str, relative: str) -> Path:
    path = cache_dir() / "packages" / package / relative
    if not path.is_file():
        pytest.skip(f"{package} is not unpacked in the cache ({path}): run scripts/setup")
    return path


# --- memtest86+ ----------------------------------------------------------------------
MEMTEST_RAM = "256M"
MEMTEST_CPUS = 2


@dataclass(frozen=True)
class MemtestView:
    memory_mb: int
    threads: int
    errors_after_first_test: int


def run_memtest(image: Path, machine: str, firmware: str) -> MemtestView:
    """Boot memtest86+ with its serial console; stop once its first test is done."""
    with make_machine(
        firmware,
        kernel=image,
        append="console=ttyS0,115200",
        machine=machine,
        cpus=MEMTEST_CPUS,
        memory=MEMTEST_RAM,
        accel="tcg",
    ) as vm:
        memory = vm.wait_for(r"Memory\s*:\s*(\d+)MB", STEP_TIMEOUT)
        smp = vm.wait_for(r"SMP: (\d+)T", STEP_TIMEOUT)
        # A later test starting means test #0 (address test, walking ones) completed
        # (the serial console shows #0, then #2: test #1 is not in the default run).
        second = vm.wait_for(r"#[1-9]\s+\[", STEP_TIMEOUT, since=smp.end())
        errors = re.findall(r"Errors: (\d+)", vm.console[: second.start()])
    assert errors, "memtest never showed its error count"
    return MemtestView(int(memory.group(1)), int(smp.group(1)), int(errors[-1]))


@pytest.mark.boot
@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_memtest86plus_sees_ram_and_cpus_and_completes_its_first_test(machine: str) -> None:
    """microvm is left out: memtest86+ needs a PC (PCI, VGA/serial, PIT)."""
    image = package_file("memtest86+", "boot/memtest86+x64.bin")
    seen = {fw: run_memtest(image, machine, fw) for fw in ("minibios", REFERENCE)}
    assert seen["minibios"] == MemtestView(255, MEMTEST_CPUS, 0)
    assert seen["minibios"] == seen[REFERENCE]


# --- Xen ----------------------------------------------------------------------------
XEN = ("xen-hypervisor-4.17-amd64", "boot/xen-4.17-amd64")
XEN_CPUS = 2


@dataclass(frozen=True)
class XenView:
    """How far a Xen boot got: Xen's CPUs, dom0's /init report, dom0's power-off (which
    Xen turns into ACPI S5; its "Entering ACPI S5 state" line may not reach the console
    before QEMU exits), and how the VM ended."""

    xen_cpus: int
    dom0_cpus: int
    dom0_power_down: bool
    end: VmEnd


def run_xen(xen: Path, dom0: KernelAssets, initrd: Path, machine: str, firmware: str) -> XenView:
    # QEMU's multiboot modules: "file args,file" (the dom0 kernel with its command line,
    # then its initrd).
    modules = f"{dom0.vmlinuz} console=hvc0 panic=-1,{initrd}"
    with make_machine(
        firmware,
        kernel=xen,
        append="console=com1 com1=115200,8n1 dom0_mem=512M",
        machine=machine,
        cpus=XEN_CPUS,
        memory="1G",
        accel="tcg",
        extra_args=("-initrd", modules),
    ) as vm:
        cpus = vm.wait_for(r"\(XEN\) Brought up (\d+) CPUs", STEP_TIMEOUT)
        report = vm.wait_for(REPORT_RE, STEP_TIMEOUT, since=cpus.end())
        power_down = vm.wait_for(r"reboot: Power down", STEP_TIMEOUT, since=report.end())
        end = vm.wait_exit(STEP_TIMEOUT)
    dom0_cpus = parse_report_json(report.group(1)).cpus
    return XenView(int(cpus.group(1)), dom0_cpus, power_down is not None, end)


@pytest.mark.boot
@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_xen_boots_dom0_and_powers_off(
    machine: str, generic_kernel: KernelAssets, boot_images: BootImages
) -> None:
    """Xen 4.17 (multiboot) with Debian's generic kernel as a PV dom0 (the cloud kernel
    has no dom0 support): both CPUs in Xen, dom0's /init reports both, and its power-off
    takes Xen to ACPI S5 and QEMU out (a clean power-off). microvm is left out: Xen
    wants a PC platform."""
    xen = package_file(*XEN)
    seen = {
        fw: run_xen(xen, generic_kernel, boot_images.plain_initrd, machine, fw)
        for fw in ("minibios", REFERENCE)
    }
    assert seen["minibios"] == XenView(XEN_CPUS, XEN_CPUS, True, VmEnd.POWERED_OFF)
    assert seen["minibios"] == seen[REFERENCE]
