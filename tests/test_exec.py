"""`minibios exec` and the agent API: commands in real VMs (TCG), output and status back."""

import hashlib
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vm_support import check_host_root_guest, minibios_cli, popen_cli, read_until

import minibios
from minibios.agent import (
    AgentMachine,
    CommandTimeout,
    ExecError,
    ExecSettings,
    ShareSpec,
    VmDied,
)
from minibios.agent.virtiofsd import virtiofs_blocker
from minibios.sizes import MIB

pytestmark = pytest.mark.boot
EXEC_TIMEOUT = 300.0  # a whole `minibios exec` on a loaded 2-core TCG host
INITRAMFS_EXEC = ("exec", "--accel", "tcg", "--rootfs", "initramfs")


def exec_cli(
    *args: str, tmpdir: Path, input: bytes = b"", timeout: float = EXEC_TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.run(
        [*minibios_cli(), "exec", "--accel", "tcg", *args],
        input=input,
        capture_output=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def leftovers(tmpdir: Path) -> list[str]:
    """QEMU or virtiofsd processes, or files, that a run under TMPDIR=tmpdir left behind."""
    found = subprocess.run(
        ["pgrep", "-af", f"(qemu-system|virtiofsd).*{tmpdir}"], capture_output=True, text=True
    ).stdout.splitlines()
    return found + [str(p) for p in tmpdir.iterdir()]


@pytest.fixture(scope="module", params=["off", "auto"], ids=lambda m: f"snapshot-{m}")
def vm(request: pytest.FixtureRequest) -> Iterator[AgentMachine]:
    """One VM for the API checks: vm.run many times, each with its own status; booted,
    and restored from a saved state (the results must be the same)."""
    settings = ExecSettings(rootfs="initramfs", accel="tcg", snapshot=request.param)
    with AgentMachine(settings) as machine:
        assert machine.snapshot_state == ("off" if request.param == "off" else "restored")
        yield machine
    assert machine.runtime_dir is None


def test_exit_statuses(vm: AgentMachine) -> None:
    assert vm.run(["true"]).returncode == 0
    assert vm.run(["false"]).returncode == 1
    assert vm.run(["sh", "-c", "exit 42"]).returncode == 42
    missing = vm.run(["no-such-command", "x"])
    assert missing.returncode == 127
    assert b"no-such-command" in missing.stderr
    killed = vm.run(["sh", "-c", "kill -USR1 $$"])
    assert (killed.returncode, killed.shell_status) == (-signal.SIGUSR1, 128 + signal.SIGUSR1)


def test_commands_that_cannot_start_say_why(vm: AgentMachine) -> None:
    """The agent's own exec: a shell's exit codes, and the reason on the command's stderr."""
    script = "printf 'echo ran $1' > /tmp/noshebang; chmod +x /tmp/noshebang"
    assert vm.run(["sh", "-c", script]).returncode == 0
    # A file that is no program and has no #! line runs with /bin/sh, as execvp does.
    assert vm.run(["/tmp/noshebang", "it"]).stdout == b"ran it\n"
    # Searched along the command's own PATH, empty entries meaning the working directory.
    assert vm.run(["noshebang"], env={"PATH": "/nowhere::/tmp"}, cwd="/tmp").stdout == b"ran\n"
    assert vm.run(["noshebang"], env={"PATH": "/nowhere:/tmp"}).stdout == b"ran\n"
    assert vm.run(["chmod", "-x", "/tmp/noshebang"]).returncode == 0
    denied = vm.run(["/tmp/noshebang"])
    assert denied.returncode == 126
    assert denied.stderr == b"minibios: /tmp/noshebang: Permission denied\n"
    searched = vm.run(["noshebang"], env={"PATH": "/nowhere:/tmp"})
    assert (searched.returncode, searched.stderr) == (
        126,
        b"minibios: noshebang: Permission denied\n",
    )
    nowhere = vm.run(["pwd"], cwd="/no/such/dir")
    assert (nowhere.returncode, nowhere.stdout) == (126, b"")
    assert nowhere.stderr == b"minibios: cd /no/such/dir: No such file or directory\n"
    assert vm.run(["pwd"], cwd="/proc").stdout == b"/proc\n"


def test_a_process_killing_everything_leaves_the_agent_serving(vm: AgentMachine) -> None:
    # kill -1 reaches every process but init (the agent) and the caller: here also the
    # process the agent keeps ready for the next command, which is lost and replaced.
    script = (
        "setsid sh -c 'echo > /tmp/left; sleep 0.5; kill -9 -1; echo > /tmp/killed'"
        " </dev/null >/dev/null 2>&1 & until [ -e /tmp/left ]; do sleep 0.1; done"
    )  # waits until the killer has left this command's process group, killed at its end
    assert vm.run(["sh", "-c", script]).returncode == 0
    deadline = time.monotonic() + 30
    while vm.run(["cat", "/tmp/killed"]).returncode != 0:  # killed itself, or not yet
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert vm.run(["echo", "next"]).stdout == b"next\n"
    assert vm.run(["sh", "-c", "exit 3"]).returncode == 3


def test_stdout_and_stderr_kept_apart(vm: AgentMachine) -> None:
    result = vm.run(["sh", "-c", "echo one; echo two >&2; printf 'a\\r\\nb'; echo three >&2"])
    assert result.stdout == b"one\na\r\nb"
    assert result.stderr == b"two\nthree\n"


def test_ping_between_commands(vm: AgentMachine) -> None:
    assert vm.ready is not None
    first = vm.ping()
    assert vm.run(["sleep", "0.2"]).returncode == 0
    second = vm.ping()
    assert first.init_ns == second.init_ns == vm.ready.init_ns
    assert vm.ready.ready_ns < first.ready_ns < second.ready_ns - 200_000_000


def test_state_persists_between_runs(vm: AgentMachine) -> None:
    assert vm.run(["sh", "-c", "echo kept > /tmp/state"]).returncode == 0
    assert vm.run(["cat", "/tmp/state"]).stdout == b"kept\n"


def test_env_and_workdir(vm: AgentMachine) -> None:
    result = vm.run(["sh", "-c", 'echo "$GREETING"; pwd'], env={"GREETING": "hi"}, cwd="/proc")
    assert result.stdout == b"hi\n/proc\n"


def test_binary_data_through_stdin_stdout_and_stderr(vm: AgentMachine) -> None:
    data = random.Random(11).randbytes(10 * MIB)
    result = vm.run(
        ["sh", "-c", "cat > /tmp/blob && cat /tmp/blob && cat /tmp/blob >&2; rm /tmp/blob"],
        input=data,
        timeout=EXEC_TIMEOUT,
    )
    assert result.returncode == 0
    want = hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(result.stdout).hexdigest() == want
    assert hashlib.sha256(result.stderr).hexdigest() == want


def test_stdin_echoed_with_end_of_file(vm: AgentMachine) -> None:
    data = random.Random(12).randbytes(MIB)
    result = vm.run(["cat"], input=data, timeout=EXEC_TIMEOUT)
    assert (result.returncode, result.stdout == data) == (0, True)
    assert vm.run(["cat"]).stdout == b""  # no input: end of file at once
    # Input the command never reads is dropped, and the next command is unaffected.
    assert vm.run(["true"], input=data * 4).returncode == 0
    assert vm.run(["cat"], input=b"next").stdout == b"next"


def test_timeout_kills_the_command_and_keeps_the_vm(vm: AgentMachine) -> None:
    began = time.monotonic()
    with pytest.raises(CommandTimeout) as caught:
        vm.run(["sh", "-c", "echo before; sleep 1000"], timeout=3)
    assert 3 <= time.monotonic() - began < 30
    assert caught.value.stdout == b"before\n"
    assert vm.run(["echo", "after"]).stdout == b"after\n"


@pytest.mark.parametrize("snapshot", ["off", "auto"])
def test_cli_streams_exit_status_and_no_console(snapshot: str, short_tmp: Path) -> None:
    result = exec_cli(
        "--rootfs", "initramfs", "--time", "--snapshot", snapshot, "--",
        "sh", "-c", "echo out; echo err >&2; cat; kill -USR1 $$",
        tmpdir=short_tmp, input=b"in\n",
    )  # fmt: skip
    assert result.returncode == 128 + signal.SIGUSR1, result.stderr
    assert result.stdout == b"out\nin\n"
    err_lines = result.stderr.decode().splitlines()
    assert err_lines[0] == "err"
    assert err_lines[1].startswith("minibios: time: prepare")
    assert len(err_lines) == 2, err_lines  # no kernel message, no agent line
    assert leftovers(short_tmp) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_streams_then_stops_on_a_signal(sig: signal.Signals, short_tmp: Path) -> None:
    command = ("sh", "-c", "echo first; sleep 1000; echo never")
    proc = popen_cli(*INITRAMFS_EXEC, "--", *command, tmpdir=short_tmp)
    try:
        # The first line arrives while the command still runs: it streams.
        read_until(proc.stdout, b"first\n", EXEC_TIMEOUT)
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(sig)
        status = proc.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert status == 128 + sig
    assert took < 1.5, f"stopping took {took:.2f} s"
    assert leftovers(short_tmp) == []


def test_cli_timeout(short_tmp: Path) -> None:
    result = exec_cli(
        "--rootfs", "initramfs", "--timeout", "2", "--", "sleep", "1000", tmpdir=short_tmp
    )
    assert result.returncode == 124, result.stderr
    assert b"did not finish within 2 s" in result.stderr
    assert leftovers(short_tmp) == []


def test_four_execs_at_once(short_tmp: Path) -> None:
    procs = [
        popen_cli(*INITRAMFS_EXEC, "--", "sh", "-c", f"echo vm{n}; exit {n + 10}", tmpdir=short_tmp)
        for n in range(4)
    ]
    for n, proc in enumerate(procs):
        out, err = proc.communicate(timeout=EXEC_TIMEOUT * 2)
        assert (proc.returncode, out) == (n + 10, f"vm{n}\n".encode()), err
    assert leftovers(short_tmp) == []


@pytest.fixture(scope="module")
def host_vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentMachine, Path, Path]]:
    """A VM whose root is the host's (virtiofs + overlay), with a rw and a ro share."""
    blocker = virtiofs_blocker()
    if blocker:
        pytest.skip(f"virtiofs cannot work here: {blocker}")
    rw = tmp_path_factory.mktemp("share-rw")
    ro = tmp_path_factory.mktemp("share-ro")
    (rw / "from-host").write_text("host says hi\n")
    (ro / "locked").write_text("read me\n")
    shares = (ShareSpec.parse(f"{rw}:/mnt/rw"), ShareSpec.parse(f"{ro}:ro"))
    with AgentMachine(ExecSettings(rootfs="host", accel="tcg", shares=shares)) as machine:
        yield machine, rw, ro
        runtime_dir = machine.runtime_dir
    assert runtime_dir is not None and not runtime_dir.exists()
    assert leftovers_of(runtime_dir) == []


