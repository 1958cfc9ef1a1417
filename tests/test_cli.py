"""The `minibios` command line, run as a subprocess like a user would."""

import itertools
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from kernel_fakes import make_bzimage
from vm_support import (
    BOOT_APPEND,
    BootImages,
    minibios_cli,
    qemu_pids,
    run_args,
    run_cli,
)

from minibios.bench.gdb_remote import GdbRemoteError
from minibios.bench.probe import ProbeError
from minibios.cli import commands
from minibios.firmware.rom import RomError
from minibios.images.assets import cache_dir
from minibios.images.kernel_image import inspect_kernel
from minibios.images.vmlinux import extract_vmlinux
from minibios.sizes import MIB, format_size
from minibios.vm.accel import AccelProbe
from minibios.vm.machine import ConsoleTimeout, QemuStartError
from minibios.vm.preflight import PreflightError, initrd_limit
from minibios.vm.runtime_dir import RUNTIME_DIR_PREFIX


def assert_no_leftovers(marker: str, tmpdir: Path) -> None:
    assert not qemu_pids(marker), "QEMU still running"
    assert not list(tmpdir.glob(f"{RUNTIME_DIR_PREFIX}*")), "temp dir left behind"


@pytest.fixture
def fake_kernel(tmp_path: Path) -> Path:
    path = tmp_path / "bzImage"
    path.write_bytes(make_bzimage())
    return path


# -- bad input: one line on stderr, exit 2, no QEMU -----------------------------


