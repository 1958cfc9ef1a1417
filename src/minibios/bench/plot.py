"""A timeline plot of the benchmark, as SVG (or PNG through rsvg-convert).

Two panels: one stacked bar of phase medians per firmware, the whole boot; then
the firmware phase alone at its own scale, since beside the kernel it is a sliver.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from html import escape
from pathlib import Path

from minibios.bench.runner import PHASES, STACKED, FirmwareResult
from minibios.errors import InputError

COLOURS = {"qemu": "#9e9e9e", "firmware": "#e4572e", "kernel": "#4f86c6", "init": "#76b041"}
BAR_HEIGHT = 28
SMALL_BAR_HEIGHT = 16
GAP = 14
LEFT = 110
RIGHT = 80  # room for the value after the longest bar
WIDTH = 760
TOP = 40
LEGEND_COLUMN = 320  # two legend entries a row: the labels are long
PLOT_FORMATS = (".svg", ".png")
PNG_CONVERTER = "rsvg-convert"


class PlotError(InputError):
    """The plot cannot be written in the format asked for."""


def _bar_label(x: float, y: float, height: int, text: str) -> str:
    return f'<text x="{x + 4:.1f}" y="{y + height * 0.7:.0f}">{escape(text)}</text>'


def _name_label(y: float, height: int, name: str) -> str:
    return (
        f'<text x="{LEFT - 8}" y="{y + height * 0.7:.0f}" text-anchor="end">{escape(name)}</text>'
    )


def render_svg(results: Sequence[FirmwareResult], title: str) -> str:
    labels = dict(PHASES)
    medians = {
        r.name: [(key, (s.median if (s := r.phase(key)) else 0.0)) for key in STACKED]
        for r in results
    }
    span = WIDTH - LEFT - RIGHT
    longest = max((sum(v for _, v in parts) for parts in medians.values()), default=0) or 1.0
    out = [f'<text x="{LEFT}" y="20" font-size="14">{escape(title)}</text>']

    y = TOP
    for r in results:
        out.append(_name_label(y, BAR_HEIGHT, r.name))
        x = float(LEFT)
        for key, seconds in medians[r.name]:
            w = seconds * span / longest
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{COLOURS[key]}"><title>{escape(labels[key])}: '
                f"{seconds * 1e3:.1f} ms</title></rect>"
            )
            x += w
        total = sum(v for _, v in medians[r.name])
        out.append(_bar_label(x, y, BAR_HEIGHT, f"{total * 1e3:.0f} ms"))
        y += BAR_HEIGHT + GAP

    for k, key in enumerate(STACKED):
        lx, ly = LEFT + (k % 2) * LEGEND_COLUMN, y + (k // 2) * 18
        out.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{COLOURS[key]}"/>')
        out.append(f'<text x="{lx + 16}" y="{ly + 10}">{escape(labels[key].strip())}</text>')
    y += ((len(STACKED) + 1) // 2) * 18 + 24

    firmware = {r.name: dict(medians[r.name])["firmware"] for r in results}
    widest = max(firmware.values(), default=0) or 1.0
    out.append(f'<text x="{LEFT}" y="{y}" font-size="13">{escape(labels["firmware"])} alone</text>')
    y += 10
    for r in results:
        seconds = firmware[r.name]
        w = seconds * span / widest
        out.append(_name_label(y, SMALL_BAR_HEIGHT, r.name))
        out.append(
            f'<rect x="{LEFT}" y="{y}" width="{w:.1f}" height="{SMALL_BAR_HEIGHT}" '
            f'fill="{COLOURS["firmware"]}"/>'
        )
        out.append(_bar_label(LEFT + w, y, SMALL_BAR_HEIGHT, f"{seconds * 1e3:.1f} ms"))
        y += SMALL_BAR_HEIGHT + 6

    y += 20
    note = "medians; hover a segment for its value"
    out.append(f'<text x="{LEFT}" y="{y}" fill="#555">{note}</text>')
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y + 12}" '
        'font-family="sans-serif" font-size="12">'
    )
    return "\n".join([head, *out, "</svg>"]) + "\n"


def check_plot_path(path: Path) -> None:
    """Fail before a long benchmark, not after it, on a plot that cannot be written."""
    if path.suffix not in PLOT_FORMATS:
        raise PlotError(f"--plot writes SVG or PNG: give a file ending in .svg or .png, not {path}")
    if path.suffix == ".png" and shutil.which(PNG_CONVERTER) is None:
        raise PlotError(
            f"a PNG plot needs {PNG_CONVERTER} (Debian: apt install librsvg2-bin); or ask for .svg"
        )


def write_plot(path: Path, svg: str) -> None:
    """Write the plot as SVG, or as PNG rendered from the same SVG."""
    check_plot_path(path)
    if path.suffix == ".svg":
        path.write_text(svg)
        return
    result = subprocess.run(
        [PNG_CONVERTER, "--format", "png", "--output", str(path)],
        input=svg.encode(),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        why = result.stderr.decode(errors="replace").strip()
        raise PlotError(f"{PNG_CONVERTER} failed (exit {result.returncode}): {why}")
