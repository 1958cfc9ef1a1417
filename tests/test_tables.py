"""Firmware tables as real guests see them: ACPI, SMBIOS, the MP table.

SeaBIOS is the reference for ACPI: QEMU builds the tables and both firmwares
install them through its table-loader, so on the same command line the guest
must see the same set of table signatures.
"""

import shlex
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from vm_support import BOOT_APPEND, BOOT_TIMEOUT, BootImages, make_machine, qemu_pids

from minibios.images.assets import KernelAssets, cache_dir, find_busybox
from minibios.images.init_script import HOLD_FLAG
from minibios.images.initramfs import NVDIMM_MODULES, InitramfsSpec, build_initramfs, find_modules
from minibios.images.report import REPORT_RE, GuestReport, MemmapEntry, parse_report_json
from minibios.sizes import GIB, MIB
from minibios.vm.machine import Machine, VmEnd

pytestmark = pytest.mark.boot

REFERENCE_FIRMWARE = "seabios"
MEMORY = "512M"
FOUR_GIB = 4 * GIB
MIGRATION_TIMEOUT = 60.0
# The most firmware-reserved memory worth searching for the vmgenid buffer.
MAX_RESERVED_SCAN = 16 * MIB
VMGENID_GUID = uuid.UUID("6f5c2a1e-8d3b-4c7a-9e21-0b4d5f6a7c8e")
VMGENID_RESTORED_GUID = uuid.UUID("d2a9e4c1-3b7f-4e65-8a10-c9f8e7d6b5a4")


@dataclass(frozen=True)
class Vm:
    """What differs between the boots of this file; the rest is the launcher's default."""

    machine: str
    cpus: int = 1
    memory: str = MEMORY
    extra_args: tuple[str, ...] = ()
    append: str = BOOT_APPEND

    def start(self, firmware: str, kernel: Path, initrd: Path, marker: str) -> Machine:
        return make_machine(
            kernel=kernel,
            initrd=initrd,
            append=self.append,
            machine=self.machine,
            cpus=self.cpus,
            memory=self.memory,
            firmware=firmware,
            # Only microvm looks at this; its ACPI is what these tests are about.
            microvm_acpi=True,
            extra_args=["-name", marker, *self.extra_args],
        )


def read_report(vm: Machine) -> GuestReport:
    match = vm.wait_for(REPORT_RE, BOOT_TIMEOUT)
    return parse_report_json(match.group(1))


def boot(vm: Vm, firmware: str, kernel: Path, initrd: Path, marker: str) -> GuestReport:
    """Boot to the report and the guest's power-off; no QEMU is left afterwards."""
    with vm.start(firmware, kernel, initrd, marker) as machine:
        report = read_report(machine)
        end = machine.wait_exit(BOOT_TIMEOUT)
        tail = machine.console[-2000:]
    assert end is VmEnd.POWERED_OFF, f"{firmware}: the VM {end.value}; console tail:\n{tail}"
    assert not qemu_pids(marker)
    return report


def assert_same_acpi(ours: GuestReport, reference: GuestReport) -> None:
    assert {"FACP", "DSDT"} <= set(reference.acpi_signatures), "the reference saw no ACPI"
    assert ours.acpi_signatures == reference.acpi_signatures, (
        f"ACPI tables differ: ours {list(ours.acpi_tables)}, "
        f"{REFERENCE_FIRMWARE} {list(reference.acpi_tables)}"
    )


@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_acpi_tables_match_seabios(
    machine: str, firmware: str, boot_images: BootImages, marker: str
) -> None:
    vm = Vm(machine)
    args = (boot_images.kernel.vmlinuz, boot_images.plain_initrd, marker)
    ours = boot(vm, firmware, *args)
    reference = boot(vm, REFERENCE_FIRMWARE, *args)
    assert_same_acpi(ours, reference)
    assert ours.cpus == 1


@pytest.mark.parametrize("cpus", [2, 4])
@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_smp(machine: str, cpus: int, firmware: str, boot_images: BootImages, marker: str) -> None:
    # One CPU is what every other boot has.
    vm = Vm(machine, cpus=cpus)
    report = boot(vm, firmware, boot_images.kernel.vmlinuz, boot_images.plain_initrd, marker)
    assert report.cpus == cpus
    assert report.nproc_cpuinfo == cpus


