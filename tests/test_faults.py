"""Faults: QEMU killed or frozen mid-boot, a guest that never powers off, a kernel that
panics, a guest that resets.

Each run must end promptly with an outcome that says what happened, through the
Python API and through the CLI, and leave no QEMU process, QMP socket or temporary
directory behind. TMPDIR is a fresh directory per test, so "nothing left" is exact.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from vm_support import (
    BOOT_APPEND,
    BOOT_TIMEOUT,
    BootImages,
    image_machine,
    minibios_cli,
    qemu_pids,
    read_until,
    run_args,
    run_cli,
)

from minibios.images.init_script import HOLD_FLAG
from minibios.images.report import REPORT_RE
from minibios.vm.machine import HALT_GRACE, PANIC_RE, QMP_COMMAND_TIMEOUT, Machine, VmEnd
from minibios.vm.runtime_dir import RUNTIME_DIR_PREFIX

pytestmark = pytest.mark.boot

# Not "quiet": the kernel's early messages show that it is booting.
VERBOSE_APPEND = "console=ttyS0 panic=-1"
MID_BOOT = "Linux version"
# The kernel finds no /nonexistent in the initramfs, then no root device, and panics.
NO_INIT = "rdinit=/nonexistent"
# busybox's `reboot -f` as PID 1 (arguments after `--` go to init): a plain guest reset.
REBOOT_INIT = "rdinit=/sbin/reboot -- -f"
# Once the guest (or QEMU) is gone, the launcher must say so within this.
PROMPT = 5.0
HOLD_TIMEOUT = 2.0
STOP_GRACE = 3.0
# The CLI cannot wait for the report before its timeout starts: leave room for a
# slow boot on a loaded host, then check the report did come first.
CLI_HOLD_TIMEOUT = 25.0
CLI_START_SLACK = 15.0


@pytest.fixture
def private_tmp(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """short_tmp as this process's temp dir, for Machine's private directory."""
    monkeypatch.setattr(tempfile, "tempdir", str(short_tmp))
    yield short_tmp


def assert_nothing_left(marker: str, tmpdir: Path) -> None:
    assert not qemu_pids(marker), "QEMU still running"
    assert sorted(p.name for p in tmpdir.iterdir()) == [], "temporary files left behind"


def machine(images: BootImages, firmware: str, marker: str, append: str) -> Machine:
    return image_machine(images, firmware, marker, append=append, memory="256M",
                         stop_grace=STOP_GRACE)  # fmt: skip


# -- the Python API ----------------------------------------------------------------


def test_qemu_killed_mid_boot(
    firmware: str, boot_images: BootImages, marker: str, private_tmp: Path
) -> None:
    with machine(boot_images, firmware, marker, VERBOSE_APPEND) as vm:
        vm.wait_for(MID_BOOT, BOOT_TIMEOUT)
        runtime_dir = vm.runtime_dir
        assert runtime_dir is not None and (runtime_dir / "qmp.sock").exists()
        assert vm.pid is not None
        os.kill(vm.pid, signal.SIGKILL)
        started = time.monotonic()
        end = vm.wait_exit(BOOT_TIMEOUT)
        assert time.monotonic() - started < PROMPT
        assert end is VmEnd.KILLED
        assert vm.returncode == -signal.SIGKILL
    assert not runtime_dir.exists()
    assert_nothing_left(marker, private_tmp)


def test_qemu_frozen_mid_boot_is_stopped_at_the_timeout(
    firmware: str, boot_images: BootImages, marker: str, private_tmp: Path
) -> None:
    """A QEMU that answers nothing (SIGSTOP) is still gone soon after the timeout."""
    with machine(boot_images, firmware, marker, VERBOSE_APPEND) as vm:
        vm.wait_for(MID_BOOT, BOOT_TIMEOUT)
        assert vm.pid is not None
        os.kill(vm.pid, signal.SIGSTOP)
        started = time.monotonic()
        end = vm.wait_exit(HOLD_TIMEOUT)
        elapsed = time.monotonic() - started
        assert end is VmEnd.TIMEOUT
        assert not qemu_pids(marker)
    # The QMP quit goes unanswered, QEMU gets its grace, then SIGTERM (with SIGCONT,
    # else it never sees it) ends it; a second grace before SIGKILL would exceed this.
    assert elapsed < HOLD_TIMEOUT + QMP_COMMAND_TIMEOUT + STOP_GRACE + 2.5
    assert_nothing_left(marker, private_tmp)


def test_guest_that_never_powers_off_times_out(
    firmware: str, boot_images: BootImages, marker: str, private_tmp: Path
) -> None:
    with machine(boot_images, firmware, marker, f"{BOOT_APPEND} {HOLD_FLAG}") as vm:
        vm.wait_for(REPORT_RE, BOOT_TIMEOUT)  # /init is now sleeping forever
        started = time.monotonic()
        end = vm.wait_exit(HOLD_TIMEOUT)
        elapsed = time.monotonic() - started
        assert end is VmEnd.TIMEOUT
        assert not qemu_pids(marker)  # wait_exit itself stopped QEMU
    assert HOLD_TIMEOUT <= elapsed < HOLD_TIMEOUT + PROMPT
    assert_nothing_left(marker, private_tmp)


@pytest.mark.parametrize(
    "panic",
    [
        "panic=-1",  # the kernel resets at once and QEMU (-no-reboot) exits
        "panic=0",  # the kernel spins forever: only the console tells
    ],
)
def test_kernel_panic(
    firmware: str, boot_images: BootImages, marker: str, private_tmp: Path, panic: str
) -> None:
    with machine(boot_images, firmware, marker, f"console=ttyS0 {NO_INIT} {panic}") as vm:
        end = vm.wait_exit(BOOT_TIMEOUT)
        returned = time.monotonic()
        assert end is VmEnd.PANICKED, vm.console[-2000:]
        match = PANIC_RE.search(vm.console)
        assert match is not None
        panicked_after = vm.elapsed_at(match.start())
        assert panicked_after is not None and vm.started_at is not None
        assert returned - (vm.started_at + panicked_after) < HALT_GRACE + PROMPT
    assert_nothing_left(marker, private_tmp)


def test_guest_reset(
    firmware: str, boot_images: BootImages, marker: str, private_tmp: Path
) -> None:
    with machine(boot_images, firmware, marker, f"console=ttyS0 {REBOOT_INIT}") as vm:
        end = vm.wait_exit(BOOT_TIMEOUT)
        assert end is VmEnd.RESET, vm.console[-2000:]
        assert "reboot: Restarting system" in vm.console
    assert_nothing_left(marker, private_tmp)


@pytest.mark.parametrize(
    ("machine_type", "acpi"), [("pc", True), ("microvm", False)], ids=["powers-off", "halts"]
)
def test_firmware_error(
    firmware: str,
    boot_images: BootImages,
    marker: str,
    private_tmp: Path,
    machine_type: str,
    acpi: bool,
) -> None:
    """Too little RAM for the kernel (the Python API does not preflight): the firmware
    says so and powers off, or, on microvm without ACPI, halts; either way no kernel ran,
    and that is not a clean power-off."""
    with image_machine(boot_images, firmware, marker, initrd=None, machine=machine_type,
                       microvm_acpi=acpi, memory="40M", stop_grace=STOP_GRACE) as vm:  # fmt: skip
        end = vm.wait_exit(PROMPT + HALT_GRACE)
        assert end is VmEnd.FIRMWARE_ERROR, vm.console[-2000:]
        assert vm.console.startswith("minibios: error: kernel does not fit in RAM")
    assert_nothing_left(marker, private_tmp)


# -- the CLI: the same faults, told apart by the exit status ------------------------


def cli_args(
    images: BootImages, firmware: str, marker: str, append: str, timeout: float
) -> list[str]:
    options = ("--append", append, "--memory", "256M", "--timeout", f"{timeout:g}")
    return run_args(images.kernel.vmlinuz, firmware, marker, *options, initrd=images.plain_initrd)


def test_cli_qemu_killed_mid_boot(
    firmware: str, boot_images: BootImages, marker: str, short_tmp: Path
) -> None:
    args = cli_args(boot_images, firmware, marker, VERBOSE_APPEND, BOOT_TIMEOUT)
    cli = subprocess.Popen(
        [*minibios_cli(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(short_tmp)},
    )
    try:
        head = read_until(cli.stdout, MID_BOOT.encode(), BOOT_TIMEOUT)
        (pid,) = qemu_pids(marker)
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        rest, stderr = cli.communicate(timeout=BOOT_TIMEOUT)
        elapsed = time.monotonic() - started
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    stdout = (head + rest).decode(errors="replace")
    assert cli.returncode == 1, stdout + stderr.decode(errors="replace")
    assert "minibios: guest killed" in stdout
    assert elapsed < PROMPT
    assert_nothing_left(marker, short_tmp)


def test_cli_killed_outright_leaves_nothing_for_long(
    firmware: str, boot_images: BootImages, marker: str, short_tmp: Path
) -> None:
    """SIGKILL gives the CLI no chance to clean up: QEMU dies with it (PDEATHSIG), and
    the next VM to start removes the temp dir it left."""
    args = cli_args(boot_images, firmware, marker, VERBOSE_APPEND, BOOT_TIMEOUT)
    env = {**os.environ, "TMPDIR": str(short_tmp)}
    cli = subprocess.Popen(
        [*minibios_cli(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env
    )
    try:
        read_until(cli.stdout, MID_BOOT.encode(), BOOT_TIMEOUT)
        cli.kill()
        cli.wait()
        deadline = time.monotonic() + PROMPT
        while qemu_pids(marker):
            assert time.monotonic() < deadline, "QEMU outlived its killed launcher"
            time.sleep(0.05)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        assert cli.stdout is not None
        cli.stdout.close()
    (left,) = short_tmp.iterdir()  # the killed CLI's dir, as the test of the sweep needs
    assert left.name.startswith(f"{RUNTIME_DIR_PREFIX}{cli.pid}-")
    result = run_cli(*cli_args(boot_images, firmware, marker, BOOT_APPEND, BOOT_TIMEOUT),
                     tmpdir=short_tmp)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert_nothing_left(marker, short_tmp)


def test_cli_guest_that_never_powers_off_exits_3(
    firmware: str, boot_images: BootImages, marker: str, short_tmp: Path
) -> None:
    append = f"{BOOT_APPEND} {HOLD_FLAG}"
    started = time.monotonic()
    result = run_cli(
        *cli_args(boot_images, firmware, marker, append, CLI_HOLD_TIMEOUT), tmpdir=short_tmp
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 3, result.stdout + result.stderr
    assert re.search(r"^MINIBIOS-REPORT \{", result.stdout, re.MULTILINE), "never reached /init"
    assert f"minibios: timed out after {CLI_HOLD_TIMEOUT:g} s; QEMU stopped" in result.stdout
    assert CLI_HOLD_TIMEOUT <= elapsed < CLI_HOLD_TIMEOUT + CLI_START_SLACK
    assert_nothing_left(marker, short_tmp)


def test_cli_kernel_panic_without_reset_exits_1(
    firmware: str, boot_images: BootImages, marker: str, short_tmp: Path
) -> None:
    """panic=0: the kernel never resets; the CLI must not wait for its timeout.
    (panic=-1 through the CLI is test_cli.py's test_run_panic_exits_1.)"""
    append = f"console=ttyS0 {NO_INIT} panic=0"
    result = run_cli(*cli_args(boot_images, firmware, marker, append, BOOT_TIMEOUT),
                     tmpdir=short_tmp)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Kernel panic - not syncing" in result.stdout
    assert "minibios: guest panicked" in result.stdout
    assert_nothing_left(marker, short_tmp)


def test_cli_guest_reset_exits_1(
    firmware: str, boot_images: BootImages, marker: str, short_tmp: Path
) -> None:
    append = f"console=ttyS0 {REBOOT_INIT}"
    result = run_cli(*cli_args(boot_images, firmware, marker, append, BOOT_TIMEOUT),
                     tmpdir=short_tmp)  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "reboot: Restarting system" in result.stdout
    assert "minibios: guest reset" in result.stdout
    assert_nothing_left(marker, short_tmp)
