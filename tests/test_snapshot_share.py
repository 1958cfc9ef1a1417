"""Saved boot states with shared host directories: virtiofs hot-plugged after a restore.

Each check runs with `--snapshot off` (a cold boot with the devices) and `auto` (the
second VM restores a state saved without them) and expects the same results.
"""

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from vm_support import check_host_root_guest, minibios_cli

from minibios.agent import AgentMachine, ExecSettings, ShareSpec
from minibios.agent.snapshot import SnapshotCache
from minibios.agent.snapshot_share import RamCopy, hotplug_blocker
from minibios.agent.virtiofsd import virtiofs_blocker
from minibios.sizes import MIB

MEMORY = "256M"
EXEC_TIMEOUT = 300.0


def needs_virtiofs() -> None:
    blocker = virtiofs_blocker()
    if blocker:
        pytest.skip(f"virtiofs cannot work here: {blocker}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def running(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True)
    return found.stdout.splitlines()


def gone(vm: AgentMachine, runtime_dir: Path | None) -> None:
    """No QEMU, no virtiofsd, no temp dir left by `vm`."""
    assert runtime_dir is not None and not runtime_dir.exists()
    assert vm.runtime_dir is None
    assert running(f"(qemu-system|virtiofsd).*{runtime_dir}") == []


@dataclass(frozen=True)
class Dirs:
    rw: Path
    ro: Path
    snapshots: Path


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (rw / "from-host").write_text("host says hi\n")
    (ro / "locked").write_text("read me\n")
    return Dirs(rw, ro, tmp_path / "snapshots")


def host_settings(d: Dirs, snapshot: str, machine: str = "pc") -> ExecSettings:
    shares = (ShareSpec.parse(f"{d.rw}:/mnt/rw"), ShareSpec.parse(f"{d.ro}:ro"))
    return ExecSettings(
        machine=machine,
        rootfs="host",
        accel="tcg",
        memory=MEMORY,
        shares=shares,
        snapshot=snapshot,
        snapshot_dir=d.snapshots,
    )


@pytest.fixture(params=["off", "auto"], ids=lambda m: f"snapshot-{m}")
def host_vm(request: pytest.FixtureRequest, dirs: Dirs) -> Iterator[tuple[AgentMachine, Dirs]]:
    """The host's root with a rw and a ro share; in `auto` the second VM of the state."""
    needs_virtiofs()
    mode = request.param
    if mode == "auto":
        with AgentMachine(host_settings(dirs, mode)) as first:  # builds the state
            assert first.snapshot_state == "restored" and first.timings.save > 0
            assert first.run(["true"]).returncode == 0
    vm = AgentMachine(host_settings(dirs, mode))
    with vm:
        runtime_dir = vm.runtime_dir
        expected = "off" if mode == "off" else "restored"
        assert (vm.snapshot_state, vm.notes, vm.timings.save) == (expected, [], 0.0)
        yield vm, dirs
    gone(vm, runtime_dir)


@pytest.mark.boot
def test_host_binary_runs_on_the_host_root(host_vm: tuple[AgentMachine, Dirs]) -> None:
    check_host_root_guest(host_vm[0], timeout=EXEC_TIMEOUT)


@pytest.mark.boot
def test_share_read_write_round_trip(host_vm: tuple[AgentMachine, Dirs]) -> None:
    vm, d = host_vm
    result = vm.run(["sh", "-c", "cat /mnt/rw/from-host; echo guest wrote > /mnt/rw/from-guest"])
    assert (result.returncode, result.stdout) == (0, b"host says hi\n"), result.stderr
    assert (d.rw / "from-guest").read_text() == "guest wrote\n"


@pytest.mark.boot
def test_read_only_share_refuses_writes(host_vm: tuple[AgentMachine, Dirs]) -> None:
    vm, d = host_vm
    assert vm.run(["cat", f"{d.ro}/locked"]).stdout == b"read me\n"
    assert vm.run(["sh", "-c", f"echo x > {d.ro}/new"]).returncode != 0
    script = f"mount -o remount,rw {d.ro} && echo x > {d.ro}/new2"
    assert vm.run(["sh", "-c", script]).returncode != 0  # the host enforces it
    assert sorted(p.name for p in d.ro.iterdir()) == ["locked"]


@pytest.mark.boot
@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_one_state_serves_every_share_and_stays_unchanged(machine: str, tmp_path: Path) -> None:
    """The state holds no share: runs with other directories (and the initramfs root)
    restore the same entry, each sees its own share, and the RAM file never changes
    (virtiofsd maps a copy of it, never the file)."""
    needs_virtiofs()
    snapshots = tmp_path / "snapshots"
    outputs = []
    ram_hash = ""
    for n in range(3):
        share = tmp_path / f"share{n}"
        share.mkdir()
        (share / "name").write_text(f"share {n}\n")
        settings = ExecSettings(
            machine=machine,
            rootfs="initramfs",
            accel="tcg",
            memory=MEMORY,
            shares=(ShareSpec.parse(f"{share}:/mnt/s"),),
            snapshot_dir=snapshots,
        )
        vm = AgentMachine(settings)
        with vm:
            runtime_dir = vm.runtime_dir
            assert vm.snapshot_state == "restored", vm.notes
            assert (vm.timings.save > 0) == (n == 0)
            result = vm.run(["sh", "-c", "cat /mnt/s/name; echo out > /mnt/s/back"])
            outputs.append(result.stdout)
        gone(vm, runtime_dir)
        assert (share / "back").read_text() == "out\n"
        (entry,) = SnapshotCache(snapshots).entries()
        if n == 0:
            ram_hash = sha256(entry.ram)
        assert sha256(entry.ram) == ram_hash
        assert entry.meta.get("ram_sha256") == ram_hash
    assert outputs == [f"share {n}\n".encode() for n in range(3)]


@pytest.mark.boot
def test_cli_restores_with_rootfs_host_and_share(tmp_path: Path, short_tmp: Path) -> None:
    """`minibios exec` (--rootfs host is the default): the second run restores (--time
    shows no kernel boot) and prints what a cold boot prints."""
    needs_virtiofs()
    share = tmp_path / "share"
    share.mkdir()
    (share / "in").write_text("from the host\n")
    env = {**os.environ, "TMPDIR": str(short_tmp), "MINIBIOS_SNAPSHOT_DIR": str(tmp_path / "s")}
    command = ["sh", "-c", f"cat {share}/in; {sys.executable} -c 'print(6 * 7)'; exit 3"]

    def run(mode: str) -> subprocess.CompletedProcess[bytes]:
        argv = [*minibios_cli(), "exec", "--accel", "tcg", "--memory", MEMORY, "--time"]
        argv += ["--share", str(share), "--snapshot", mode, "--", *command]
        return subprocess.run(argv, capture_output=True, env=env, timeout=EXEC_TIMEOUT)

    runs = {"off": run("off"), "auto": run("auto"), "restored": run("auto")}
    for name, done in runs.items():
        assert (done.returncode, done.stdout) == (3, b"from the host\n42\n"), (name, done.stderr)
    assert "save state" in runs["auto"].stderr.decode()
    restored = runs["restored"].stderr.decode()
    assert " kernel 0 ms" in restored and "save state" not in restored, restored
    assert " kernel 0 ms" not in runs["off"].stderr.decode()
    assert running(f"(qemu-system|virtiofsd).*{short_tmp}") == []
    assert list(short_tmp.iterdir()) == []


def test_microvm_and_too_many_q35_devices_cold_boot_with_a_reason() -> None:
    assert hotplug_blocker("pc", 20) is None
    assert hotplug_blocker("q35", 4) is None
    assert "hot-plug" in (hotplug_blocker("microvm", 1) or "")
    assert "ports" in (hotplug_blocker("q35", 5) or "")


def test_ram_copy_holds_the_files_data_at_its_offsets(tmp_path: Path) -> None:
    ram = tmp_path / "ram"
    size = 64 * MIB
    pieces = {0: b"first page", 5 * MIB + 123: os.urandom(3 * MIB), size - 7: b"the end"}
    with ram.open("wb") as file:
        file.truncate(size)
        for offset, data in pieces.items():
            file.seek(offset)
            file.write(data)
    copy = RamCopy(ram, size)
    try:
        assert os.fstat(copy.fd).st_size == size
        with open(copy.path, "rb") as mapped:  # the path QEMU opens
            assert mapped.read() == ram.read_bytes()
    finally:
        copy.close()
    assert copy.fd == -1


@pytest.mark.boot
def test_a_failed_hot_plug_falls_back_to_a_cold_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore that fails after QEMU talked to virtiofsd (which then exits): the cold
    boot gets fresh daemons and the share still works."""
    needs_virtiofs()
    import minibios.agent.session as session
    from minibios.agent.snapshot import SnapshotError

    real = session.hotplug_fs

    def plug_then_fail(*args: object) -> None:
        real(*args)  # type: ignore[arg-type]
        raise SnapshotError("refused for the test")

    monkeypatch.setattr(session, "hotplug_fs", plug_then_fail)
    share = tmp_path / "share"
    share.mkdir()
    settings = ExecSettings(
        rootfs="initramfs",
        accel="tcg",
        memory=MEMORY,
        shares=(ShareSpec.parse(f"{share}:/mnt/s"),),
        snapshot_dir=tmp_path / "snapshots",
    )
    vm = AgentMachine(settings)
    with vm:
        runtime_dir = vm.runtime_dir
        assert vm.snapshot_state == "cold boot: the new saved state did not restore"
        assert "refused for the test" in vm.notes[0] and "cold boot" in vm.notes[0]
        result = vm.run(["sh", "-c", "echo cold > /mnt/s/out"])
        assert result.returncode == 0, result.stderr
    gone(vm, runtime_dir)
    assert (share / "out").read_text() == "cold\n"
