"""Saved boot states: restore instead of boot, never pair a state with anything else."""

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vm_support import minibios_cli

from minibios.agent import AgentMachine, ExecSettings, session
from minibios.agent.protocol import Ready
from minibios.agent.snapshot import Entry, SnapshotCache, cache_key
from minibios.firmware.choice import resolve_firmware
from minibios.sizes import MIB
from minibios.vm.spec import VmSpec

MEMORY = "256M"  # smaller RAM files: quicker hashes, a tmpfs that fills


def settings(snapshots: Path, **options: object) -> ExecSettings:
    return ExecSettings(
        rootfs="initramfs",
        accel="tcg",
        memory=MEMORY,
        snapshot_dir=snapshots,
        **options,  # type: ignore[arg-type]
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def only_entry(snapshots: Path) -> Path:
    entries = SnapshotCache(snapshots).entries()
    assert len(entries) == 1, entries
    return entries[0].path


def no_leftovers(snapshots: Path) -> None:
    """No temp dir of a saver, no held lock, no QEMU using the cache."""
    assert [p.name for p in snapshots.glob(".tmp-*")] == []
    for lock in snapshots.glob(".*.lock"):
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if still held
        finally:
            os.close(fd)
    found = subprocess.run(["pgrep", "-af", f"qemu-system.*{snapshots}"], capture_output=True)
    assert found.stdout == b""


def fake_qemu(where: Path, version: str) -> str:
    """A stand-in that answers --version as QEMU does (the key asks nothing else)."""
    where.mkdir(parents=True, exist_ok=True)
    script = where / "qemu-system-x86_64"
    script.write_text(f"#!/bin/sh\necho 'QEMU emulator version {version}'\n")
    script.chmod(0o755)
    return str(script)


def test_the_key_covers_the_configuration(tmp_path: Path) -> None:
    run = tmp_path / "run"
    qemu = fake_qemu(tmp_path / "bin", "7.2.0 (Debian 1:7.2+dfsg-7)")
    minibios_pc = resolve_firmware("minibios", "pc")
    agent = ("-chardev", f"socket,id=agent,path={run}/agent.sock")

    def spec(**changes: Any) -> VmSpec:
        fields: dict[str, Any] = {
            "qemu": qemu, "memory": 256 * MIB, "firmware": minibios_pc, "extra_args": agent,
        }  # fmt: skip
        return VmSpec(**(fields | changes))

    key, parts = cache_key(spec(), run)
    elsewhere = spec(extra_args=("-chardev", f"socket,id=agent,path={tmp_path}/x/agent.sock"))
    assert cache_key(elsewhere, tmp_path / "x")[0] == key  # the runtime dir is no part
    for changed in (
        spec(memory=512 * MIB),
        spec(cpus=2),
        spec(machine="q35", firmware=resolve_firmware("minibios", "q35"), extra_args=()),
        spec(firmware=None),
        spec(append="quiet"),
        spec(extra_args=(*agent, "-x")),
        spec(qemu=fake_qemu(tmp_path / "other", "8.2.0")),
    ):
        assert cache_key(changed, run)[0] != key, changed
    assert parts["qemu"] == "QEMU emulator version 7.2.0 (Debian 1:7.2+dfsg-7)"


@pytest.mark.boot
def test_restores_share_one_unchanged_ram_file(tmp_path: Path) -> None:
    first = AgentMachine(settings(tmp_path))
    with first:
        assert first.snapshot_state == "restored" and first.timings.save > 0
        assert first.run(["sh", "-c", "echo one"]).stdout == b"one\n"
    entry = only_entry(tmp_path)
    ram_hash = sha256(entry / "ram")
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["ram_sha256"] == ram_hash
    for n in range(3):
        with AgentMachine(settings(tmp_path)) as vm:
            assert (vm.snapshot_state, vm.notes, vm.timings.save) == ("restored", [], 0.0)
            # Each guest dirties its RAM: the file must not see any of it.
            script = f"dd if=/dev/urandom of=/tmp/fill bs=1M count=16 2>/dev/null; echo {n}"
            assert vm.run(["sh", "-c", script]).stdout == f"{n}\n".encode()
    assert only_entry(tmp_path) == entry
    assert sha256(entry / "ram") == ram_hash
    no_leftovers(tmp_path)


def _seal(entry: Path) -> None:
    """Make meta.json match the files again: only QEMU or the guest can notice now."""
    meta = json.loads((entry / "meta.json").read_text())
    for name in ("ram", "state"):
        st = (entry / name).stat()
        meta["files"][name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}
    meta["state_sha256"] = sha256(entry / "state")
    (entry / "meta.json").write_text(json.dumps(meta))


@pytest.mark.boot
def test_corrupted_or_mismatched_states_are_reported_and_rebuilt(tmp_path: Path) -> None:
    with AgentMachine(settings(tmp_path)) as vm:
        assert vm.snapshot_state == "restored"
    entry = only_entry(tmp_path)
    good_state = (entry / "state").read_bytes()

    def run_expecting(reason: str) -> None:
        with AgentMachine(settings(tmp_path)) as again:
            assert again.snapshot_state == "restored"  # the rebuilt state
            assert len(again.notes) == 1 and reason in again.notes[0], again.notes
            assert "cold boot, rebuilding it" in again.notes[0]
            assert again.run(["echo", "fine"]).stdout == b"fine\n"
        assert only_entry(tmp_path).name == entry.name
        no_leftovers(tmp_path)

    # A RAM file written after the save: the cheap check sees it.
    with (entry / "ram").open("r+b") as ram:
        ram.seek(1 * MIB)
        ram.write(b"\xff" * 4096)
    run_expecting("changed since it was saved")
    # A stream QEMU refuses, with a matching record: the load fails.
    entry = only_entry(tmp_path)
    state = entry / "state"
    state.chmod(0o644)
    state.write_bytes(b"QEVM" + bytes(len(good_state) - 4))
    _seal(entry)
    run_expecting("")
    # A stream paired with a RAM file it was not saved with (zeros): the guest cannot answer.
    entry = only_entry(tmp_path)
    (entry / "ram").unlink()
    with (entry / "ram").open("wb") as ram:
        ram.truncate(256 * MIB)
    _seal(entry)
    run_expecting("")


@pytest.fixture
def tiny_tmpfs() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    path = Path(tempfile.mkdtemp(prefix="mbt-full-"))
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(path)])
    if done.returncode != 0:
        path.rmdir()
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
        path.rmdir()