def expect_usage_error(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"minibios: error: {line}\n"


def test_missing_kernel(short_tmp: Path, marker: str) -> None:
    result = run_cli("run", "--kernel", "/nonexistent/vmlinuz", "--firmware", "seabios",
                     "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
    expect_usage_error(result, "kernel not found: /nonexistent/vmlinuz")
    assert_no_leftovers(marker, short_tmp)


def test_kernel_not_a_file(short_tmp: Path, marker: str) -> None:
    result = run_cli("run", "--kernel", str(short_tmp), "--firmware", "seabios",
                     "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
    expect_usage_error(result, f"kernel is not a regular file: {short_tmp}")
    assert_no_leftovers(marker, short_tmp)


def test_missing_initrd(short_tmp: Path, marker: str, fake_kernel: Path) -> None:
    result = run_cli("run", "--kernel", str(fake_kernel), "--initrd", "/nonexistent/initrd",
                     "--firmware", "seabios", "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
    expect_usage_error(result, "initrd not found: /nonexistent/initrd")
    assert_no_leftovers(marker, short_tmp)


def test_not_a_kernel(short_tmp: Path, marker: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"this is not a kernel" * 100)
    result = run_cli("run", "--kernel", str(junk), "--firmware", "seabios",
                     "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
    expect_usage_error(result, f"not a bzImage or ELF kernel: {junk}")
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.boot  # needs the downloaded kernel
@pytest.mark.parametrize("entry", ["bzimage", "pvh"])
def test_initrd_too_large(
    short_tmp: Path, marker: str, tmp_path: Path, boot_images: BootImages, entry: str
) -> None:
    kernel = boot_images.kernel.vmlinuz
    initrd = tmp_path / "huge.img"
    with open(initrd, "wb") as handle:
        handle.truncate(100 * MIB)  # sparse: only the size matters
    result = run_cli("run", "--kernel", str(kernel), "--initrd", str(initrd), "--memory", "128M",
                     "--firmware", "seabios", "--entry", entry,
                     "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
    # The rule applies to what is booted: the bzImage, or the vmlinux PVH unpacks.
    booted = kernel if entry == "bzimage" else extract_vmlinux(kernel, cache_dir()).path
    image = inspect_kernel(booted)
    fits = format_size(initrd_limit(image, 128 * MIB))
    expect_usage_error(
        result,
        f"initrd too large for 128 MiB of RAM: 100 MiB, but {fits} fits above the kernel "
        f"(which needs memory up to {format_size(image.memory_end)})",
    )
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.boot  # needs the downloaded kernel
@pytest.mark.parametrize("entry", ["bzimage", "pvh"])
def test_too_little_ram_for_the_kernel(
    short_tmp: Path, marker: str, boot_images: BootImages, entry: str
) -> None:
    """Checked up front: else the firmware stops (bzImage) or the kernel resets (PVH)."""
    kernel = boot_images.kernel.vmlinuz
    result = run_cli("run", "--kernel", str(kernel), "--memory", "40M", "--entry", entry,
                     "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
    booted = kernel if entry == "bzimage" else extract_vmlinux(kernel, cache_dir()).path
    needs = format_size(inspect_kernel(booted).memory_end)
    expect_usage_error(
        result, f"40 MiB of RAM is too little for this kernel: it needs memory up to {needs}"
    )
    assert_no_leftovers(marker, short_tmp)


def test_qemu_not_installed(short_tmp: Path, marker: str, fake_kernel: Path) -> None:
    result = run_cli("run", "--kernel", str(fake_kernel), "--firmware", "seabios",
                     "--", "-name", marker, tmpdir=short_tmp,
                     env={"PATH": str(short_tmp / "empty")})  # fmt: skip
    expect_usage_error(
        result, "QEMU not found: qemu-system-x86_64 is not installed (run ./scripts/setup)"
    )
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.parametrize(
    ("option", "line"),
    [
        (["--machine", "isapc"], "unknown machine type 'isapc' (choose from pc, q35, microvm)"),
        (["--memory", "12X"], "bad memory size '12X': expected e.g. 512M or 2G"),
        (["--memory", "0"], "bad memory size '0': must be positive"),
        (["--firmware", "/nonexistent/fw.rom"], "firmware file not found: /nonexistent/fw.rom"),
        (["--cpus", "two"], "argument --cpus: invalid int value: 'two'"),
        (["--accel", "warp"], "unknown accelerator 'warp' (choose from auto, kvm, tcg)"),
    ],
)
def test_bad_options(
    short_tmp: Path, marker: str, fake_kernel: Path, option: list[str], line: str
) -> None:
    args = ["run", "--kernel", str(fake_kernel), "--firmware", "seabios", *option]
    result = run_cli(*args, "--", "-name", marker, tmpdir=short_tmp)
    expect_usage_error(result, line)
    assert_no_leftovers(marker, short_tmp)


def test_bench_refuses_a_plot_it_cannot_write_before_booting(short_tmp: Path) -> None:
    result = run_cli("bench", "--runs", "1", "--plot", str(short_tmp / "bench.pdf"),
                     tmpdir=short_tmp)  # fmt: skip
    expect_usage_error(
        result,
        f"--plot writes SVG or PNG: give a file ending in .svg or .png, not {short_tmp}/bench.pdf",
    )
    assert result.stdout == ""  # no run started


def test_kernel_argument_required(short_tmp: Path) -> None:
    expect_usage_error(
        run_cli("run", tmpdir=short_tmp), "the following arguments are required: --kernel"
    )


def test_forced_kvm_without_kvm(short_tmp: Path, marker: str, fake_kernel: Path) -> None:
    reason = AccelProbe().kvm_unusable_reason()
    if reason is None:
        pytest.skip("this host really has KVM")
    result = run_cli("run", "--kernel", str(fake_kernel), "--firmware", "seabios",
                     "--accel", "kvm", "--", "-name", marker, tmpdir=short_tmp)  # fmt: skip
    expect_usage_error(result, f"KVM requested but not usable here: {reason}")
    assert_no_leftovers(marker, short_tmp)


def fake_qemu(directory: Path) -> tuple[Path, Path]:
    """A `qemu-system-x86_64` on PATH that only records that it ran."""
    directory.mkdir()
    ran = directory / "ran"
    qemu = directory / "qemu-system-x86_64"
    qemu.write_text(f"#!/bin/sh\ntouch {ran}\n")
    qemu.chmod(0o755)
    return qemu, ran


@pytest.mark.parametrize("command", ["run", "demo"])
def test_dry_run_shows_the_command_and_starts_nothing(
    short_tmp: Path, tmp_path: Path, fake_kernel: Path, command: str
) -> None:
    qemu, ran = fake_qemu(tmp_path / "bin")
    append = "console=ttyS0 note='two words'"
    args = ["-v", command, "--firmware", "seabios", "--machine", "q35", "--memory", "256M",
            "--dry-run"]  # fmt: skip
    if command == "run":
        args += ["--kernel", str(fake_kernel), "--append", append]
    env = {"PATH": f"{qemu.parent}:{os.environ['PATH']}"}
    if command == "demo":
        if not (cache_dir() / "kernels").is_dir():
            pytest.skip("demo needs the cached kernel (./scripts/setup)")
    else:
        env["MINIBIOS_CACHE"] = str(tmp_path / "cache")
    result = run_cli(*args, tmpdir=short_tmp, env=env)
    assert result.returncode == 0, result.stderr
    assert not ran.exists(), "--dry-run started QEMU"
    assert "minibios: entry " in result.stdout
    argv = shlex.split(result.stderr.splitlines()[-1])
    assert argv[0] == str(qemu)
    pairs = list(itertools.pairwise(argv))
    assert ("-M", "q35") in pairs and ("-m", "256M") in pairs
    assert ("-bios", "/usr/share/seabios/bios-256k.bin") in pairs
    if command == "run":
        assert ("-append", append) in pairs and ("-kernel", str(fake_kernel)) in pairs
    # -v logs what minibios decided, on stderr, before the command.
    assert "minibios: INFO: minibios.firmware.choice: firmware seabios" in result.stderr
    assert not list(short_tmp.glob(f"{RUNTIME_DIR_PREFIX}*"))


def test_without_v_nothing_is_logged(short_tmp: Path, tmp_path: Path, fake_kernel: Path) -> None:
    qemu, _ = fake_qemu(tmp_path / "bin")
    result = run_cli("run", "--kernel", str(fake_kernel), "--firmware", "seabios", "--dry-run",
                     tmpdir=short_tmp, env={"PATH": f"{qemu.parent}:{os.environ['PATH']}",
                                            "MINIBIOS_CACHE": str(tmp_path / "cache")})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(result.stderr.splitlines()) == 1  # only the command
    assert "INFO" not in result.stderr


# -- real boots ----------------------------------------------------------------


@pytest.mark.boot
def test_show_command_prints_the_exact_argv(
    short_tmp: Path, marker: str, firmware: str, boot_images: BootImages
) -> None:
    args = run_args(boot_images.kernel.vmlinuz, firmware, marker, "--show-command",
                    "--timeout", "0.5", qemu_args=["-S"])  # fmt: skip
    result = run_cli(*args, tmpdir=short_tmp)
    assert result.returncode == 3, result.stdout + result.stderr  # -S: it timed out
    (line,) = [line for line in result.stderr.splitlines() if marker in line]
    argv = shlex.split(line)
    assert argv[-3:] == ["-name", marker, "-S"]
    qmp = argv[argv.index("-qmp") + 1]
    assert qmp.startswith(f"unix:{short_tmp}/{RUNTIME_DIR_PREFIX}") and "XXXX" not in qmp
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.boot
def test_run_powers_off(
    short_tmp: Path, marker: str, firmware: str, boot_images: BootImages
) -> None:
    args = run_args(boot_images.kernel.vmlinuz, firmware, marker, "--append", BOOT_APPEND,
                    "--machine", "q35", "--timeout", "90",
                    initrd=boot_images.payload_initrd)  # fmt: skip
    result = run_cli(*args, tmpdir=short_tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^MINIBIOS-REPORT \{", result.stdout, re.MULTILINE)
    assert f"payload sha256  {boot_images.payload_sha256}" in result.stdout
    assert "minibios: guest powered off" in result.stdout
    assert "s to the report" in result.stdout and "s to powered off" in result.stdout
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.boot
@pytest.mark.parametrize("acpi", [[], ["--no-microvm-acpi"]], ids=["default", "no-acpi"])
def test_microvm_run_cpus(
    acpi: list[str], short_tmp: Path, marker: str, firmware: str, boot_images: BootImages
) -> None:
    """microvm's ACPI is on unless refused: the cloud kernel reads no MP table, so
    without ACPI it sees one CPU and cannot power off (it halts; we notice that)."""
    args = run_args(boot_images.kernel.vmlinuz, firmware, marker, "--append", BOOT_APPEND,
                    "--machine", "microvm", "--cpus", "2", *acpi, "--timeout", "90",
                    initrd=boot_images.plain_initrd)  # fmt: skip
    result = run_cli(*args, tmpdir=short_tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    cpus = 1 if acpi else 2
    assert f"CPUs online     {cpus} ({cpus} in /proc/cpuinfo)" in result.stdout
    assert "minibios: guest powered off" in result.stdout
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.boot
def test_run_panic_exits_1(
    short_tmp: Path, marker: str, firmware: str, boot_images: BootImages
) -> None:
    # No initrd: the kernel cannot mount a root and panics.
    args = run_args(boot_images.kernel.vmlinuz, firmware, marker,
                    "--append", "console=ttyS0 panic=-1", "--timeout", "90")  # fmt: skip
    result = run_cli(*args, tmpdir=short_tmp)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Kernel panic - not syncing" in result.stdout
    assert "minibios: guest panicked" in result.stdout
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.boot
def test_run_timeout_exits_3(
    short_tmp: Path, marker: str, firmware: str, boot_images: BootImages
) -> None:
    args = run_args(boot_images.kernel.vmlinuz, firmware, marker, "--timeout", "0.5",
                    initrd=boot_images.plain_initrd)  # fmt: skip
    result = run_cli(*args, tmpdir=short_tmp)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "minibios: timed out after 0.5 s; QEMU stopped" in result.stdout
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.boot
def test_qemu_failure_exits_4(
    short_tmp: Path, marker: str, firmware: str, boot_images: BootImages
) -> None:
    args = run_args(boot_images.kernel.vmlinuz, firmware, marker, qemu_args=["-no-such-option"])
    result = run_cli(*args, tmpdir=short_tmp)
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr.startswith("minibios: error: QEMU failed to start (exit 1): ")
    assert "-no-such-option: invalid option" in result.stderr
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.boot
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_kills_qemu(
    short_tmp: Path,
    marker: str,
    firmware: str,
    boot_images: BootImages,
    sig: signal.Signals,
    status: int,
) -> None:
    cli = subprocess.Popen(
        [*minibios_cli(), *run_args(boot_images.kernel.vmlinuz, firmware, marker,
                                    initrd=boot_images.plain_initrd, qemu_args=["-S"])],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(short_tmp)},
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not qemu_pids(marker):
            assert cli.poll() is None, cli.communicate()
            assert time.monotonic() < deadline, "QEMU never started"
            time.sleep(0.05)
        time.sleep(0.3)  # let the CLI settle into waiting on the VM
        cli.send_signal(sig)
        stdout, stderr = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == status, stdout + stderr
    assert_no_leftovers(marker, short_tmp)


@pytest.mark.boot
def test_demo(short_tmp: Path, firmware: str, boot_images: BootImages) -> None:
    result = run_cli("demo", "--firmware", firmware, tmpdir=short_tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    header, entry = result.stdout.splitlines()[:2]
    assert header.startswith(f"minibios demo: Debian kernel {boot_images.kernel.version} on pc")
    assert entry.startswith("minibios: entry pvh: vmlinux unpacked from the bzImage")
    assert "minibios: guest report:" in result.stdout
    assert "command line    console=ttyS0" in result.stdout
    assert "boot time (from QEMU start):" in result.stdout


def test_rom_command(short_tmp: Path) -> None:
    result = run_cli("rom", tmpdir=short_tmp)
    assert result.returncode == 0, result.stderr
    rom = Path(result.stdout.strip())
    assert rom.is_absolute() and rom.name == "minibios.rom" and rom.is_file()


def test_closed_stdout_pipe_is_no_traceback(short_tmp: Path) -> None:
    # `minibios rom | head -c0`: the reader is gone before minibios writes.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [*minibios_cli(), "rom"], stdout=write_end, stderr=subprocess.PIPE, text=True
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (PreflightError("kernel not found: /k"), 2),
        (RomError("`make -C firmware` failed"), 2),
        (QemuStartError("QEMU failed to start (exit 1)", ""), 4),
        (ProbeError("the guest did not power off cleanly"), 4),
        (GdbRemoteError("lost the gdb stub"), 4),
        (ConsoleTimeout("MINIBIOS-REPORT", 1.0, "tail"), 4),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_exit_status_says_whose_fault(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: Exception,
    status: int,
) -> None:  # fmt: skip
    """2 only for what is checked before QEMU starts; a failure while running is 4."""

    def fail(args: object, extra: object) -> int:
        raise error

    monkeypatch.setattr(commands.signal, "signal", lambda *args: None)  # keep pytest's
    monkeypatch.setattr(commands, "_dispatch", fail)
    assert commands.main(["rom"]) == status
    assert capsys.readouterr().err == f"minibios: error: {error}\n"
