"""`minibios bench-exec`: the vng peer's command line, its status parsing, the table; and
one real round with the peer."""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from vm_support import run_cli

from minibios.agent import Timings
from minibios.bench import vng_peer
from minibios.bench.exec_bench import (
    ExecBenchOutcome,
    ExecBenchPlan,
    ExecBenchResult,
    PeerResult,
    render_exec_bench,
)
from minibios.bench.vng_peer import STATUS_MARK, VngError, VngPeer, parse_status, run_peer
from minibios.images.assets import KernelAssets

KERNEL = KernelAssets(
    "6.1.0-57-amd64",
    Path("/cache/kernels/6.1.0-57-amd64/boot/vmlinuz-6.1.0-57-amd64"),
    Path("/cache/kernels/6.1.0-57-amd64/lib/modules/6.1.0-57-amd64"),
)
# Stands in for vng: runs the --exec script as vng's console fallback does, then exits
# 255 as vng does here whatever the script did.
FAKE_VNG = """#!/bin/sh
while [ $# -gt 0 ]; do
    if [ "$1" = --exec ]; then echo "[    8.35] console noise"; sh -c "$2"; exit 255; fi
    shift
done
exit 2
"""


def test_peer_command_line() -> None:
    peer = VngPeer(Path("/venv/bin/vng"), KERNEL, cpus=1, memory="512M")
    assert peer.argv(["sh", "-c", "echo a b"]) == [
        "/venv/bin/vng", "--run", str(KERNEL.vmlinuz),
        "--disable-kvm", "--disable-microvm", "--force-9p", "--cpus", "1", "--memory", "512M",
        "--verbose", "--append", "quiet",
        "--exec", f"sh -c 'echo a b'; echo {STATUS_MARK}$?",
    ]  # fmt: skip
    # Beside KVM rows the peer uses KVM too; the other flags stay.
    kvm = VngPeer(Path("/venv/bin/vng"), KERNEL, tcg=False).argv(["/bin/true"])
    assert "--disable-kvm" not in kvm and "--force-9p" in kvm
    # vng runs virtme-run by name: its own directory comes first on PATH.
    env = peer.env(Path("/tmp/x"))
    assert env["PATH"].split(os.pathsep)[0] == "/venv/bin" and env["TMPDIR"] == "/tmp/x"


@pytest.mark.parametrize(
    ("console", "status"),
    [
        ("[ 1.0] boot\r\nminibios-peer-status=0\r\n[ 13.4] reboot: Power down\r\n", 0),
        (f"{STATUS_MARK}3\n", 3),
        ("hi\nminibios-peer-status=1\nminibios-peer-status=7", 7),
        ("[ 8.6] virtme-ng-init: script exited with code 0\n", None),
        ("echo minibios-peer-status=$?\n", None),  # the script echoed, not its result
        ("x minibios-peer-status=0\n", None),
        ("", None),
    ],
)
def test_parse_status(console: str, status: int | None) -> None:
    assert parse_status(console) == status


@pytest.fixture
def fake_peer(tmp_path: Path) -> VngPeer:
    vng = tmp_path / "bin" / "vng"
    vng.parent.mkdir()
    vng.write_text(FAKE_VNG)
    vng.chmod(0o755)
    return VngPeer(vng, KERNEL)


def test_run_peer_times_vng_and_checks_the_status(fake_peer: VngPeer) -> None:
    assert 0 < run_peer(fake_peer, ["true"]) < 30
    with pytest.raises(VngError, match=r"status 3 \(vng exited 255\)"):
        run_peer(fake_peer, ["sh", "-c", "exit 3"])
    # No status line (vng never ran the script): the console's tail says why.
    broken = VngPeer(fake_peer.vng, KERNEL)
    fake_peer.vng.write_text("#!/bin/sh\necho 'Kernel panic - not syncing'\nexit 255\n")
    with pytest.raises(VngError, match=r"no status line \(vng exited 255\):\nKernel panic"):
        run_peer(broken, ["true"])


def test_run_peer_stops_vng_and_its_children_at_the_timeout(
    fake_peer: VngPeer, tmp_path: Path
) -> None:
    pidfile = tmp_path / "sleeper"
    began = time.monotonic()
    with pytest.raises(VngError, match="did not finish within 1 s"):
        run_peer(fake_peer, ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], timeout=1)
    assert time.monotonic() - began < 15
    sleeper = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{sleeper}").exists() and "Z" not in _state(sleeper):
        assert time.monotonic() < deadline, "vng's child (QEMU's stand-in) outlived the bench"
        time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def test_blocker_when_vng_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vng_peer, "find_vng", lambda path=None: None)
    assert vng_peer.vng_blocker() == "virtme-ng not installed (pip install virtme-ng; in .[test])"


def _timings(total_ms: float) -> Timings:
    # prepare 100 ms, the rest in the boot phases.
    return Timings(prepare=0.1, qemu_start=0.05, kernel=total_ms / 1000 - 0.05)


def test_table_with_the_peer() -> None:
    peer = VngPeer(Path("/venv/bin/vng"), KERNEL, version="virtme-ng 1.42")
    plan = ExecBenchPlan(("minibios", "seabios"), runs=1, kernel=KERNEL, peer=peer)
    outcome = ExecBenchOutcome(
        [
            ExecBenchResult("minibios", runs=[_timings(1900)]),
            ExecBenchResult("seabios", runs=[_timings(2900)]),
        ],
        PeerResult("vng", walls=[10.0]),
    )
    text = render_exec_bench(plan, outcome)
    assert "on pc, TCG, rootfs initramfs, kernel 6.1.0-57-amd64 (Debian generic" in text
    assert re.search(r"^\| minibios \| off \| 1900 \| 50 \| .* \| 100 \| 2000 \|$", text, re.M)
    assert "| vng (peer) | - | - | - | - | - | - | - | - | 10000 |" in text
    assert "vng: virtme-ng 1.42, `vng --run KERNEL --disable-kvm" in text
    assert "wall / minibios's (snapshot off, same rounds): seabios off 1.50, vng 5.00" in text


def test_table_without_the_peer_names_the_default_kernel() -> None:
    plan = ExecBenchPlan(("minibios",), runs=1, accel="kvm")
    text = render_exec_bench(
        plan, ExecBenchOutcome([ExecBenchResult("minibios", runs=[_timings(900)])])
    )
    assert "KVM" in text and "the cached Debian cloud kernel" in text
    assert "peer" not in text and "wall / minibios" not in text


@pytest.mark.boot
def test_bench_exec_with_the_vng_peer(short_tmp: Path) -> None:
    blocker = vng_peer.peer_blocker()
    if blocker:
        pytest.skip(blocker)
    kernel = vng_peer.generic_kernel()
    result = run_cli(
        "bench-exec", "--runs", "1", "--firmware", "minibios", "--peer", "vng",
        tmpdir=short_tmp, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"kernel {kernel.version} (Debian generic" in result.stdout
    assert re.search(r"^\| minibios \| off \| \d+ \|", result.stdout, re.M), result.stdout
    assert re.search(r"^\| vng \(peer\) \|( - \|){8} \d+ \|$", result.stdout, re.M)
    assert "wall / minibios's (snapshot off, same rounds): vng " in result.stdout
    assert "bench-exec: run 1/1 vng: " in result.stderr
    leftovers = subprocess.run(
        ["pgrep", "-af", f"qemu-system.*{short_tmp}"], capture_output=True, text=True
    ).stdout
    assert leftovers == "" and list(short_tmp.iterdir()) == []
