"""Which way into the kernel `run` and `demo` take: PVH whenever the kernel allows it.

Booting the unpacked vmlinux through its PVH entry skips the firmware's kernel
copy and the guest's decompression; under TCG that is 15-20 % of the whole boot,
for every firmware (README, Benchmark). So `--entry auto`, the default, unpacks a
bzImage's vmlinux (once, cached by the bzImage's hash) and boots it through PVH,
and falls back to the bzImage, saying why, when that cannot work.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from minibios.errors import InputError
from minibios.images.file_memo import FileMemo
from minibios.images.kernel_image import ElfKernel, inspect_kernel_remembered
from minibios.images.vmlinux import VmlinuxError, extract_vmlinux


class Entry(enum.StrEnum):
    """A way into the kernel: asked for with --entry (AUTO, PVH, BZIMAGE), or taken."""

    AUTO = "auto"  # asked only: PVH where the kernel allows it, else BZIMAGE
    PVH = "pvh"
    BZIMAGE = "bzimage"
    # Taken only: an ELF kernel without a PVH note (a multiboot one, say), loaded
    # by QEMU as it is.
    ELF = "elf"


ENTRY_MODES = (Entry.AUTO, Entry.PVH, Entry.BZIMAGE)


class EntryError(InputError):
    """The requested way in does not fit the kernel or the other options."""


@dataclass(frozen=True)
class EntryChoice:
    kernel: Path  # what QEMU gets as -kernel
    entry: Entry  # PVH, BZIMAGE or ELF
    reason: str  # why, in a few words, for the user

    def describe(self) -> str:
        return f"entry {self.entry}: {self.reason}"


def _elf_choice(kernel: Path, image: ElfKernel, mode: Entry, protocol: int | None) -> EntryChoice:
    if mode == Entry.BZIMAGE or protocol is not None:
        what = "--entry bzimage" if mode == Entry.BZIMAGE else "--protocol"
        raise EntryError(f"{what} enters a bzImage, but {kernel} is an ELF kernel")
    if image.pvh_entry is not None:
        return EntryChoice(kernel, Entry.PVH, "ELF kernel with a PVH note, loaded by QEMU")
    if mode == Entry.PVH:
        raise EntryError(f"{kernel} has no PVH entry note (built without CONFIG_PVH)")
    return EntryChoice(kernel, Entry.ELF, "ELF kernel without a PVH note, loaded by QEMU as it is")


def choose_entry(
    kernel: Path,
    cache: Path,
    mode: Entry = Entry.AUTO,
    protocol: int | None = None,
    blocker: str | None = None,
) -> EntryChoice:
    """Decide how to boot `kernel`; unpacks (or reuses) its vmlinux for PVH.

    `protocol` (16/32/64) picks how minibios enters a bzImage, so with `auto` it
    means the bzImage, and with `pvh` it is a contradiction. `blocker`
    (VmSpec.pvh_blocker's answer) keeps `auto` on the bzImage; `pvh` still tries.
    """
    if mode not in ENTRY_MODES:
        raise EntryError(f"unknown entry {mode!r} (choose from {', '.join(ENTRY_MODES)})")
    mode = Entry(mode)
    if mode == Entry.PVH and protocol is not None:
        raise EntryError("--entry pvh and --protocol are different ways in: give one")
    image = inspect_kernel_remembered(kernel, FileMemo.in_cache(cache))
    if isinstance(image, ElfKernel):
        return _elf_choice(kernel, image, mode, protocol)
    if mode == Entry.BZIMAGE:
        return EntryChoice(kernel, Entry.BZIMAGE, "asked for with --entry bzimage")
    if protocol is not None:
        return EntryChoice(kernel, Entry.BZIMAGE, f"--protocol {protocol} enters the bzImage")
    if mode == Entry.AUTO and blocker is not None:
        return EntryChoice(kernel, Entry.BZIMAGE, f"not PVH: {blocker}")
    try:
        vmlinux = extract_vmlinux(kernel, cache)
    except (VmlinuxError, OSError) as exc:
        why = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) else str(exc)
        if mode == Entry.PVH:
            raise EntryError(f"cannot boot {kernel} through PVH: {why}") from exc
        return EntryChoice(kernel, Entry.BZIMAGE, f"no usable PVH entry: {why}")
    return EntryChoice(
        vmlinux.path,
        Entry.PVH,
        f"vmlinux unpacked from the bzImage ({vmlinux.compression}, cached)",
    )
