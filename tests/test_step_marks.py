"""The bench's STEPS and milestone port mirror firmware/include/debugport.h: fail on drift.

The header is parsed as text by tests/c_header.py: the #defines and
`enum step_mark`.
"""

import pytest
from c_header import INCLUDE, c_int, defines, enum_values

from minibios.bench.probe import MILESTONE_PORT, MILESTONES_FILE, STEP_MARKS_FILE
from minibios.bench.runner import FIRMWARE_START_MARK, STEPS

HEADER = INCLUDE / "debugport.h"


def test_the_parser_reads_c_as_c() -> None:
    header = "enum step_mark {\n\tA = 0x10, /* x, y */\n\tB,\n\tC = 2,\n\tD, // z\n};"
    assert enum_values(header, "step_mark") == {"A": 0x10, "B": 0x11, "C": 2, "D": 3}


def drift(steps: dict[int, str], header: str) -> str | None:
    """How `steps` and the header disagree, or None.

    STEPS names what the firmware has done when it writes each mark: every step
    mark, and every milestone after the first (entry starts the first step).
    """
    found = defines(header)
    milestones = {c_int(v) for name, v in found.items() if name.startswith("MILESTONE_")}
    expected = set(enum_values(header, "step_mark").values())
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
    assert c_int(found["MILESTONE_FIRMWARE_START"]) == FIRMWARE_START_MARK
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
