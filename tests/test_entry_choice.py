"""PVH by default in `run` and `demo`: the decision on fake kernels, then real boots that
show, through minibios's milestones, which entry the firmware really took."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from kernel_fakes import make_bzimage_with_payload, make_elf
from vm_support import BOOT_APPEND, BootImages, qemu_pids, run_cli

from minibios.firmware.choice import Firmware, FirmwareKind
from minibios.images.assets import cache_dir
from minibios.images.entry import Entry, EntryChoice, EntryError, choose_entry
from minibios.images.kernel_image import KernelImageError
from minibios.images.vmlinux import extract_vmlinux
from minibios.vm.spec import VmSpec

ENTRY = 0x1000850
LZO_PAYLOAD = b"\x89LZO\x00" + bytes(64)
LZO_REASON = (
    "no usable PVH entry: lzo-compressed kernels are not supported (no maintained Python lzo)"
)
# minibios writes these to port 0xf4: entry, kernel load, then 3 as it jumps into a
# bzImage (any protocol) or 4 into a PVH kernel.
MILESTONE_PORT = "0xf4"
THROUGH_BZIMAGE = b"\x01\x02\x03"
THROUGH_PVH = b"\x01\x02\x04"


def pvh_blocker(firmware: str, machine: str, acpi: bool) -> str | None:
    kind = FirmwareKind(firmware)
    spec = VmSpec(machine=machine, microvm_acpi=acpi, firmware=Firmware(firmware, Path("/f"), kind))
    return spec.pvh_blocker()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def pvh_bzimage(tmp_path: Path) -> Path:
    return write(tmp_path / "bzImage", make_bzimage_with_payload(gzip.compress(make_elf(ENTRY))))


@pytest.fixture
def lzo_bzimage(tmp_path: Path) -> Path:
    return write(tmp_path / "lzo-bzImage", make_bzimage_with_payload(LZO_PAYLOAD))


# -- the decision ---------------------------------------------------------------------


def test_auto_unpacks_a_bzimage_and_boots_its_vmlinux(pvh_bzimage: Path, tmp_path: Path) -> None:
    choice = choose_entry(pvh_bzimage, tmp_path / "cache")
    assert choice.entry == Entry.PVH
    assert choice.kernel.parent == tmp_path / "cache" / "vmlinux"
    assert choice.kernel.read_bytes() == make_elf(ENTRY)
    assert choice.describe() == "entry pvh: vmlinux unpacked from the bzImage (gzip, cached)"
    assert choose_entry(pvh_bzimage, tmp_path / "cache", Entry.PVH) == choice  # explicit: the same


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (LZO_PAYLOAD, "lzo-compressed kernels are not supported"),
        (gzip.compress(make_elf(pvh_entry=None), mtime=0), "no PVH entry note"),
        (b"\x00" * 64, "unknown payload compression"),
    ],
    ids=["lzo", "no-pvh-note", "unknown-compression"],
)
def test_auto_falls_back_to_the_bzimage_and_says_why(
    payload: bytes, why: str, tmp_path: Path
) -> None:
    kernel = write(tmp_path / "bzImage", make_bzimage_with_payload(payload))
    choice = choose_entry(kernel, tmp_path / "cache")
    assert (choice.kernel, choice.entry) == (kernel, Entry.BZIMAGE)
    assert choice.reason.startswith("no usable PVH entry: ") and why in choice.reason
    with pytest.raises(EntryError, match=f"cannot boot {kernel} through PVH: .*{why}"):
        choose_entry(kernel, tmp_path / "cache", Entry.PVH)


def test_auto_falls_back_when_the_cache_cannot_be_written(
    pvh_bzimage: Path, tmp_path: Path
) -> None:
    cache = write(tmp_path / "cache", b"a file, not a directory")
    choice = choose_entry(pvh_bzimage, cache)
    assert (choice.kernel, choice.entry) == (pvh_bzimage, Entry.BZIMAGE)
    assert choice.reason.startswith("no usable PVH entry: ")
    with pytest.raises(EntryError, match="through PVH"):
        choose_entry(pvh_bzimage, cache, Entry.PVH)


def test_a_firmware_that_breaks_pvh_keeps_auto_on_the_bzimage(
    pvh_bzimage: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    blocker = pvh_blocker("seabios", "microvm", acpi=True)
    assert blocker == "SeaBIOS's microvm build with ACPI crashes PVH kernels"
    choice = choose_entry(pvh_bzimage, cache, blocker=blocker)
    assert choice == EntryChoice(pvh_bzimage, Entry.BZIMAGE, f"not PVH: {blocker}")
    assert not cache.exists()
    assert (
        choose_entry(pvh_bzimage, cache, Entry.PVH, blocker=blocker).entry == Entry.PVH
    )  # asked: tried
    for firmware, machine, acpi in [
        ("seabios", "microvm", False),
        ("seabios", "pc", True),
        ("qboot", "microvm", True),
        ("minibios", "microvm", True),
    ]:
        assert pvh_blocker(firmware, machine, acpi=acpi) is None


def test_protocol_means_the_bzimage(pvh_bzimage: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    choice = choose_entry(pvh_bzimage, cache, protocol=16)
    assert choice == EntryChoice(pvh_bzimage, Entry.BZIMAGE, "--protocol 16 enters the bzImage")
    assert choose_entry(pvh_bzimage, cache, Entry.BZIMAGE).entry == Entry.BZIMAGE
    assert not cache.exists()  # nothing was unpacked for either
    with pytest.raises(EntryError, match="--entry pvh and --protocol are different ways in"):
        choose_entry(pvh_bzimage, cache, Entry.PVH, protocol=64)


def test_an_elf_with_a_pvh_note_is_passed_as_it_is(tmp_path: Path) -> None:
    elf = write(tmp_path / "vmlinux", make_elf(ENTRY))
    for mode in ("auto", Entry.PVH):
        choice = choose_entry(elf, tmp_path / "cache", mode)
        assert (choice.kernel, choice.entry) == (elf, Entry.PVH)
    for mode, protocol in ((Entry.BZIMAGE, None), ("auto", 32)):
        with pytest.raises(EntryError, match="is an ELF kernel"):
            choose_entry(elf, tmp_path / "cache", mode, protocol)
    assert not (tmp_path / "cache").exists()


def test_an_elf_without_a_pvh_note(tmp_path: Path) -> None:
    elf = write(tmp_path / "kernel.elf", make_elf(pvh_entry=None))
    assert choose_entry(elf, tmp_path).entry == Entry.ELF  # e.g. multiboot: QEMU's own business
    with pytest.raises(EntryError, match="no PVH entry note"):
        choose_entry(elf, tmp_path, Entry.PVH)


def test_not_a_kernel_and_unknown_mode(tmp_path: Path) -> None:
    junk = write(tmp_path / "junk", b"not a kernel" * 100)
    with pytest.raises(KernelImageError, match="not a bzImage or ELF kernel"):
        choose_entry(junk, tmp_path)
    with pytest.raises(EntryError, match="unknown entry 'fast'"):
        choose_entry(junk, tmp_path, "fast")


# -- the CLI ----------------------------------------------------------------------------


def test_cli_refuses_pvh_with_a_protocol(pvh_bzimage: Path, short_tmp: Path, marker: str) -> None:
    for pvh in (["--entry", "pvh"], ["--pvh"]):
        result = run_cli("run", "--kernel", str(pvh_bzimage), *pvh, "--protocol", "32",
                         "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
        assert result.returncode == 2
        assert result.stderr == (
            "minibios: error: --entry pvh and --protocol are different ways in: give one\n"
        )
        assert result.stdout == ""
    assert not qemu_pids(marker)


def test_cli_refuses_explicit_pvh_for_an_lzo_kernel(
    lzo_bzimage: Path, short_tmp: Path, marker: str
) -> None:
    result = run_cli("run", "--kernel", str(lzo_bzimage), "--entry", "pvh",
                     "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        f"minibios: error: cannot boot {lzo_bzimage} through PVH: "
        "lzo-compressed kernels are not supported (no maintained Python lzo)\n"
    )
    assert not qemu_pids(marker)


def milestone_args(path: Path) -> list[str]:
    return [
        "-chardev", f"file,id=milestones,path={path}",
        "-device", f"isa-debugcon,iobase={MILESTONE_PORT},chardev=milestones",
        "-fw_cfg", "name=opt/minibios/milestones,string=1",  # they are off unless asked
    ]  # fmt: skip


@pytest.mark.boot
@pytest.mark.parametrize(
    ("options", "line", "milestones"),
    [
        ([], "minibios: entry pvh: vmlinux unpacked from the bzImage ({}, cached)", THROUGH_PVH),
        (["--entry", "bzimage"], "minibios: entry bzimage: asked for with --entry bzimage",
         THROUGH_BZIMAGE),
        (["--protocol", "16"], "minibios: entry bzimage: --protocol 16 enters the bzImage",
         THROUGH_BZIMAGE),
    ],
)  # fmt: skip
def test_run_says_and_takes_its_entry(
    boot_images: BootImages,
    short_tmp: Path,
    tmp_path: Path,
    marker: str,
    options: list[str],
    line: str,
    milestones: bytes,
) -> None:
    """minibios itself (whatever FIRMWARE_UNDER_TEST is): its milestones show the entry."""
    kernel = boot_images.kernel.vmlinuz
    log = tmp_path / "milestones.bin"
    result = run_cli("run", "--kernel", str(kernel), "--initrd", str(boot_images.plain_initrd),
                     "--append", BOOT_APPEND, "--firmware", "minibios", *options, "--timeout", "90",
                     "--", "-name", marker, *milestone_args(log), tmpdir=short_tmp)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    compression = extract_vmlinux(kernel, cache_dir()).compression
    assert result.stdout.splitlines()[0] == line.format(compression)
    assert "minibios: guest powered off" in result.stdout
    assert log.read_bytes() == milestones
    assert not qemu_pids(marker)


@pytest.mark.boot
def test_run_falls_back_to_the_bzimage(
    lzo_bzimage: Path, short_tmp: Path, tmp_path: Path, marker: str
) -> None:
    """An lzo bzImage cannot be unpacked: minibios gets the bzImage itself and jumps in
    (the fake kernel then spins until the timeout)."""
    log = tmp_path / "milestones.bin"
    result = run_cli("run", "--kernel", str(lzo_bzimage), "--firmware", "minibios",
                     "--timeout", "3", "--", "-name", marker, *milestone_args(log),
                     tmpdir=short_tmp)  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == f"minibios: entry bzimage: {LZO_REASON}"
    assert log.read_bytes() == THROUGH_BZIMAGE
    assert not qemu_pids(marker)


@pytest.mark.boot
def test_seabios_on_microvm_boots_through_the_bzimage(
    boot_images: BootImages, short_tmp: Path, marker: str
) -> None:
    """Through PVH this boot crashes in most runs (SeaBIOS's doing); auto avoids it."""
    result = run_cli("run", "--kernel", str(boot_images.kernel.vmlinuz),
                     "--initrd", str(boot_images.plain_initrd), "--append", BOOT_APPEND,
                     "--firmware", "seabios", "--machine", "microvm", "--cpus", "2",
                     "--timeout", "90", "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == (
        "minibios: entry bzimage: not PVH: SeaBIOS's microvm build with ACPI crashes PVH kernels"
    )
    assert "CPUs online     2 (2 in /proc/cpuinfo)" in result.stdout
    assert "minibios: guest powered off" in result.stdout
    assert not qemu_pids(marker)
