"""Boot the Debian cloud kernel on each machine type and check what the guest saw."""

import itertools

import pytest
from vm_support import BOOT_APPEND, BOOT_TIMEOUT, MACHINES, BootImages, make_machine, qemu_pids

from minibios.images.assets import cache_dir, find_busybox
from minibios.images.initramfs import InitramfsSpec, build_initramfs, find_module
from minibios.images.report import REPORT_RE, GuestReport, ReportError, parse_report_json
from minibios.sizes import MIB, parse_memory
from minibios.vm.accel import choose_accel
from minibios.vm.machine import VmEnd
from minibios.vm.tsc import tsc_hint_khz

pytestmark = pytest.mark.boot

MEMORY = "512M"


def boot_report(
    machine: str, firmware: str, images: BootImages, marker: str, append: str
) -> tuple[GuestReport, VmEnd]:
    with make_machine(
        kernel=images.kernel.vmlinuz,
        initrd=images.payload_initrd,
        append=append,
        machine=machine,
        cpus=1,
        memory=MEMORY,
        firmware=firmware,
        accel="auto",
        extra_args=["-name", marker],
    ) as vm:
        match = vm.wait_for(REPORT_RE, BOOT_TIMEOUT)
        end = vm.wait_exit(BOOT_TIMEOUT)
        runtime_dir = vm.runtime_dir
        tail = vm.console[-3000:]
    assert runtime_dir is not None and not runtime_dir.exists()
    assert not qemu_pids(marker)
    try:
        return parse_report_json(match.group(1)), end
    except ReportError as exc:
        pytest.fail(f"{exc}\nreport line: {match.group(0)!r}\nconsole tail:\n{tail}")


def assert_sane_memmap(report: GuestReport) -> None:
    entries = report.memmap
    assert entries, "empty /sys/firmware/memmap"
    for entry in entries:
        assert entry.start <= entry.end
    for before, after in itertools.pairwise(entries):
        assert before.end < after.start, f"overlap or unsorted: {before} then {after}"
    assert any(e.type == "System RAM" and e.start >= MIB for e in entries), "no RAM above 1 MiB"
    assert any(e.type == "System RAM" and e.start == 0 for e in entries), "no low RAM"


@pytest.mark.parametrize("machine", MACHINES)
def test_boot_with_payload(
    machine: str, firmware: str, boot_images: BootImages, marker: str
) -> None:
    # Quotes and a backslash check the init script's JSON escaping end to end.
    append = f'{BOOT_APPEND} minibios.machine={machine} test="quoted value" path=C:\\dir'
    report, end = boot_report(machine, firmware, boot_images, marker, append)
    assert end is VmEnd.POWERED_OFF
    told_tsc = tsc_hint_khz(machine, choose_accel("auto"), append)  # added on microvm
    assert report.cmdline == (f"{append} tsc_early_khz={told_tsc}" if told_tsc else append)
    assert report.cpus == 1 and report.nproc_cpuinfo == 1
    ram = parse_memory(MEMORY)
    assert report.memtotal_kb is not None
    assert abs(report.memtotal_kb * 1024 - ram) <= 0.10 * ram
    assert_sane_memmap(report)
    assert report.ram_bytes() <= ram
    assert report.payload_sha256 == boot_images.payload_sha256


def test_modules_load_in_order(firmware: str, boot_images: BootImages, marker: str) -> None:
    modules_dir = boot_images.kernel.modules_dir
    # virtio_mmio needs virtio, which needs virtio_ring: the order matters.
    modules = tuple(find_module(modules_dir, n) for n in ("virtio_ring", "virtio", "virtio_mmio"))
    spec = InitramfsSpec(busybox=find_busybox(), modules=modules)
    initrd = build_initramfs(spec, cache_dir())
    with make_machine(
        kernel=boot_images.kernel.vmlinuz,
        initrd=initrd,
        append=BOOT_APPEND,
        firmware=firmware,
        extra_args=["-name", marker],
    ) as vm:
        vm.wait_for(REPORT_RE, BOOT_TIMEOUT)
        assert vm.wait_exit(BOOT_TIMEOUT) is VmEnd.POWERED_OFF
        console = vm.console
    assert "minibios-init: insmod" not in console, console
    assert not qemu_pids(marker)


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_pic_mode_kernel_gets_timer_ticks(
    machine: str, firmware: str, boot_images: BootImages, marker: str
) -> None:
    # acpi=off and a kernel without MP-table support: Linux sees no APIC and
    # drives the 8259 alone, whose output reaches the CPU only through LINT0
    # in virtual-wire mode. Without it no tick ever arrives and boot stalls.
    with make_machine(
        kernel=boot_images.kernel.vmlinuz,
        initrd=boot_images.plain_initrd,
        append=f"{BOOT_APPEND} acpi=off",
        machine=machine,
        cpus=2,
        firmware=firmware,
        extra_args=["-name", marker],
    ) as vm:
        report = parse_report_json(vm.wait_for(REPORT_RE, BOOT_TIMEOUT).group(1))
        assert vm.wait_exit(BOOT_TIMEOUT) in (VmEnd.POWERED_OFF,)
    assert report.cpus == 1  # the cloud kernel cannot read the MP table
    assert report.acpi_tables == ()
