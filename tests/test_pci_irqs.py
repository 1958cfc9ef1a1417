"""PCI interrupts reach the guest in each way Linux can route them, with no PCI scan.

The firmware leaves PCI enumeration to the kernel and describes the fixed
wiring instead: ACPI's _PRT (QEMU's), MP-table entries for every bus-0 slot,
and a $PIR table for a kernel with neither. A virtio disk without MSI (pci=nomsi)
can only complete its I/O through INTx, so a write that reaches the host's
image proves the route, on bus 0 and behind a PCI-PCI bridge the firmware
never numbered.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from vm_support import BOOT_APPEND, BOOT_TIMEOUT, make_machine, qemu_pids

from minibios.images.assets import KernelAssets, find_busybox
from minibios.images.init_script import DISK_WRITE_FLAG
from minibios.images.initramfs import InitramfsSpec, build_initramfs, find_modules
from minibios.images.report import REPORT_RE, parse_report_json
from minibios.sizes import MIB
from minibios.vm.machine import VmEnd

pytestmark = pytest.mark.boot

# How the kernel finds the route: ACPI _PRT; the MP table (the generic kernel,
# which has MPPARSE, with acpi=off); the 8259 alone with the $PIR table (the
# cloud kernel has no MPPARSE, so acpi=off leaves it without I/O APIC).
MODES = {
    "acpi": ("cloud", ""),
    "mptable": ("generic", "acpi=off"),
    "pic": ("cloud", "acpi=off"),
}


def disk_initrd(kernel: KernelAssets, payload: Path) -> Path:
    modules = find_modules(kernel.modules_dir, ("virtio_pci", "virtio_blk"))
    spec = InitramfsSpec(busybox=find_busybox(), payload=payload, modules=modules)
    # The payload is this test's own: build beside it, not in the user's cache.
    return build_initramfs(spec, payload.parent)


@pytest.mark.parametrize("behind_bridge", [False, True], ids=["bus0", "bridge"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_disk_interrupts_arrive(
    machine: str,
    mode: str,
    behind_bridge: bool,
    firmware: str,
    kernel_assets: KernelAssets,
    generic_kernel: KernelAssets,
    tmp_path: Path,
    marker: str,
) -> None:
    flavour, mode_append = MODES[mode]
    kernel = kernel_assets if flavour == "cloud" else generic_kernel
    payload = tmp_path / "payload.bin"
    payload.write_bytes(hashlib.sha256(marker.encode()).digest() * (MIB // 32))
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as handle:
        handle.truncate(4 * MIB)
    # Slot 5 behind a bridge in slot 3: a route that needs the swizzle.
    bridge = ["-device", "pci-bridge,id=br0,chassis_nr=1,addr=3"] if behind_bridge else []
    placement = "bus=br0,addr=5" if behind_bridge else "addr=5"
    with make_machine(
        kernel=kernel.vmlinuz,
        initrd=disk_initrd(kernel, payload),
        append=f"{BOOT_APPEND} pci=nomsi {mode_append} {DISK_WRITE_FLAG}",
        machine=machine,
        firmware=firmware,
        extra_args=[
            *bridge,
            *("-drive", f"id=d0,if=none,format=raw,cache=none,file={disk}"),
            *("-device", f"virtio-blk-pci,drive=d0,{placement}"),
            *("-name", marker),
        ],
    ) as vm:
        report = parse_report_json(vm.wait_for(REPORT_RE, BOOT_TIMEOUT).group(1))
        assert vm.wait_exit(BOOT_TIMEOUT) is VmEnd.POWERED_OFF
        console = vm.console
    assert not qemu_pids(marker)
    assert "disk write failed" not in console, console[-3000:]
    assert (report.acpi_tables == ()) == (mode != "acpi")
    written = disk.read_bytes()[: payload.stat().st_size]
    assert written == payload.read_bytes()