@pytest.mark.parametrize(
    ("entry_point_type", "version_prefix"), [(None, "2."), ("64", "3.0")], ids=["2.1", "3.0"]
)
@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_smbios(
    machine: str,
    entry_point_type: str | None,
    version_prefix: str,
    firmware: str,
    boot_images: BootImages,
    marker: str,
) -> None:
    extra = ("-smbios", "type=1,manufacturer=Acme,product=Rocket,serial=XYZ123")
    if entry_point_type is not None:
        extra += ("-machine", f"smbios-entry-point-type={entry_point_type}")
    vm = Vm(machine, extra_args=extra)
    report = boot(vm, firmware, boot_images.kernel.vmlinuz, boot_images.plain_initrd, marker)
    assert report.smbios_entry is not None, f"entry point {report.smbios_entry_point!r}"
    assert report.smbios_entry.startswith(version_prefix)
    assert report.dmi.get("sys_vendor") == "Acme"
    assert report.dmi.get("product_name") == "Rocket"
    assert report.dmi.get("product_serial") == "XYZ123"
    if firmware == "minibios":
        # Type 0 is the firmware's own.
        assert report.dmi.get("bios_vendor") == "minibios"
        assert report.dmi.get("bios_version") == "0.1.0"


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_mp_table(
    machine: str,
    firmware: str,
    generic_kernel: KernelAssets,
    boot_images: BootImages,
    marker: str,
) -> None:
    # With ACPI off the kernel finds the second CPU through the MP table only.
    vm = Vm(machine, cpus=2, append=f"{BOOT_APPEND} acpi=off")
    report = boot(vm, firmware, generic_kernel.vmlinuz, boot_images.plain_initrd, marker)
    assert report.acpi_tables == (), "ACPI should be off"
    assert report.cpus == 2
    assert report.nproc_cpuinfo == 2


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_ram_above_4g(machine: str, firmware: str, boot_images: BootImages, marker: str) -> None:
    vm = Vm(machine, memory="5G")
    report = boot(vm, firmware, boot_images.kernel.vmlinuz, boot_images.plain_initrd, marker)
    high = [e for e in report.memmap if e.type == "System RAM" and e.start >= FOUR_GIB]
    assert high, f"no System RAM at or above 4 GiB: {report.memmap}"
    assert report.ram_bytes(start_at=FOUR_GIB) >= GIB
    assert report.memtotal_kb is not None
    assert report.memtotal_kb * 1024 >= 4.6 * GIB


@pytest.fixture(scope="module")
def nvdimm_initrd(kernel_assets: KernelAssets) -> Path:
    modules = find_modules(kernel_assets.modules_dir, NVDIMM_MODULES)
    return build_initramfs(InitramfsSpec(busybox=find_busybox(), modules=modules), cache_dir())


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_nvdimm(
    machine: str,
    firmware: str,
    kernel_assets: KernelAssets,
    nvdimm_initrd: Path,
    tmp_path: Path,
    marker: str,
) -> None:
    backing = tmp_path / "nvdimm.img"
    with open(backing, "wb") as handle:
        handle.truncate(128 * MIB)
    vm = Vm(
        machine,
        extra_args=(
            "-machine", "nvdimm=on",
            "-m", f"{MEMORY},slots=2,maxmem=2G",
            "-object", f"memory-backend-file,id=mem1,share=on,mem-path={backing},size=128M",
            "-device", "nvdimm,id=nv1,memdev=mem1",
        ),
    )  # fmt: skip
    args = (kernel_assets.vmlinuz, nvdimm_initrd, marker)
    ours = boot(vm, firmware, *args)
    assert "NFIT" in ours.acpi_signatures
    assert "pmem0" in ours.block_devices, f"block devices: {ours.block_devices}"
    assert_same_acpi(ours, boot(vm, REFERENCE_FIRMWARE, *args))


def wait_migration(machine: Machine) -> None:
    deadline = time.monotonic() + MIGRATION_TIMEOUT
    while True:
        status = machine.qmp.cmd("query-migrate").get("status")
        if status == "completed":
            return
        assert status != "failed", f"migration failed: {machine.qmp.cmd('query-migrate')}"
        assert time.monotonic() < deadline, f"migration still {status!r}"
        time.sleep(0.05)