@pytest.mark.boot
def test_a_full_disk_while_saving_leaves_no_entry(tiny_tmpfs: Path) -> None:
    # 24 MiB cannot hold the RAM the guest touches while it boots.
    with AgentMachine(settings(tiny_tmpfs, snapshot="refresh")) as vm:
        assert vm.snapshot_state == "cold boot: saving failed", vm.notes
        assert any("saving a boot state failed" in note for note in vm.notes), vm.notes
        assert vm.run(["echo", "still"]).stdout == b"still\n"
    assert SnapshotCache(tiny_tmpfs).entries() == []
    no_leftovers(tiny_tmpfs)


def _exec(snapshots: Path, tmpdir: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MINIBIOS_SNAPSHOT_DIR": str(snapshots), "TMPDIR": str(tmpdir)}
    return subprocess.Popen(
        [*minibios_cli(), "exec", "--accel", "tcg", "--rootfs", "initramfs",
         "--memory", MEMORY, *args, "--", "echo", "done"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip


def _wait_for(condition: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.boot
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killing_exec_while_saving_leaves_nothing(
    sig: signal.Signals, tmp_path: Path, short_tmp: Path
) -> None:
    snapshots = tmp_path / "snapshots"
    proc = _exec(snapshots, short_tmp)
    try:
        # The saving boot is under way once its temp dir holds the RAM file.
        _wait_for(lambda: any(snapshots.glob(".tmp-*/ram")), 120)
        time.sleep(0.5)
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
    # QEMU dies with its parent (PR_SET_PDEATHSIG) even after SIGKILL.
    _wait_for(lambda: subprocess.run(["pgrep", "-f", str(snapshots)]).returncode != 0, 10)
    assert SnapshotCache(snapshots).entries() == []
    if sig == signal.SIGKILL:  # nobody could clean up: the next saver does
        SnapshotCache(snapshots).gc()
    no_leftovers(snapshots)


@pytest.mark.boot
def test_killing_exec_while_restoring_leaves_nothing(tmp_path: Path, short_tmp: Path) -> None:
    with AgentMachine(settings(tmp_path)):
        pass
    entry = only_entry(tmp_path)
    proc = _exec(tmp_path, short_tmp)
    try:
        # QEMU is up and waiting for (or loading) its state.
        pattern = f"{tmp_path}.*-incoming"
        _wait_for(lambda: subprocess.run(["pgrep", "-f", pattern]).returncode == 0, 60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
    assert only_entry(tmp_path) == entry
    no_leftovers(tmp_path)
    assert list(short_tmp.iterdir()) == []


@pytest.mark.boot
def test_concurrent_misses_build_one_state(tmp_path: Path, short_tmp: Path) -> None:
    procs = [_exec(tmp_path, short_tmp, "--time") for _ in range(2)]
    savers = 0
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert (proc.returncode, out) == (0, b"done\n"), err
        assert b"unusable" not in err, err
        savers += b"save state" in err
    assert savers == 1
    only_entry(tmp_path)
    no_leftovers(tmp_path)


@pytest.mark.boot
def test_restored_guests_get_the_hosts_clock_and_their_own_randomness(tmp_path: Path) -> None:
    with AgentMachine(settings(tmp_path)):
        pass  # saves the state

    def restored() -> list[str]:
        before = time.time()
        with AgentMachine(settings(tmp_path)) as vm:
            assert vm.snapshot_state == "restored"
            script = (
                "cat /proc/sys/kernel/random/entropy_avail; dmesg | grep -c 'crng init done';"
                "date +%s; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'"
            )
            out = vm.run(["sh", "-c", script]).stdout.decode().split()
        after = time.time()
        # The credit shows: a TCG guest gathers next to no entropy (without SEED's
        # credit the pool holds 4 bits when the agent is ready, the CRNG uninitialized);
        # the SEED sent before the save filled the pool (256) and initialized the CRNG,
        # once: a restore does not do it again.
        assert out[:2] == ["256", "1"], out
        assert int(before) <= int(out[2]) <= after + 1, (before, out, after)
        assert len(out[3]) == 64
        return out

    # Right after the save, both start from the saved CRNG key, which 6.1 keeps for
    # seconds yet: they differ because each one's SEED makes it reseed (RNDRESEEDCRNG)
    # from fresh bytes.
    first, second = restored(), restored()
    assert first[3] != second[3]
    time.sleep(2)  # a guest left on the saved clock would now be 2 s behind
    third = restored()
    assert third[3] not in (first[3], second[3])


def test_snapshot_cli_lists_removes_and_collects(tmp_path: Path) -> None:
    env = {**os.environ, "MINIBIOS_SNAPSHOT_DIR": str(tmp_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*minibios_cli(), "snapshot", *args], capture_output=True, text=True, env=env
        )

    entry = tmp_path / "k1"
    entry.mkdir()
    (entry / "ram").write_bytes(b"r" * 4096)
    (entry / "state").write_bytes(b"s")
    meta = {"created": time.time() - 7200, "parts": {"argv": ["qemu", "-M", "q35"]}}
    (entry / "meta.json").write_text(json.dumps(meta))
    dead = tmp_path / ".tmp-999999999-x"  # a saver that died (no such pid)
    dead.mkdir()
    listing = cli("ls")
    assert listing.returncode == 0 and "k1" in listing.stdout and "q35" in listing.stdout
    assert "2h" in listing.stdout, listing.stdout
    assert cli("gc").stdout == "removed .tmp-999999999-x\n"
    assert not dead.exists() and entry.is_dir()
    missing = cli("rm", "nope")
    assert missing.returncode == 1 and "no saved state nope" in missing.stderr
    assert cli("rm", "k1").returncode == 0 and not entry.exists()
    assert cli("ls").stdout.count("\n") == 1  # the header only


class _FakeMachine:
    """Stands in for QEMU in a restore: starts at once, nothing else."""

    def __init__(self, spec: VmSpec) -> None:
        self.started_at: float | None = None

    def start(self) -> None:
        self.started_at = time.monotonic()

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("ready_timeout", "allowed"), [(120.0, 15.0), (3.0, 3.0), (0.5, 0.5)])
def test_a_restore_waits_at_most_the_ready_timeout(
    ready_timeout: float, allowed: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the state and the agent's answer share one deadline: the restore's own
    short one, or the user's --ready-timeout when that is shorter."""
    waits: dict[str, float] = {}
    monkeypatch.setattr(session, "Machine", _FakeMachine)
    monkeypatch.setattr(AgentMachine, "_connect", lambda self: None)
    monkeypatch.setattr(session, "load", lambda m, s, timeout, **_: waits.update(load=timeout))

    def ping(self: AgentMachine, timeout: float = 0.0, also: bytes = b"") -> Ready:
        waits["ping"] = timeout
        return Ready(1, 0, 0)

    def await_done(self: AgentMachine, what: str, deadline: float, frame: bytes = b"") -> None:
        waits["seed"] = deadline - time.monotonic()

    monkeypatch.setattr(AgentMachine, "ping", ping)
    monkeypatch.setattr(AgentMachine, "_await_done", await_done)
    vm = AgentMachine(settings(tmp_path, ready_timeout=ready_timeout))
    vm._restore(VmSpec(memory=256 * MIB), Entry(tmp_path, {}))
    assert allowed - 0.5 < waits["load"] <= allowed
    assert allowed - 0.5 < waits["ping"] <= waits["load"]
    assert allowed - 0.5 < waits["seed"] <= waits["ping"]
    assert session.restore_ready_timeout(ready_timeout) == allowed


def _held(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_rm_and_gc_remove_lock_files_nobody_holds(tmp_path: Path) -> None:
    cache = SnapshotCache(tmp_path)
    (tmp_path / "k1").mkdir()
    (tmp_path / "k1" / "meta.json").write_text("{}")
    with cache.lock("k1"), cache.lock("k2"):
        pass
    lock1, lock2 = tmp_path / ".k1.lock", tmp_path / ".k2.lock"
    assert lock1.exists() and lock2.exists()
    with cache.lock("k1"):  # a saver at work: its lock stays, whoever cleans up
        assert cache.remove("k1") and lock1.exists() and _held(lock1)
        assert cache.gc() == [".k2.lock"] and lock1.exists() and not lock2.exists()
    assert not cache.remove("k1") and not lock1.exists()  # no entry left, nor its lock
    with cache.lock("k3"):
        pass
    assert cache.gc() == [".k3.lock"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_lock_won_on_an_unlinked_file_is_taken_again(tmp_path: Path) -> None:
    """A waiter that wins the flock of a file gc unlinked meanwhile must not go on: the
    next comer would create a new file and hold "the" lock at the same time."""
    cache = SnapshotCache(tmp_path)
    path = tmp_path / ".k.lock"
    with cache.lock("k"):
        pass
    holder = os.open(path, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    inside: list[bool] = []

    def waiter() -> None:
        with cache.lock("k"):
            inside.append(_held(path))  # what it holds is the file at the path

    thread = threading.Thread(target=waiter)
    thread.start()
    _wait_for(lambda: _open_count(path) == 2, 10)  # the holder's fd and the waiter's
    time.sleep(0.1)  # the waiter now sits in flock() on the old file
    path.unlink()  # as gc does, holding the lock
    os.close(holder)
    thread.join(10)
    assert inside == [True] and path.exists()


def _open_count(path: Path) -> int:
    """How many of this process's fds name `path`."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(fd) == str(path)
    return count


@pytest.mark.boot
def test_cli_refresh_rebuilds_the_entry(tmp_path: Path, short_tmp: Path) -> None:
    first = _exec(tmp_path, short_tmp)
    out, err = first.communicate(timeout=600)
    assert (first.returncode, out) == (0, b"done\n"), err
    entry = only_entry(tmp_path)
    before = {name: (entry / name).stat() for name in ("ram", "state")}
    created = json.loads((entry / "meta.json").read_text())["created"]
    again = _exec(tmp_path, short_tmp, "--snapshot", "refresh", "--time")
    out, err = again.communicate(timeout=600)
    assert (again.returncode, out) == (0, b"done\n"), err
    assert b"save state" in err and b"unusable" not in err, err
    assert only_entry(tmp_path) == entry
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["created"] > created
    for name, old in before.items():
        new = (entry / name).stat()
        assert new.st_ino != old.st_ino and new.st_mtime_ns > old.st_mtime_ns, name
    no_leftovers(tmp_path)


@pytest.mark.boot
@pytest.mark.parametrize("machine", ["q35", "microvm"])
def test_restore_on_other_machines(machine: str, tmp_path: Path) -> None:
    script = "echo out; echo err >&2; exit 3"
    for expected_save in (True, False):  # save (and restore what was saved), then restore
        with AgentMachine(settings(tmp_path, machine=machine)) as vm:
            assert vm.snapshot_state == "restored" and vm.notes == [], vm.notes
            assert (vm.timings.save > 0) == expected_save
            result = vm.run(["sh", "-c", script])
            assert (result.stdout, result.stderr, result.returncode) == (b"out\n", b"err\n", 3)
    entry = only_entry(tmp_path)
    argv = json.loads((entry / "meta.json").read_text())["parts"]["argv"]
    assert argv[argv.index("-M") + 1].startswith(machine), argv
    no_leftovers(tmp_path)
