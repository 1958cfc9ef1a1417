"""The bench's STEPS and milestone port mirror firmware/include/debugport.h: fail on drift.

The header is parsed as text (the firmware is freestanding C; the host has no
use for it): the #defines and `enum step_mark`, counting on from each explicit
value as C does.
"""

import re
from pathlib import Path

import pytest

from minibios.bench.probe import MILESTONE_PORT, MILESTONES_FILE, STEP_MARKS_FILE
from minibios.bench.runner import STEPS

HEADER = Path(__file__).resolve().parents[1] / "firmware" / "include" / "debugport.h"
_DEFINE_RE = re.compile(r"^#define[ \t]+(\w+)[ \t]+(\S+)", re.MULTILINE)
_ENUM_RE = re.compile(r"enum\s+step_mark\s*\{(?P<body>[^}]*)\}", re.DOTALL)


def c_int(text: str) -> int:
    return int(text.rstrip("uUlL"), 0)


def defines(header: str) -> dict[str, str]:
    return dict(_DEFINE_RE.findall(header))


def enum_values(header: str) -> dict[str, int]:
    """The enumerators of `enum step_mark` with their values."""
    match = _ENUM_RE.search(header)
    assert match, f"no enum step_mark in {HEADER}"
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", match["body"], flags=re.DOTALL)
    values: dict[str, int] = {}
    following = 0
    for item in filter(None, (part.strip() for part in body.split(","))):
        name, _, value = (side.strip() for side in item.partition("="))
        following = c_int(value) if value else following
        values[name] = following
        following += 1
    return values


def test_the_parser_reads_c_as_c() -> None:
    header = "enum step_mark {\n\tA = 0x10, /* x, y */\n\tB,\n\tC = 2,\n\tD, // z\n};"
    assert enum_values(header) == {"A": 0x10, "B": 0x11, "C": 2, "D": 3}


def drift(steps: dict[int, str], header: str) -> str | None:
    """How `steps` and the header disagree, or None.

    STEPS names what the firmware has done when it writes each mark: every step
    mark, and every milestone after the first (entry starts the first step).
    """
    found = defines(header)
    milestones = {c_int(v) for name, v in found.items() if name.startswith("MILESTONE_")}
    expected = set(enum_values(header).values())
    expected |= milestones - {c_int(found["MILESTONE_FIRMWARE_START"])}
    if set(steps) == expected:
        return None
    return (
        f"bench.runner.STEPS and {HEADER.name} disagree: only in Python "
        f"{sorted(set(steps) - expected)}, only in C {sorted(expected - set(steps))}"
    )


def test_steps_mirror_the_header() -> None:
    problem = drift(STEPS, HEADER.read_text())
    assert problem is None, problem


def test_port_and_fw_cfg_file_match_the_header() -> None:
    found = defines(HEADER.read_text())
    assert c_int(found["DEBUG_PORT"]) == MILESTONE_PORT
    assert found["STEP_MARKS_FILE"] == f'"{STEP_MARKS_FILE}"'
    assert found["MILESTONES_FILE"] == f'"{MILESTONES_FILE}"'


@pytest.mark.parametrize("drop", [0x13, 4])
def test_a_drift_is_caught(drop: int) -> None:
    header = HEADER.read_text()
    fewer = {mark: name for mark, name in STEPS.items() if mark != drop}
    assert drift(fewer, header) == (
        f"bench.runner.STEPS and debugport.h disagree: only in Python [], only in C [{drop}]"
    )
    # A new enumerator at the end of the enum, not yet in STEPS.
    grown = header.replace("STEP_TABLES_DONE,", "STEP_TABLES_DONE,\n\tSTEP_NEW,")
    assert "only in C [25]" in (drift(STEPS, grown) or "")
