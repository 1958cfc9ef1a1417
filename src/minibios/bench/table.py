"""The benchmark's text table: medians with their spread, ratios, counts."""

from __future__ import annotations

from collections.abc import Sequence

from minibios.bench.runner import PHASES, BenchPlan, FirmwareResult, Spread
from minibios.sizes import MIB

REFERENCES = ("seabios", "qboot")
LABEL_WIDTH = 34
COLUMN_WIDTH = 24


def _ms(s: Spread | None) -> str:
    if s is None:
        return "-"
    return f"{s.median * 1e3:.1f} [{s.low * 1e3:.1f}-{s.high * 1e3:.1f}]"


def _row(label: str, cells: Sequence[str]) -> str:
    return label.ljust(LABEL_WIDTH) + "".join(c.rjust(COLUMN_WIDTH) for c in cells)


def _ratio(value: Spread | None, reference: Spread | None) -> str:
    if value is None or reference is None or reference.median == 0:
        return "-"
    return f"{value.median / reference.median:.2f}"


def render(plan: BenchPlan, results: Sequence[FirmwareResult]) -> str:
    names = [r.name for r in results]
    by_name = {r.name: r for r in results}
    spec = plan.spec
    lines = [
        f"minibios bench: {spec.machine}, {spec.memory // MIB}M, kernel {spec.kernel}, "
        f"{plan.runs} interleaved runs per firmware ({spec.accel.upper()})",
        "times in ms: median [min-max]",
        "",
        _row("phase", names),
    ]
    lines += [_row(label, [_ms(r.phase(key)) for r in results]) for key, label in PHASES]
    for ref in REFERENCES:
        if ref not in by_name:
            continue
        lines += ["", f"ratio of medians to {ref}"]
        for key, label in PHASES:
            ref_phase = by_name[ref].phase(key)
            lines.append(_row(label, [_ratio(r.phase(key), ref_phase) for r in results]))
    if any(r.counts for r in results):
        lines += ["", "reset -> kernel entry, counted (deterministic)"]

        def counted(pick) -> list[str]:
            return [str(pick(r.counts[0])) if r.counts else "-" for r in results]

        lines.append(_row("port I/O accesses", counted(lambda c: c.accesses.port_io)))
        lines.append(_row("MMIO accesses", counted(lambda c: c.accesses.mmio)))
        lines.append(_row("fw_cfg selects", counted(lambda c: c.accesses.fw_cfg_selects)))
        lines.append(_row("guest instructions", counted(lambda c: c.instructions)))
        lines.append(
            _row(
                "identical in every counting run",
                ["yes" if r.counts_identical() else "NO" for r in results],
            )
        )
        lines.append(
            _row(
                "minibios milestones (ms)",
                [
                    " ".join(f"{v}@{when * 1e3:.1f}" for v, when in r.counts[0].milestones) or "-"
                    if r.counts
                    else "-"
                    for r in results
                ],
            )
        )
    lines += _step_rows(results)
    lines += ["", _row("peak RSS of QEMU (MiB)", [_mib(r.peak_rss_kb()) for r in results])]
    return "\n".join(lines)


def _step_rows(results: Sequence[FirmwareResult]) -> list[str]:
    """minibios's time per step, median [min-max] over its step runs."""
    per_firmware = [r.step_durations() for r in results]
    names = list(dict.fromkeys(name for steps in per_firmware for name in steps))
    if not names:
        return []
    lines = ["", "minibios steps, ms (reset release -> kernel entry)"]
    for name in names:
        lines.append(_row("  " + name, [_ms(steps.get(name)) for steps in per_firmware]))
    return lines


def _mib(s: Spread | None) -> str:
    return "-" if s is None else f"{s.median / 1024:.1f}"
