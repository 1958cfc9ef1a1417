"""The Machine context manager: QMP, waiting, cleanup on every way out."""

import logging
import socket
import time
from pathlib import Path

import pytest
from qemu.qmp.legacy import QEMUMonitorProtocol
from qemu.qmp.protocol import ConnectError
from vm_support import BOOT_TIMEOUT, BootImages, image_machine, make_machine, qemu_pids

from minibios.images.report import REPORT_PREFIX
from minibios.vm.console import ConsoleBuffer
from minibios.vm.machine import (
    ConsoleTimeout,
    Machine,
    QemuStartError,
    VmEnd,
    _shutdown_reason_end,
    retried_connects_unlogged,
)


def idle_machine(firmware: str, marker: str, *extra: str) -> Machine:
    # -S keeps the CPU stopped: QEMU runs but no guest code does.
    return make_machine(firmware=firmware, accel="tcg", extra_args=["-S", "-name", marker, *extra])


@pytest.mark.boot
def test_qmp_and_clean_exit(firmware: str, marker: str) -> None:
    with idle_machine(firmware, marker) as vm:
        assert vm.qmp.cmd("query-status")["status"] == "prelaunch"
        assert qemu_pids(marker)
        runtime_dir = vm.runtime_dir
        assert runtime_dir is not None and (runtime_dir / "qmp.sock").exists()
        assert oct(runtime_dir.stat().st_mode & 0o777) == oct(0o700)
    assert vm.end is VmEnd.KILLED
    assert not runtime_dir.exists()
    assert not qemu_pids(marker)


@pytest.mark.boot
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_cleanup_on_exception(firmware: str, marker: str, error: type[BaseException]) -> None:
    with pytest.raises(error), idle_machine(firmware, marker) as vm:
        runtime_dir = vm.runtime_dir
        raise error("boom")
    assert not qemu_pids(marker)
    assert runtime_dir is not None and not runtime_dir.exists()
    assert vm.returncode is not None


@pytest.mark.boot
def test_wait_for_timeout_has_console_tail(firmware: str, marker: str) -> None:
    with idle_machine(firmware, marker) as vm:
        started = time.monotonic()
        with pytest.raises(ConsoleTimeout) as info:
            vm.wait_for("never printed", timeout=0.3)
        assert time.monotonic() - started < 5
        assert isinstance(info.value, TimeoutError)
        assert "never printed" in str(info.value) and "console tail" in str(info.value)


@pytest.mark.boot
def test_wait_exit_timeout_stops_qemu(firmware: str, marker: str) -> None:
    with idle_machine(firmware, marker) as vm:
        assert vm.wait_exit(0.3) is VmEnd.TIMEOUT
        assert not qemu_pids(marker)
    assert vm.end is VmEnd.TIMEOUT


@pytest.mark.boot
def test_qemu_start_failure(firmware: str, marker: str) -> None:
    vm = idle_machine(firmware, marker, "-no-such-option")
    with pytest.raises(QemuStartError) as info:
        vm.start()
    assert "QEMU failed to start" in str(info.value)
    assert "-no-such-option: invalid option" in info.value.stderr
    assert vm.end is VmEnd.START_FAILED
    assert vm.runtime_dir is None
    assert not qemu_pids(marker)


def test_missing_qemu_binary(firmware: str) -> None:
    vm = make_machine(firmware=firmware, accel="tcg", qemu="/nonexistent/qemu-system-x86_64")
    with pytest.raises(QemuStartError, match="cannot run"):
        vm.start()
    assert vm.runtime_dir is None


@pytest.mark.parametrize(
    ("reason", "end"),
    [
        ("guest-shutdown", VmEnd.POWERED_OFF),
        ("guest-reset", VmEnd.RESET),
        ("guest-panic", VmEnd.PANICKED),
        ("host-qmp-quit", VmEnd.KILLED),
        ("host-signal", VmEnd.KILLED),
        ("", None),
    ],
)
def test_shutdown_reasons(reason: str, end: VmEnd | None) -> None:
    assert _shutdown_reason_end(reason) is end


def test_console_buffer_times() -> None:
    buffer = ConsoleBuffer()
    buffer.append("abc\n", 10.0)
    buffer.append("def", 11.0)
    assert buffer.text == "abc\ndef"
    assert buffer.time_at(0) == 10.0 and buffer.time_at(3) == 10.0
    assert buffer.time_at(4) == 11.0 and buffer.time_at(7) is None
    assert buffer.tail(1) == "def"


@pytest.mark.boot
def test_halted_guest_counts_as_powered_off(
    firmware: str, boot_images: BootImages, marker: str
) -> None:
    """microvm without ACPI: the kernel halts and QEMU stays up; we must notice."""
    lines = []
    with image_machine(boot_images, firmware, marker, machine="microvm", microvm_acpi=False) as vm:
        deadline = time.monotonic() + BOOT_TIMEOUT
        for line in vm:
            lines.append(line)
            assert time.monotonic() < deadline
        assert vm.end is VmEnd.POWERED_OFF
        assert vm.duration is not None and vm.duration > 0
    assert any(line.startswith(REPORT_PREFIX) for line in lines)
    assert any("reboot:" in line for line in lines)
    assert not qemu_pids(marker)


def _refused_connect(path: Path) -> None:
    """A QMP connect to a socket that is bound but not listening yet, as QEMU's is
    for a moment after the file appears."""
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))
        with pytest.raises(ConnectError):
            QEMUMonitorProtocol(str(path)).connect()
    path.unlink()


def test_a_retried_qmp_connect_logs_no_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        _refused_connect(tmp_path / "qmp.sock")
        assert any("Failed to establish" in r.getMessage() for r in caplog.records)
        caplog.clear()
        with retried_connects_unlogged():
            _refused_connect(tmp_path / "qmp.sock")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
