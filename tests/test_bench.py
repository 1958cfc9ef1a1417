"""The benchmark: trace-log counting, phase arithmetic, table, plot, JSON, a real run."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
from vm_support import minibios_cli

from minibios.bench.plot import (
    LEFT,
    RIGHT,
    WIDTH,
    PlotError,
    check_plot_path,
    render_svg,
    write_plot,
)
from minibios.bench.probe import (
    KERNEL_ENTRIES,
    SETUP_ENTRY,
    BenchFirmware,
    BootCounts,
    BootTiming,
    _ProbedBoot,
    probe_counts,
)
from minibios.bench.runner import (
    PHASES,
    STACKED,
    STEPS,
    BenchPlan,
    FirmwareResult,
    phases_of,
    to_json,
)
from minibios.bench.table import render
from minibios.bench.trace_log import AccessCounts, count_window, parse_events, port_writes
from minibios.firmware.choice import Firmware, FirmwareKind
from minibios.vm.spec import VmSpec
from minibios.vm.tsc import tsc_hint_khz

TRACE = Path(__file__).parent / "data" / "trace-minibios-q35.log"


def test_recorded_trace_gives_the_firmware_counts_and_milestones() -> None:
    events = list(parse_events(TRACE.read_text().splitlines()))
    milestones = port_writes(events, 0xF4)
    assert [value for _, value in milestones] == [1, 2, 3]
    start, end = milestones[0][0], milestones[-1][0]
    # Counted independently with grep/awk over the same lines (3-124).
    assert count_window(events, start, end) == AccessCounts(port_io=50, mmio=53, fw_cfg_selects=19)
    # QEMU's own accesses (cpu -1) and those after kernel entry are not the firmware's.
    everything = count_window(events, 0, float("inf"))
    assert everything.total > 50 + 53
    assert everything.fw_cfg_selects == 20


def test_garbage_lines_are_skipped() -> None:
    lines = ["", "qemu-system-x86_64: warning: x", "123@1.5:fw_cfg_select", "1@2.000001:x y"]
    assert [e.event for e in parse_events(lines)] == ["x"]


def timing(scale: float = 1.0, setup: bool = True) -> BootTiming:
    return BootTiming(
        firmware_entry=0.050 * scale,
        setup_entry=0.060 * scale if setup else None,
        kernel_entry=0.064 * scale,
        init=2.0 * scale,
        poweroff=2.014 * scale,
        peak_rss_kb=200_000,
    )


def test_phases_add_up_to_the_total() -> None:
    p = phases_of(timing())
    assert sum(p[k] for k in STACKED) == pytest.approx(p["total"])
    assert p["setup"] == pytest.approx(0.004)
    assert phases_of(timing(setup=False))["setup"] is None


def results() -> list[FirmwareResult]:
    counts = BootCounts(AccessCounts(150, 0, 19), 113_000, ((1, 0.0002), (3, 0.011)))
    steps = [((1, 0.0), (0x10, 0.001), (2, 0.004), (3, 0.009))] * 2
    fast = FirmwareResult(
        "minibios", [timing(1.0), timing(1.1), timing(0.9)], [counts, counts], steps
    )
    slow = FirmwareResult("seabios", [timing(2.0, setup=False)] * 3, [])
    return [fast, slow]


def bench_firmware(label: str) -> BenchFirmware:
    """A resolved firmware without the lookup (no ROM build, no SeaBIOS needed)."""
    kind = FirmwareKind.of(label)
    return BenchFirmware(label, Firmware(label, Path(f"/fw/{label}"), kind))


def plan() -> BenchPlan:
    spec = VmSpec(kernel=Path("/k"), append="console=ttyS0")
    return BenchPlan(spec, (bench_firmware("minibios"), bench_firmware("seabios")), runs=3)


def test_table_shows_medians_ratios_and_counts() -> None:
    text = render(plan(), results())
    assert "14.0 [12.6-15.4]" in text  # firmware phase of minibios: median [min-max]
    assert "ratio of medians to seabios" in text
    firmware_ratio = next(
        line
        for line in text.splitlines()[text.splitlines().index("ratio of medians to seabios") :]
        if line.startswith(PHASES[1][1])
    )
    assert firmware_ratio.split()[-2:] == ["0.50", "1.00"]
    assert "113000" in text and "1@0.2 3@11.0" in text
    # Each step lasts from the previous mark to its own.
    assert "  kernel (+ initrd) load" in text and "5.0 [5.0-5.0]" in text


def test_steps_are_timed_from_mark_to_mark() -> None:
    marks = ((1, 0.0009), (0x10, 0.001), (0x14, 0.003), (0x99, 0.0035), (2, 0.004))
    steps = FirmwareResult("minibios", steps=[marks]).step_durations()
    assert list(steps) == [STEPS[0x10], STEPS[0x14], "mark 0x99", STEPS[2]]
    # The first step from reset release, not from the firmware-start milestone in it.
    assert steps[STEPS[0x10]].median == pytest.approx(0.001)
    assert steps[STEPS[0x14]].median == pytest.approx(0.002)


def test_json_keeps_every_run() -> None:
    data = json.loads(json.dumps(to_json(plan(), results())))
    assert len(data["firmwares"]["minibios"]["timings"]) == 3
    assert data["firmwares"]["minibios"]["counts_identical"] is True
    assert data["firmwares"]["minibios"]["steps"][0][1] == [0x10, 0.001]
    assert data["firmwares"]["seabios"]["timings"][0]["phases"]["setup"] is None
    assert set(data["method"]) >= {"firmware", "counts"}
    assert data["target"]["kernel_command_line"] == "console=ttyS0"
    assert data["target"]["accel"] == "tcg" and data["target"]["machine"] == "pc"
    assert data["firmware_files"] == {"minibios": "/fw/minibios", "seabios": "/fw/seabios"}


def test_json_gives_the_command_line_the_guest_got() -> None:
    spec = VmSpec(kernel=Path("/k"), append="console=ttyS0", machine="microvm").with_tsc_hint()
    microvm = BenchPlan(spec, (bench_firmware("minibios"),), runs=1)
    told = tsc_hint_khz("microvm", "tcg", "console=ttyS0")
    line = to_json(microvm, [])["target"]["kernel_command_line"]
    assert line == (f"console=ttyS0 tsc_early_khz={told}" if told else "console=ttyS0")


def test_plot_is_svg_with_a_bar_per_firmware() -> None:
    svg = render_svg(results(), "test")
    root = ElementTree.fromstring(svg)  # well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # Stacked bars, legend, then one bar per firmware for the firmware phase alone.
    assert svg.count("<rect") == 2 * len(STACKED) + len(STACKED) + 2
    assert "14.0 ms" in svg and "1400 ms" not in svg  # minibios's firmware median
    widths = [float(r.get("width", 0)) for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert max(widths) <= WIDTH - LEFT - RIGHT + 0.1  # room left for the values
    # The second panel is at its own scale: the slower firmware phase fills it.
    assert widths[-1] == pytest.approx(WIDTH - LEFT - RIGHT, abs=0.1)


def test_plot_as_png(tmp_path: Path) -> None:
    out = tmp_path / "bench.png"
    write_plot(out, render_svg(results(), "test"))
    head = out.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(head[16:20], "big") == WIDTH  # IHDR width


@pytest.mark.parametrize(
    ("name", "path_env", "error"),
    [
        ("bench.pdf", None, "--plot writes SVG or PNG: give a file ending in .svg or .png"),
        ("bench.png", "", "a PNG plot needs rsvg-convert (Debian: apt install librsvg2-bin)"),
    ],
)
def test_plot_formats_it_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, path_env: str | None, error: str
) -> None:
    if path_env is not None:
        monkeypatch.setenv("PATH", path_env)
    with pytest.raises(PlotError, match=re.escape(error)):
        check_plot_path(tmp_path / name)
    with pytest.raises(PlotError, match=re.escape(error)):
        write_plot(tmp_path / name, "<svg/>")
    assert not (tmp_path / name).exists()


@pytest.mark.boot
def test_counts_are_deterministic(boot_images) -> None:
    spec = VmSpec(
        kernel=boot_images.kernel.vmlinuz, initrd=boot_images.plain_initrd, append="console=ttyS0"
    )
    minibios = BenchFirmware.resolve("minibios", "pc")
    first, second = probe_counts(spec, minibios, 120), probe_counts(spec, minibios, 120)
    # Milestone times are wall-clock and vary; what was counted may not.
    assert (first.accesses, first.instructions) == (second.accesses, second.instructions)
    assert first.instructions and first.accesses.port_io > 0
    assert [value for value, _ in first.milestones] == [1, 2, 3]


@pytest.mark.boot
def test_bench_command_writes_json_and_plot(tmp_path: Path, boot_images) -> None:
    out_json, out_svg = tmp_path / "bench.json", tmp_path / "bench.svg"
    result = subprocess.run(
        [
            *minibios_cli(),
            *("bench", "--runs", "1", "--count-runs", "1", "--firmware", "minibios,qboot"),
            *("--initrd", str(boot_images.plain_initrd), "--json", str(out_json)),
            *("--plot", str(out_svg)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ratio of medians to qboot" in result.stdout
    data = json.loads(out_json.read_text())
    assert set(data["firmwares"]) == {"minibios", "qboot"}
    assert out_svg.read_text().startswith("<svg")
    assert "[5/5]" in result.stderr  # the progress display
    # A step run of minibios: every step of the firmware, in order, to kernel entry.
    (marks,) = data["firmwares"]["minibios"]["steps"]
    assert [value for value, _ in marks] == [1, *range(0x10, 0x19), 2, 3]
    assert all(b[1] >= a[1] for a, b in itertools.pairwise(marks))
    assert "minibios steps" in result.stdout


class FakeGdb:
    """Stops once per resume at the next address of `stops`; remembers breakpoints."""

    def __init__(self, stops: list[int]) -> None:
        self.stops = stops
        self.breakpoints: set[int] = set()
        self.rip = 0

    def connect(self) -> None: ...

    def set_breakpoint(self, address: int) -> None:
        self.breakpoints.add(address)

    def clear_breakpoint(self, address: int) -> None:
        self.breakpoints.discard(address)

    def resume(self) -> None: ...

    def wait_stop(self) -> str:
        self.rip = self.stops.pop(0)
        return "T05"

    def request(self, payload: str) -> str:
        assert payload == "g"
        # Real mode reports IP relative to CS: the setup entry reads as 0.
        rip = 0 if self.rip == SETUP_ENTRY else self.rip
        return "0" * 16 * 16 + rip.to_bytes(8, "little").hex() + "0" * 64


@pytest.mark.parametrize(
    "stops", [[KERNEL_ENTRIES[3]], [SETUP_ENTRY, KERNEL_ENTRIES[0]]], ids=["direct", "setup"]
)
def test_no_breakpoint_outlives_kernel_entry(stops: list[int]) -> None:
    # A breakpoint left set (the setup entry's, after a direct entry) makes TCG check
    # every block the kernel runs: its phase came out 3-15 % slower.
    direct = len(stops) == 1
    boot = object.__new__(_ProbedBoot)
    boot.gdb = FakeGdb(stops)
    boot.entries = KERNEL_ENTRIES
    boot.vm = SimpleNamespace(started_at=0.0)
    _, setup, _ = boot.release_and_stop_at_kernel()
    assert (setup is None) == direct
    assert boot.gdb.breakpoints == set()
