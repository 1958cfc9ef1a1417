"""Parsing and printing memory sizes the way QEMU's `-m` understands them."""

import re
from decimal import Decimal, InvalidOperation

from minibios.errors import InputError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

_UNITS = {"": MIB, "K": KIB, "M": MIB, "G": GIB, "T": 1024 * GIB}
# QEMU reads a bare number as MiB; we also accept "MiB"/"MB" spellings.
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)


class SizeError(InputError):
    """A memory size that is malformed or unusable."""


def parse_memory(text: str) -> int:
    """Return the byte count of a `-m` style size such as "512M", "2G" or "256".

    The result must be a positive whole number of MiB, because that is the
    granularity we hand to QEMU.
    """
    match = _SIZE_RE.fullmatch(text.strip())
    if match is None:
        raise SizeError(f"bad memory size {text!r}: expected e.g. 512M or 2G")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:
        raise SizeError(f"bad memory size {text!r}: expected e.g. 512M or 2G") from exc
    size = number * _UNITS[match.group(2).upper()]
    if size != size.to_integral_value() or int(size) % MIB != 0:
        raise SizeError(f"bad memory size {text!r}: must be a whole number of MiB")
    if size <= 0:
        raise SizeError(f"bad memory size {text!r}: must be positive")
    return int(size)


def format_size(size: int) -> str:
    """Human-readable binary size, e.g. 536870912 -> "512 MiB"."""
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= factor:
            value = size / factor
            text = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
            return f"{text} {unit}"
    return f"{size} B"
