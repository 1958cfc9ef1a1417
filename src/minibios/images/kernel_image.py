"""Inspect a Linux kernel file: a bzImage (x86 boot protocol header) or an ELF image."""

import dataclasses
import struct
from dataclasses import dataclass
from pathlib import Path

from minibios.errors import InputError
from minibios.images.elf import ELF_MAGIC, ElfError, parse_elf
from minibios.images.file_memo import FileMemo

BOOT_FLAG = 0xAA55
HDRS = b"HdrS"
# Fixed by the boot protocol (Documentation/arch/x86/boot.rst).
DEFAULT_LOAD_ADDRESS = 0x100000
OLD_INITRD_ADDR_MAX = 0x37FFFFFF
OLD_CMDLINE_SIZE = 255
EM_386 = 3
EM_X86_64 = 62
XEN_ELFNOTE_PHYS32_ENTRY = 18
LOADED_HIGH = 0x01
XLF_KERNEL_64 = 0x01


# The setup header fields read here: name (as in linux.h's struct setup_header) ->
# (offset in the file, struct format). tests/host_firmware checks them against the C.
SETUP_HEADER_OFFSET = 0x1F1
SETUP_HEADER_FIELDS = {
    "setup_sects": (0x1F1, "B"),
    "boot_flag": (0x1FE, "H"),
    "header": (0x202, "4s"),
    "version": (0x206, "H"),
    "loadflags": (0x211, "B"),
    "initrd_addr_max": (0x22C, "I"),
    "kernel_alignment": (0x230, "I"),
    "relocatable_kernel": (0x234, "B"),
    "xloadflags": (0x236, "H"),
    "cmdline_size": (0x238, "I"),
    "payload_offset": (0x248, "I"),
    "payload_length": (0x24C, "I"),
    "pref_address": (0x258, "Q"),
    "init_size": (0x260, "I"),
}


class KernelImageError(InputError):
    """The file is not a kernel we know how to boot."""


@dataclass(frozen=True)
class BzImage:
    """The setup header of a bzImage; fields absent in old protocols hold their defaults."""

    path: Path
    size: int
    protocol: tuple[int, int]
    setup_sects: int
    loadflags: int
    initrd_addr_max: int
    kernel_alignment: int
    relocatable: bool
    xloadflags: int
    cmdline_size: int
    payload_offset: int
    payload_length: int
    pref_address: int
    init_size: int

    @property
    def setup_size(self) -> int:
        """Bytes of real-mode setup code, boot sector included."""
        return (self.setup_sects + 1) * 512

    @property
    def protected_mode_size(self) -> int:
        return self.size - self.setup_size

    @property
    def loaded_high(self) -> bool:
        return bool(self.loadflags & LOADED_HIGH)

    @property
    def has_64bit_entry(self) -> bool:
        return bool(self.xloadflags & XLF_KERNEL_64)

    @property
    def memory_end(self) -> int:
        """First address above the area the kernel needs while it unpacks itself.

        Loaders put the protected-mode part at 1 MiB; a relocatable kernel then
        decompresses to pref_address (its LOAD_PHYSICAL_ADDR) and needs
        init_size bytes there. Before protocol 2.10 there is no init_size, so
        assume the usual 4x expansion of the compressed kernel.
        """
        start = DEFAULT_LOAD_ADDRESS
        if self.relocatable:
            start = max(start, self.pref_address)
        need = self.init_size or 4 * self.protected_mode_size
        return start + need

    def describe(self) -> str:
        major, minor = self.protocol
        return (
            f"bzImage, boot protocol {major}.{minor:02d}, "
            f"{self.size} bytes, init_size {self.init_size:#x}, "
            f"initrd_addr_max {self.initrd_addr_max:#x}"
        )


@dataclass(frozen=True)
class ElfKernel:
    """An ELF kernel (vmlinux); QEMU loads it itself through its PVH note."""

    path: Path
    size: int
    bits: int
    entry: int
    pvh_entry: int | None
    memory_end: int

    # ELF kernels get their initrd from the loader's memory map, not a header.
    initrd_addr_max: int = 0x7FFFFFFF

    def describe(self) -> str:
        pvh = f"PVH entry {self.pvh_entry:#x}" if self.pvh_entry is not None else "no PVH note"
        return f"ELF{self.bits} kernel, {self.size} bytes, {pvh}"


KernelImage = BzImage | ElfKernel


def _u(data: bytes, offset: int, fmt: str) -> int:
    return struct.unpack_from("<" + fmt, data, offset)[0]


def _field(data: bytes, name: str) -> int:
    offset, fmt = SETUP_HEADER_FIELDS[name]
    return struct.unpack_from("<" + fmt, data, offset)[0]


