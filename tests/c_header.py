"""The firmware's C headers read as text, for tests that check a Python value
against the one C definition (the firmware is freestanding C; the host has no
other use for it): the #defines, and an enum's values counted on from each
explicit value as C does."""

from __future__ import annotations

import re
from pathlib import Path

INCLUDE = Path(__file__).resolve().parents[1] / "firmware" / "include"
_DEFINE_RE = re.compile(r"^#define[ \t]+(\w+)[ \t]+(\S+)", re.MULTILINE)


def c_int(text: str) -> int:
    return int(text.rstrip("uUlL"), 0)


def defines(header: str) -> dict[str, str]:
    """Each object-like #define's first token (its value when it is a literal)."""
    return dict(_DEFINE_RE.findall(header))


def header_ints(name: str) -> dict[str, int]:
    """The integer-literal #defines of firmware/include/<name>."""
    found: dict[str, int] = {}
    for macro, value in defines((INCLUDE / name).read_text()).items():
        try:
            found[macro] = c_int(value)
        except ValueError:
            continue  # an expression, a string, a macro call
    return found


def enum_values(header: str, enum: str) -> dict[str, int]:
    """The enumerators of `enum <enum>` with their values."""
    match = re.search(rf"enum\s+{enum}\s*\{{(?P<body>[^}}]*)\}}", header, re.DOTALL)
    assert match, f"no enum {enum} in the header"
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", match["body"], flags=re.DOTALL)
    values: dict[str, int] = {}
    following = 0
    for item in filter(None, (part.strip() for part in body.split(","))):
        name, _, value = (side.strip() for side in item.partition("="))
        following = c_int(value) if value else following
        values[name] = following
        following += 1
    return values
