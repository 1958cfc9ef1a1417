"""A timeline plot of the benchmark: one stacked bar of phase medians per firmware, as SVG."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from minibios.bench import PHASES, STACKED, FirmwareResult

COLOURS = {"qemu": "#9e9e9e", "firmware": "#e4572e", "kernel": "#4f86c6", "init": "#76b041"}
BAR_HEIGHT = 28
GAP = 14
LEFT = 110
WIDTH = 760
TOP = 40


def render_svg(results: Sequence[FirmwareResult], title: str) -> str:
    labels = dict(PHASES)
    medians = {
        r.name: [(key, (s.median if (s := r.phase(key)) else 0.0)) for key in STACKED]
        for r in results
    }
    longest = max((sum(v for _, v in parts) for parts in medians.values()), default=0) or 1.0
    scale = (WIDTH - LEFT - 20) / longest
    height = TOP + len(results) * (BAR_HEIGHT + GAP) + 70
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{LEFT}" y="20" font-size="14">{escape(title)}</text>',
    ]
    for i, r in enumerate(results):
        y = TOP + i * (BAR_HEIGHT + GAP)
        out.append(
            f'<text x="{LEFT - 8}" y="{y + BAR_HEIGHT * 0.65:.0f}" text-anchor="end">'
            f"{escape(r.name)}</text>"
        )
        x = float(LEFT)
        for key, seconds in medians[r.name]:
            w = seconds * scale
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{COLOURS[key]}"><title>{escape(labels[key])}: '
                f"{seconds * 1e3:.1f} ms</title></rect>"
            )
            x += w
        total = sum(v for _, v in medians[r.name])
        out.append(
            f'<text x="{x + 4:.1f}" y="{y + BAR_HEIGHT * 0.65:.0f}">{total * 1e3:.0f} ms</text>'
        )
    y = TOP + len(results) * (BAR_HEIGHT + GAP) + 10
    x = float(LEFT)
    for key in STACKED:
        out.append(f'<rect x="{x:.0f}" y="{y}" width="12" height="12" fill="{COLOURS[key]}"/>')
        out.append(f'<text x="{x + 16:.0f}" y="{y + 10}">{escape(labels[key].strip())}</text>')
        x += 160
    out.append(
        f'<text x="{LEFT}" y="{y + 36}" fill="#555">medians; hover a segment for its value</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
