"""Signatures that OSes scan for appear only in their real structures.

Kernels and test suites find the RSDP, the SMBIOS and MP entry points and the
$PIR table by scanning 0xe0000-0xfffff (and the EBDA) for their signature at
16-byte boundaries and take the first hit: a copy of "RSD PTR " in the ROM's
code or data, ahead of the real RSDP, sent kvm-unit-tests' s3 test to a #GP.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from vm_support import LINK_ADDRESSES, build_multiboot_kernel, make_machine

from minibios.firmware.rom import rom_path
from minibios.vm.machine import Machine

SCAN_BASE, SCAN_SIZE = 0xE0000, 0x20000
SIGNATURES = (b"RSD PTR ", b"_MP_", b"$PIR", b"_SM_", b"_SM3_", b"_DMI_")


def occurrences(memory: bytes, signature: bytes) -> list[int]:
    found, at = [], memory.find(signature)
    while at >= 0:
        found.append(at)
        at = memory.find(signature, at + 1)
    return found


def structure_length(memory: bytes, at: int, signature: bytes) -> int:
    """How many bytes the structure at `at` checksums over, from its own fields."""
    if signature == b"RSD PTR ":
        return 20
    if signature == b"_MP_":
        return 16 * memory[at + 8]
    if signature == b"$PIR":
        return int.from_bytes(memory[at + 6 : at + 8], "little")
    if signature == b"_SM_":
        return memory[at + 5]
    if signature == b"_SM3_":
        return memory[at + 6]
    return 15  # _DMI_: the intermediate entry point inside _SM_


def stray_signatures(memory: bytes, base: int, *, aligned_only: bool = False) -> list[str]:
    """Every signature that is not a valid, 16-byte-aligned structure of its kind.
    aligned_only: ignore unaligned bytes (no spec-following scan looks there)."""
    problems = []
    for signature in SIGNATURES:
        hits = [at for at in occurrences(memory, signature) if not aligned_only or at % 16 == 0]
        for at in hits:
            length = structure_length(memory, at, signature)
            where = f"{signature.decode()} at {base + at:#x}"
            if (base + at) % 16:
                problems.append(f"{where}: not 16-byte aligned")
            elif length < len(signature) or sum(memory[at : at + length]) % 256:
                problems.append(f"{where}: not a structure (bad length or checksum)")
        if len(hits) > 1:
            problems.append(f"{signature.decode()} appears more than once")
    return problems


def test_the_rom_image_spells_no_signature() -> None:
    """The ROM is mapped at 0xf0000; its real structures are made at run time, so the
    image itself must hold none of the signatures."""
    image = rom_path().read_bytes()
    assert {s.decode(): occurrences(image, s) for s in SIGNATURES} == {
        s.decode(): [] for s in SIGNATURES
    }


@pytest.mark.boot
@pytest.mark.parametrize("firmware", ["minibios", "seabios"])
@pytest.mark.parametrize("machine", ["pc", "q35", "microvm"])
def test_guest_sees_signatures_only_in_their_structures(
    machine: str, firmware: str, tmp_path: Path
) -> None:
    """The guest's 0xe0000-0xfffff and EBDA as a kernel scans them (the multiboot test
    kernel has printed and halted). SeaBIOS, the reference, holds an unaligned "_SM3_"
    literal: it is held to the aligned hits only, minibios to every byte."""
    lax = firmware != "minibios"
    kernel = build_multiboot_kernel(tmp_path / "mb.elf", LINK_ADDRESSES["high"])
    dump, ebda_dump = tmp_path / "fseg.bin", tmp_path / "ebda.bin"
    with make_machine(firmware, kernel=kernel, machine=machine, accel="tcg") as vm:
        vm.wait_for("MULTIBOOT-", timeout=60)
        vm.qmp.cmd("pmemsave", val=SCAN_BASE, size=SCAN_SIZE, filename=str(dump))
        ebda = int.from_bytes(_read_phys(vm, 0x40E, 2, tmp_path), "little") << 4
        if ebda:
            vm.qmp.cmd("pmemsave", val=ebda, size=1024, filename=str(ebda_dump))
    memory = dump.read_bytes()
    assert stray_signatures(memory, SCAN_BASE, aligned_only=lax) == []
    if ebda:
        assert stray_signatures(ebda_dump.read_bytes(), ebda, aligned_only=lax) == []
    assert occurrences(memory, b"RSD PTR "), "no RSDP at all"
    if machine != "microvm":
        assert occurrences(memory, b"_SM_") or occurrences(memory, b"_SM3_"), "no SMBIOS"


def _read_phys(vm: Machine, addr: int, size: int, tmp_path: Path) -> bytes:
    out = tmp_path / f"phys-{addr:x}.bin"
    vm.qmp.cmd("pmemsave", val=addr, size=size, filename=str(out))
    return out.read_bytes()
