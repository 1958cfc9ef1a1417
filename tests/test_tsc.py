"""The TSC frequency told to a microvm kernel under TCG (it cannot calibrate it there)."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minibios.vm.spec import VmSpec
from minibios.vm.tsc import host_tsc_khz, tsc_hint_khz

SOCK = Path("/tmp/x/qmp.sock")
# Two CPUs as Linux lists them; only the first block is read.
CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
cpu MHz\t\t: 2599.998
flags\t\t: fpu vme tsc msr constant_tsc nonstop_tsc tsc_known_freq

processor\t: 1
cpu MHz\t\t: 1200.000
flags\t\t: fpu vme tsc msr constant_tsc
"""


def cpuinfo(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return path


def test_host_frequency_from_the_first_cpu(tmp_path: Path) -> None:
    assert host_tsc_khz(cpuinfo(tmp_path, CPUINFO)) == 2599998
    # Without constant_tsc "cpu MHz" is the current clock: a guess, but a boot.
    assert host_tsc_khz(cpuinfo(tmp_path, CPUINFO.replace(" constant_tsc", ""))) == 2599998


@pytest.mark.parametrize(
    "text",
    [
        CPUINFO.replace("cpu MHz\t\t: 2599.998\n", ""),
        CPUINFO.replace("2599.998", "nan"),
        CPUINFO.replace("2599.998", "0"),
        "processor\t: 0\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd\n",  # an arm64 host
        "",
    ],
    ids=["no-mhz", "nan", "zero", "arm64", "empty"],
)
def test_no_frequency_when_the_host_cannot_say(tmp_path: Path, text: str) -> None:
    assert host_tsc_khz(cpuinfo(tmp_path, text)) is None


def test_no_frequency_without_cpuinfo(tmp_path: Path) -> None:
    assert host_tsc_khz(tmp_path / "missing") is None


@given(st.text())
def test_any_cpuinfo_gives_a_positive_frequency_or_none(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:  # hypothesis reruns the body: no tmp_path
        khz = host_tsc_khz(cpuinfo(Path(tmp), text))
    assert khz is None or khz > 0


@given(st.floats(min_value=1, max_value=10_000))
def test_the_frequency_is_the_first_cpus_mhz(mhz: float) -> None:
    text = CPUINFO.replace("2599.998", f"{mhz:.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        assert host_tsc_khz(cpuinfo(Path(tmp), text)) == round(float(f"{mhz:.3f}") * 1000)


@pytest.mark.parametrize(
    ("machine", "accel", "append", "told"),
    [
        ("microvm", "tcg", "console=ttyS0", True),
        ("microvm", "tcg", None, True),
        ("microvm", "tcg", "console=ttyS0 tsc_early_khz=1000000", False),  # the user's wins
        ("microvm", "kvm", "console=ttyS0", False),  # KVM gives the kernel kvmclock
        ("pc", "tcg", "console=ttyS0", False),  # the PIT and HPET are there
        ("q35", "tcg", "console=ttyS0", False),
    ],
)
def test_hint_only_where_the_kernel_cannot_calibrate(
    tmp_path: Path, machine: str, accel: str, append: str | None, told: bool
) -> None:
    khz = tsc_hint_khz(machine, accel, append, cpuinfo(tmp_path, CPUINFO))
    assert khz == (2599998 if told else None)


def test_config_appends_the_frequency() -> None:
    config = VmSpec(machine="microvm", kernel=Path("/k"), append="console=ttyS0", tsc_khz=5)
    argv = config.argv(SOCK)
    assert argv[argv.index("-append") + 1] == "console=ttyS0 tsc_early_khz=5"
    bare = VmSpec(machine="microvm", kernel=Path("/k"), tsc_khz=5).argv(SOCK)
    assert bare[bare.index("-append") + 1] == "tsc_early_khz=5"
    # No kernel, no command line: QEMU refuses -append without -kernel.
    assert "-append" not in VmSpec(machine="microvm", tsc_khz=5).argv(SOCK)
