"""Drop the zero tails of an ELF kernel's PT_LOAD segments from what QEMU must read.

A vmlinux stores its .bss, .brk and scratch areas as file bytes that are all
zero (the Debian cloud kernel: 11.3 MiB of its last segment). QEMU maps the
ELF given as -kernel and keeps it for a reset, so every page it reads stays in
its RSS; ELF semantics already give memsz - filesz bytes of zeros, so a smaller
p_filesz loads the same guest memory from fewer file pages. Only p_filesz
changes; the file keeps its bytes, size and layout.
"""

import struct

from minibios.images.elf import PT_LOAD, parse_elf

PAGE = 4096
# Elf64_Phdr: p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, ...
PHDR_FORMAT = "<IIQQQQ"
FILESZ_OFFSET = 32


def trim_zero_tails(elf: bytes) -> bytes:
    """`elf` with each PT_LOAD's p_filesz cut below its whole zero pages at the end.

    Only little-endian 64-bit ELF (an x86_64 vmlinux) is changed; a tail shorter
    than a page is left alone, and so is a segment reaching past the file's end.
    """
    parsed = parse_elf(elf)  # validates the headers read below
    if parsed.bits != 64 or not parsed.little_endian:
        return elf
    (phoff,) = struct.unpack_from("<Q", elf, 32)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    out = bytearray(elf)
    for index in range(phnum):
        header = phoff + index * phentsize
        ptype, _, offset, _, _, filesz = struct.unpack_from(PHDR_FORMAT, elf, header)
        if ptype != PT_LOAD or offset + filesz > len(elf):
            continue
        used = len(elf[offset : offset + filesz].rstrip(b"\0"))
        keep = -(-used // PAGE) * PAGE  # whole pages: QEMU reads the file by page
        if keep < filesz:
            struct.pack_into("<Q", out, header + FILESZ_OFFSET, keep)
    return bytes(out)
