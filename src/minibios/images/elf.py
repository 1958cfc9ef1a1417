"""Just enough ELF parsing to size a kernel's load area and spot static binaries."""

import struct
from dataclasses import dataclass

ELF_MAGIC = b"\x7fELF"
PT_LOAD = 1
PT_INTERP = 3
PT_NOTE = 4


class ElfError(ValueError):
    """The bytes are not a well-formed ELF file."""


@dataclass(frozen=True)
class ProgramHeader:
    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class ElfNote:
    name: bytes
    type: int
    desc: bytes


@dataclass(frozen=True)
class ElfFile:
    bits: int
    little_endian: bool
    machine: int
    entry: int
    segments: tuple[ProgramHeader, ...]
    notes: tuple[ElfNote, ...]

    @property
    def is_static(self) -> bool:
        """True when no dynamic loader is requested (no PT_INTERP)."""
        return all(seg.type != PT_INTERP for seg in self.segments)

    @property
    def load_end(self) -> int:
        """Highest physical address any PT_LOAD segment occupies (exclusive)."""
        ends = [seg.paddr + seg.memsz for seg in self.segments if seg.type == PT_LOAD]
        return max(ends, default=0)


def _unpack(fmt: str, data: bytes, offset: int) -> tuple[int, ...]:
    if offset < 0 or offset + struct.calcsize(fmt) > len(data):
        raise ElfError("truncated ELF file")
    return struct.unpack_from(fmt, data, offset)


def _parse_notes(data: bytes, endian: str) -> list[ElfNote]:
    notes = []
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from(endian + "III", data, pos)
        pos += 12
        name_end = pos + namesz
        desc_start = pos + ((namesz + 3) & ~3)
        desc_end = desc_start + descsz
        if desc_end > len(data):
            raise ElfError("truncated ELF note")
        notes.append(ElfNote(data[pos:name_end].rstrip(b"\0"), ntype, data[desc_start:desc_end]))
        pos = desc_start + ((descsz + 3) & ~3)
    return notes


def parse_elf(data: bytes) -> ElfFile:
    """Parse the ELF header, program headers and notes of `data`."""
    if data[:4] != ELF_MAGIC:
        raise ElfError("no ELF magic")
    if len(data) < 16:
        raise ElfError("truncated ELF file")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise ElfError(f"unknown ELF class/encoding {ei_class}/{ei_data}")
    endian = "<" if ei_data == 1 else ">"
    if ei_class == 2:
        _, machine, _, entry, phoff = _unpack(endian + "HHIQQ", data, 16)
        phentsize, phnum = _unpack(endian + "HH", data, 54)
        ph_fmt, want_size = endian + "IIQQQQQQ", 56
    else:
        _, machine, _, entry, phoff = _unpack(endian + "HHIII", data, 16)
        phentsize, phnum = _unpack(endian + "HH", data, 42)
        ph_fmt, want_size = endian + "IIIIIIII", 32
    if phnum and phentsize < want_size:
        raise ElfError(f"program header entries too small ({phentsize} bytes)")
    segments = []
    notes: list[ElfNote] = []
    for index in range(phnum):
        fields = _unpack(ph_fmt, data, phoff + index * phentsize)
        if ei_class == 2:
            ptype, _, offset, vaddr, paddr, filesz, memsz, _ = fields
        else:
            ptype, offset, vaddr, paddr, filesz, memsz, _, _ = fields
        seg = ProgramHeader(ptype, offset, vaddr, paddr, filesz, memsz)
        segments.append(seg)
        if ptype == PT_NOTE:
            if offset + filesz > len(data):
                raise ElfError("truncated ELF note segment")
            notes.extend(_parse_notes(data[offset : offset + filesz], endian))
    return ElfFile(
        bits=64 if ei_class == 2 else 32,
        little_endian=ei_data == 1,
        machine=machine,
        entry=entry,
        segments=tuple(segments),
        notes=tuple(notes),
    )
