"""Data safety on virtio disks: what the guest writes and syncs is on the host's image."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from vm_support import BOOT_APPEND, BOOT_TIMEOUT, make_machine, qemu_pids

from minibios.images.assets import KernelAssets, find_busybox
from minibios.images.init_script import DISK_WRITE_FLAG
from minibios.images.initramfs import InitramfsSpec, build_initramfs, find_modules
from minibios.images.report import REPORT_RE
from minibios.sizes import MIB
from minibios.vm.machine import VmEnd

pytestmark = pytest.mark.boot

# virtio-pci on pc and q35, virtio-mmio (found through our DSDT) on microvm.
DEVICE = {"pc": "virtio-blk-pci", "q35": "virtio-blk-pci", "microvm": "virtio-blk-device"}
TRANSPORT = {"pc": "virtio_pci", "q35": "virtio_pci", "microvm": "virtio_mmio"}


def disk_initrd(kernel: KernelAssets, machine: str, payload: Path) -> Path:
    modules = find_modules(kernel.modules_dir, (TRANSPORT[machine], "virtio_blk"))
    spec = InitramfsSpec(busybox=find_busybox(), payload=payload, modules=modules)
    # The payload is this test's own: build beside it, not in the user's cache.
    return build_initramfs(spec, payload.parent)


@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_guest_writes_reach_the_disk_image(
    machine: str,
    firmware: str,
    kernel_assets: KernelAssets,
    tmp_path: Path,
    marker: str,
) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(hashlib.sha256(marker.encode()).digest() * (4 * MIB // 32))
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as handle:
        handle.truncate(8 * MIB)
    append = f"{BOOT_APPEND} {DISK_WRITE_FLAG}"
    with make_machine(
        kernel=kernel_assets.vmlinuz,
        initrd=disk_initrd(kernel_assets, machine, payload),
        append=append,
        machine=machine,
        firmware=firmware,
        microvm_acpi=True,
        extra_args=[
            *("-drive", f"id=d0,if=none,format=raw,cache=none,file={disk}"),
            *("-device", f"{DEVICE[machine]},drive=d0"),
            *("-name", marker),
        ],
    ) as vm:
        vm.wait_for(REPORT_RE, BOOT_TIMEOUT)
        assert vm.wait_exit(BOOT_TIMEOUT) is VmEnd.POWERED_OFF
        console = vm.console
    assert not qemu_pids(marker)
    assert "disk write failed" not in console, console[-2000:]
    written = disk.read_bytes()[: payload.stat().st_size]
    assert hashlib.sha256(written).digest() == hashlib.sha256(payload.read_bytes()).digest()