def read_memory(machine: Machine, address: int, size: int, scratch: Path) -> bytes:
    machine.qmp.cmd("pmemsave", val=address, size=size, filename=str(scratch))
    return scratch.read_bytes()


def find_all(data: bytes, needle: bytes) -> list[int]:
    hits = []
    at = data.find(needle)
    while at >= 0:
        hits.append(at)
        at = data.find(needle, at + 1)
    return hits


def firmware_reserved(memmap: tuple[MemmapEntry, ...]) -> list[MemmapEntry]:
    return [
        e
        for e in memmap
        if e.type != "System RAM" and e.end < FOUR_GIB and e.size <= MAX_RESERVED_SCAN
    ]


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_vmgenid_write_pointer(
    machine: str, firmware: str, boot_images: BootImages, tmp_path: Path, marker: str
) -> None:
    """QEMU learns where the GUID lives only from the firmware's WRITE_POINTER.

    The GUID is already in the blob the firmware ALLOCATEs, so finding it in
    memory proves little. QEMU writes it itself when a VM is restored: the
    restored VM gets a new GUID, which QEMU stores at the address the firmware
    reported (migrated with the device state), or nowhere if it never got one.
    """
    kernel, initrd = boot_images.kernel.vmlinuz, boot_images.plain_initrd
    state = tmp_path / "vm.state"
    scratch = tmp_path / "memory.bin"

    def held_vm(guid: uuid.UUID, *extra: str) -> Vm:
        device = ("-device", f"vmgenid,id=vmgenid0,guid={guid}")
        return Vm(machine, append=f"{BOOT_APPEND} {HOLD_FLAG}", extra_args=(*device, *extra))

    with held_vm(VMGENID_GUID).start(firmware, kernel, initrd, marker) as source:
        report = read_report(source)
        places = []
        for entry in firmware_reserved(report.memmap):
            data = read_memory(source, entry.start, entry.size, scratch)
            places += [entry.start + at for at in find_all(data, VMGENID_GUID.bytes_le)]
        assert places, f"GUID not in firmware-reserved memory: {report.memmap}"
        source.qmp.cmd("stop")
        source.qmp.cmd("migrate", uri=f"exec:cat > {shlex.quote(str(state))}")
        wait_migration(source)

    incoming = ("-incoming", f"exec:cat {shlex.quote(str(state))}")
    with held_vm(VMGENID_RESTORED_GUID, *incoming).start(firmware, kernel, initrd, marker) as dest:
        wait_migration(dest)
        seen = {place: read_memory(dest, place, 16, scratch) for place in places}
    assert not qemu_pids(marker)
    state.unlink()  # about 100 MiB; pytest keeps the last few temp dirs
    restored = [place for place, data in seen.items() if data == VMGENID_RESTORED_GUID.bytes_le]
    assert len(restored) == 1, f"QEMU did not write the new GUID where it was: {seen}"

    # The hold flag does not change the tables; the reference powers off.
    vm = replace(held_vm(VMGENID_GUID), append=BOOT_APPEND)
    assert_same_acpi(report, boot(vm, REFERENCE_FIRMWARE, kernel, initrd, marker))


@pytest.fixture(scope="module")
def virtio_blk_initrd(kernel_assets: KernelAssets) -> Path:
    modules = find_modules(kernel_assets.modules_dir, ("virtio_mmio", "virtio_blk"))
    return build_initramfs(InitramfsSpec(busybox=find_busybox(), modules=modules), cache_dir())


def test_microvm_virtio_mmio_devices_come_from_the_dsdt(
    firmware: str, kernel_assets: KernelAssets, virtio_blk_initrd: Path, tmp_path: Path, marker: str
) -> None:
    # The cloud kernel cannot take virtio-mmio devices from its command line: with
    # acpi=on the DSDT our ROM installed is the only way it can find the disk.
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as handle:
        handle.truncate(8 * MIB)
    vm = Vm(
        "microvm",
        extra_args=(
            "-drive", f"id=d0,if=none,format=raw,file={disk}",
            "-device", "virtio-blk-device,drive=d0",
        ),
    )  # fmt: skip
    report = boot(vm, firmware, kernel_assets.vmlinuz, virtio_blk_initrd, marker)
    assert "vda" in report.block_devices, f"block devices: {report.block_devices}"
