"""SnapshotPool: QEMUs started ahead at -incoming defer, handed out restored and seeded."""

import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
from vm_support import minibios_cli

from minibios.agent import ExecInputError, ExecSettings, SnapshotPool


def _settings(snapshots: Path) -> ExecSettings:
    return ExecSettings(rootfs="initramfs", accel="tcg", memory="256M", snapshot_dir=snapshots)


def _qemus(snapshots: Path) -> list[int]:
    found = subprocess.run(["pgrep", "-f", f"qemu-system.*{snapshots}"], capture_output=True)
    return [int(pid) for pid in found.stdout.split()]


def test_a_pool_needs_a_vm_and_a_saved_state_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SnapshotPool(_settings(tmp_path), size=0)
    off = replace(_settings(tmp_path), snapshot="off")
    with pytest.raises(ExecInputError, match="only --snapshot auto"):
        SnapshotPool(off).open()


@pytest.mark.boot
def test_the_pool_hands_out_restored_vms_and_leaves_nothing(tmp_path: Path) -> None:
    with SnapshotPool(_settings(tmp_path), size=2) as pool:  # saves the state first
        waiting = pool.waiting
        assert len(waiting) == 2 == len(_qemus(tmp_path))
        # Loaded, paused: no guest instruction has run in a waiting QEMU.
        assert [vm.machine.qmp.cmd("query-status")["status"] for vm in waiting] == [
            "paused",
            "paused",
        ]
        seen = set()
        for n in range(3):  # the third after a refill
            with pool.take() as vm:
                assert (vm.pooled, vm.snapshot_state, vm.timings.qemu_start) == (
                    True,
                    "restored",
                    0.0,
                )
                script = (
                    f"echo {n}; echo err >&2; cat /proc/sys/kernel/random/entropy_avail; exit 7"
                )
                result = vm.run(["sh", "-c", script])
                assert (result.returncode, result.stderr) == (7, b"err\n")
                assert result.stdout.split() == [str(n).encode(), b"256"]  # seeded
                seen.add(vm.machine.pid)
            if n == 1:
                assert pool.waiting == []
                pool.refill()
        assert len(seen) == 3 and pool.notes == []
        # Waiting QEMUs that died are passed over with a note each; the pool is then
        # empty and the take starts a VM the ordinary way (a restore).
        pool.refill()
        for waiting_vm in pool.waiting:
            assert waiting_vm.machine.pid is not None
            os.kill(waiting_vm.machine.pid, signal.SIGKILL)
        with pool.take() as vm:
            assert not vm.pooled and vm.snapshot_state == "restored"
            assert vm.run(["echo", "ok"]).stdout == b"ok\n"
        assert len(pool.notes) == 2, pool.notes
        assert all("waiting VM failed" in note for note in pool.notes), pool.notes
        pool.refill()
    assert _qemus(tmp_path) == []
    assert [p.name for p in tmp_path.glob(".tmp-*")] == []


@pytest.mark.boot
def test_a_warm_pool_seeds_the_guest_when_it_is_taken(tmp_path: Path) -> None:
    with SnapshotPool(_settings(tmp_path), size=1, warm=["/bin/true"]) as pool:
        # Resumed and warmed up: running, idle, its clock stopped at the saved state's.
        [waiting] = pool.waiting
        assert waiting.machine.qmp.cmd("query-status")["status"] == "running"
        time.sleep(2)  # unseeded, it is seconds behind (stopped from save to resume)
        before = time.time()
        with pool.take() as vm:
            assert vm.pooled and vm.snapshot_state == "restored"
            script = "cat /proc/sys/kernel/random/entropy_avail; date +%s"
            out = vm.run(["sh", "-c", script]).stdout.split()
        after = time.time()
        assert out[0] == b"256" and int(before) <= int(out[1]) <= after + 1, (before, out)
    assert _qemus(tmp_path) == []


@pytest.mark.boot
def test_minibios_pool_serves_exec_and_leaves_nothing(tmp_path: Path, short_tmp: Path) -> None:
    env = {**os.environ, "MINIBIOS_SNAPSHOT_DIR": str(tmp_path), "TMPDIR": str(short_tmp)}
    env.pop("MINIBIOS_POOL", None)
    sock = short_tmp / "pool.sock"
    vm_options = ["--accel", "tcg", "--memory", "256M"]
    server = subprocess.Popen(
        [*minibios_cli(), "pool", "--socket", str(sock), "--warm", *vm_options],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300  # it saves the state first
        while not sock.is_socket():
            assert server.poll() is None and time.monotonic() < deadline, server.stderr
            time.sleep(0.05)

        def exec_cli(*args: str, input: bytes = b"") -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(
                [*minibios_cli(), "exec", *args], input=input, capture_output=True, env=env,
                timeout=300,
            )  # fmt: skip

        for n in range(2):
            script = "echo hi; cat; cat /proc/sys/kernel/random/entropy_avail; exit 3"
            done = exec_cli("--pool", str(sock), "--", "sh", "-c", script, input=f"in{n}".encode())
            assert (done.returncode, done.stdout) == (3, f"hi\nin{n}256\n".encode()), done.stderr
            assert done.stderr == b""
        # Clients at once: one still running (reading its stdin) while another is served.
        first = subprocess.Popen(
            [*minibios_cli(), "exec", "--pool", str(sock), "--", "sh", "-c", "cat; echo first"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            second = exec_cli("--pool", str(sock), "--", "echo", "second")
            assert (second.returncode, second.stdout) == (0, b"second\n"), second.stderr
            assert first.poll() is None
            out, err = first.communicate(b"in\n", timeout=300)
            assert (first.returncode, out, err) == (0, b"in\nfirst\n", b"")
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        # No pool there: an ordinary start (a restore), with a note.
        missing = str(short_tmp / "none.sock")
        done = exec_cli("--pool", missing, "--rootfs", "initramfs", *vm_options, "--", "echo", "x")
        assert (done.returncode, done.stdout) == (0, b"x\n"), done.stderr
        assert b"no pool answers at" in done.stderr
        # Stopped while a client is being served: its VM goes too, and the client hears so.
        hanging = subprocess.Popen(
            [*minibios_cli(), "exec", "--pool", str(sock), "--", "sh", "-c", "echo up; cat"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            assert hanging.stdout is not None and hanging.stdout.readline() == b"up\n"
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 128 + signal.SIGTERM
            hanging.communicate(timeout=60)
            assert hanging.returncode != 0
        finally:
            if hanging.poll() is None:
                hanging.kill()
                hanging.wait()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert not sock.exists() and _qemus(tmp_path) == []