def leftovers_of(runtime_dir: Path) -> list[str]:
    found = subprocess.run(
        ["pgrep", "-af", f"(qemu-system|virtiofsd).*{runtime_dir}"], capture_output=True, text=True
    )
    return found.stdout.splitlines()


def test_host_binary_runs_on_the_host_root(host_vm: tuple[AgentMachine, Path, Path]) -> None:
    check_host_root_guest(host_vm[0])


def test_host_tmp_is_the_guests(
    host_vm: tuple[AgentMachine, Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A directory under the host's /tmp (not shared) is there in the guest, e.g. as the
    working directory (CI checks out under /tmp), and writes to it stay in the guest."""
    vm, _, _ = host_vm
    here = tmp_path_factory.mktemp("cwd-under-tmp")
    (here / "seen").write_text("from the host\n")
    result = vm.run(["sh", "-c", "pwd; cat seen; echo guest > written"], cwd=str(here))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == [str(here), "from the host"]
    assert not (here / "written").exists()


def test_share_read_write_round_trip(host_vm: tuple[AgentMachine, Path, Path]) -> None:
    vm, rw, _ = host_vm
    result = vm.run(["sh", "-c", "cat /mnt/rw/from-host; echo guest wrote > /mnt/rw/from-guest"])
    assert (result.returncode, result.stdout) == (0, b"host says hi\n"), result.stderr
    assert (rw / "from-guest").read_text() == "guest wrote\n"


def test_read_only_share_refuses_writes(host_vm: tuple[AgentMachine, Path, Path]) -> None:
    vm, _, ro = host_vm
    assert vm.run(["cat", f"{ro}/locked"]).stdout == b"read me\n"
    assert vm.run(["sh", "-c", f"echo x > {ro}/new"]).returncode != 0
    # Even guest root remounting it read-write cannot write: the host enforces it.
    script = f"mount -o remount,rw {ro} && grep -c ' {ro} .* rw,' /proc/mounts; echo x > {ro}/new2"
    result = vm.run(["sh", "-c", script])
    assert result.stdout == b"1\n", result.stderr  # the guest's view is read-write now
    assert result.returncode != 0
    assert sorted(p.name for p in ro.iterdir()) == ["locked"]


@pytest.mark.parametrize("machine", ["q35", "microvm"])
def test_other_machines(machine: str, tmp_path: Path) -> None:
    """virtio-pci on q35, virtio-mmio (found through the DSDT) on microvm: channel and share."""
    blocker = virtiofs_blocker()
    if blocker:
        pytest.skip(f"virtiofs cannot work here: {blocker}")
    settings = ExecSettings(
        machine=machine, accel="tcg", rootfs="host", shares=(ShareSpec.parse(f"{tmp_path}"),)
    )
    script = f"echo {machine} > {tmp_path}/out; cat; echo err >&2; exit 7"
    with AgentMachine(settings) as vm:
        result = vm.run(["sh", "-c", script], input=b"stdin\n")
    assert (result.returncode, result.stdout, result.stderr) == (7, b"stdin\n", b"err\n")
    assert (tmp_path / "out").read_text() == f"{machine}\n"


def test_one_shot_api_with_timings() -> None:
    """Through the package's facade, as a user calls it (the same as minibios.agent.exec)."""
    result = minibios.exec(
        ["sh", "-c", "echo hi; exit 3"], rootfs="initramfs", accel="tcg", snapshot="off"
    )
    assert (result.returncode, result.stdout, result.stderr) == (3, b"hi\n", b"")
    phases = dict(result.timings.phases())
    names = ["prepare", "QEMU start", "firmware+early kernel", "kernel", "agent ready", "command"]
    assert list(phases) == names
    assert all(value >= 0 for value in phases.values()), phases
    assert phases["kernel"] > 0 and phases["command"] > 0, phases


def test_cli_launcher_failures_have_their_own_codes(short_tmp: Path) -> None:
    not_ready = exec_cli("--rootfs", "initramfs", "--snapshot", "off", "--ready-timeout", "0.5",
                         "--", "true", tmpdir=short_tmp)  # fmt: skip
    assert not_ready.returncode == 123, not_ready.stderr
    assert b"not ready within 0.5 s" in not_ready.stderr
    no_qemu = exec_cli("--rootfs", "initramfs", "--qemu", "/bin/false", "--", "true",
                       tmpdir=short_tmp)  # fmt: skip
    assert no_qemu.returncode == 125, no_qemu.stderr
    assert no_qemu.stderr.decode().startswith("minibios: error: QEMU failed to start")
    usage = exec_cli("--rootfs", "initramfs", tmpdir=short_tmp)
    assert (usage.returncode, b"no command" in usage.stderr) == (2, True)
    assert leftovers(short_tmp) == []


def test_a_run_that_fails_half_way_leaves_the_vm_closable_only() -> None:
    with AgentMachine(ExecSettings(rootfs="initramfs", accel="tcg")) as vm:

        def interrupt(data: bytes) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            vm.run(["sh", "-c", "echo x; sleep 5"], on_stdout=interrupt)
        with pytest.raises(ExecError, match="can only be closed"):
            vm.run(["true"])


def test_a_dead_virtiofsd_ends_the_command_with_a_reason(tmp_path: Path) -> None:
    blocker = virtiofs_blocker()
    if blocker:
        pytest.skip(f"virtiofs cannot work here: {blocker}")
    shares = (ShareSpec.parse(f"{tmp_path}"),)
    with AgentMachine(ExecSettings(accel="tcg", rootfs="initramfs", shares=shares)) as vm:
        (pid,) = vm.virtiofsd_pids
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(VmDied, match=r"virtiofsd for .* exited"):
            vm.run(["ls", str(tmp_path)], timeout=EXEC_TIMEOUT)
        runtime_dir = vm.runtime_dir
    assert runtime_dir is not None and leftovers_of(runtime_dir) == []
