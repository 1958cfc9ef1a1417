"""minibios's three ways into Linux boot the same guest on every machine."""

from __future__ import annotations

import pytest
from kernel_fakes import make_bzimage
from vm_support import BOOT_APPEND, BOOT_TIMEOUT, BootImages, make_machine, qemu_pids, vm_spec

from minibios.firmware.choice import FirmwareSpec, FirmwareSpecError
from minibios.images.assets import cache_dir
from minibios.images.report import REPORT_RE, GuestReport, parse_report_json
from minibios.images.vmlinux import extract_vmlinux
from minibios.vm.machine import VmEnd
from minibios.vm.preflight import PreflightError, preflight
from minibios.vm.spec import SpecError, VmSpec


def boot(machine: str, protocol: int | str, images: BootImages, marker: str) -> GuestReport:
    pvh = protocol == "pvh"
    with make_machine(
        kernel=extract_vmlinux(images.kernel.vmlinuz, cache_dir()).path
        if pvh
        else images.kernel.vmlinuz,
        initrd=images.payload_initrd,
        append=BOOT_APPEND,
        machine=machine,
        cpus=2,
        memory="512M",
        firmware="minibios",
        microvm_acpi=machine == "microvm",
        boot_protocol=None if pvh else protocol,
        extra_args=["-name", marker],
    ) as vm:
        match = vm.wait_for(REPORT_RE, BOOT_TIMEOUT)
        assert vm.wait_exit(BOOT_TIMEOUT) is VmEnd.POWERED_OFF
    assert not qemu_pids(marker)
    return parse_report_json(match.group(1))


def outside_bios_area(report: GuestReport) -> tuple:
    """The map without the EBDA (0x9fc00) to 1 MiB: a PVH kernel reserves that whole area
    itself (the firmware hands it the same map: only its EBDA and 0xf0000 entries get
    absorbed)."""
    return tuple(e for e in report.memmap if e.end < 0x9FC00 or e.start >= 0x100000)


@pytest.mark.boot
@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_32_64_bit_and_pvh_entries_match_the_16_bit_one(
    machine: str, boot_images: BootImages, marker: str
) -> None:
    reports = {p: boot(machine, p, boot_images, f"{marker}-{p}") for p in (16, 32, 64, "pvh")}
    base = reports[16]
    assert base.payload_sha256 == boot_images.payload_sha256
    assert base.cpus == 2
    for protocol in (32, 64, "pvh"):
        r = reports[protocol]
        assert r.cmdline == base.cmdline
        assert r.cpus == base.cpus
        assert outside_bios_area(r) == outside_bios_area(base), f"{protocol} entry's memory map"
        if protocol != "pvh":
            assert r.memmap == base.memmap, f"{protocol}-bit entry saw another memory map"
        assert r.memtotal_kb == pytest.approx(base.memtotal_kb, rel=0.002)
        assert r.acpi_tables == base.acpi_tables
        assert r.payload_sha256 == base.payload_sha256
        assert r.dmi == base.dmi


def test_protocol_goes_to_minibios_through_fw_cfg(tmp_path) -> None:
    argv = VmSpec(boot_protocol=32).argv(tmp_path / "qmp")
    assert argv[argv.index("-fw_cfg") + 1] == "name=opt/minibios/boot-protocol,string=32"
    assert "-fw_cfg" not in VmSpec().argv(tmp_path / "qmp")
    with pytest.raises(SpecError):
        VmSpec(boot_protocol=48)


def test_protocol_is_refused_for_other_firmware(tmp_path) -> None:
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(make_bzimage())
    with pytest.raises(PreflightError, match="use --firmware minibios"):
        preflight(vm_spec("seabios", kernel=kernel, boot_protocol=32))


def test_bench_firmware_specs() -> None:
    assert FirmwareSpec.parse("minibios:16") == FirmwareSpec("minibios", protocol=16)
    assert FirmwareSpec.parse("qboot") == FirmwareSpec("qboot")
    assert FirmwareSpec.parse("seabios:pvh") == FirmwareSpec("seabios", pvh=True)
    for bad in ("qboot:32", "minibios:48", "minibios:"):
        with pytest.raises(FirmwareSpecError):
            FirmwareSpec.parse(bad)