def _parse_bzimage(data: bytes, path: Path) -> BzImage:
    version = _field(data, "version")
    major, minor = version >> 8, version & 0xFF
    # Each protocol revision extends the header; make sure what it claims is there.
    header_end = 0x264 if version >= 0x20A else 0x250 if version >= 0x208 else 0x23C
    if len(data) < header_end:
        raise KernelImageError(f"truncated bzImage header: {path}")
    setup_sects = _field(data, "setup_sects") or 4
    if (setup_sects + 1) * 512 >= len(data):
        raise KernelImageError(f"truncated bzImage (no protected-mode kernel): {path}")
    return BzImage(
        path=path,
        size=len(data),
        protocol=(major, minor),
        setup_sects=setup_sects,
        loadflags=_field(data, "loadflags"),
        initrd_addr_max=(
            _field(data, "initrd_addr_max") if version >= 0x203 else OLD_INITRD_ADDR_MAX
        ),
        kernel_alignment=_field(data, "kernel_alignment") if version >= 0x205 else 0,
        relocatable=bool(_field(data, "relocatable_kernel")) if version >= 0x205 else False,
        xloadflags=_field(data, "xloadflags") if version >= 0x20C else 0,
        cmdline_size=_field(data, "cmdline_size") if version >= 0x206 else OLD_CMDLINE_SIZE,
        payload_offset=_field(data, "payload_offset") if version >= 0x208 else 0,
        payload_length=_field(data, "payload_length") if version >= 0x208 else 0,
        pref_address=_field(data, "pref_address") if version >= 0x20A else 0,
        init_size=_field(data, "init_size") if version >= 0x20A else 0,
    )


def _parse_elf_kernel(data: bytes, path: Path) -> ElfKernel:
    try:
        elf = parse_elf(data)
    except ElfError as exc:
        raise KernelImageError(f"malformed ELF kernel ({exc}): {path}") from exc
    if elf.machine not in (EM_386, EM_X86_64):
        raise KernelImageError(f"ELF kernel is not for x86 (e_machine {elf.machine}): {path}")
    pvh_entry = None
    for note in elf.notes:
        if note.name == b"Xen" and note.type == XEN_ELFNOTE_PHYS32_ENTRY:
            width = "I" if len(note.desc) < 8 else "Q"
            if len(note.desc) >= 4:
                pvh_entry = _u(note.desc, 0, width)
    return ElfKernel(
        path=path,
        size=len(data),
        bits=elf.bits,
        entry=elf.entry,
        pvh_entry=pvh_entry,
        memory_end=elf.load_end,
    )


def _is_hdrs(data: bytes) -> bool:
    return struct.unpack_from("<4s", data, SETUP_HEADER_FIELDS["header"][0])[0] == HDRS


def parse_kernel(data: bytes, path: Path) -> KernelImage:
    """Parse kernel bytes; `path` is only used in messages."""
    if data[:4] == ELF_MAGIC:
        return _parse_elf_kernel(data, path)
    if len(data) >= 0x208 and _field(data, "boot_flag") == BOOT_FLAG and _is_hdrs(data):
        return _parse_bzimage(data, path)
    raise KernelImageError(f"not a bzImage or ELF kernel: {path}")


def inspect_kernel(path: Path) -> KernelImage:
    """Read and parse the kernel at `path`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KernelImageError(f"cannot read kernel {path}: {exc.strerror}") from exc
    return parse_kernel(data, Path(path))


def _encode_image(image: KernelImage) -> dict[str, object]:
    fields = dataclasses.asdict(image)
    fields["path"] = str(image.path)
    return {"type": type(image).__name__, "fields": fields}


def _decode_image(value: object) -> KernelImage:
    if not isinstance(value, dict):
        raise ValueError("not a remembered kernel image")
    fields = dict(value["fields"])
    fields["path"] = Path(fields["path"])
    if value["type"] == "BzImage":
        fields["protocol"] = tuple(fields["protocol"])
        return BzImage(**fields)
    if value["type"] == "ElfKernel":
        return ElfKernel(**fields)
    raise ValueError(f"unknown kernel image type {value['type']!r}")


def inspect_kernel_remembered(path: Path, memo: FileMemo) -> KernelImage:
    """inspect_kernel, which reads the whole file (50 MB for a vmlinux), remembered by
    the file's identity."""
    path = Path(path)
    image = memo.remember(
        "kernel-image", [path], None, lambda: inspect_kernel(path), _encode_image, _decode_image
    )
    return dataclasses.replace(image, path=path)
