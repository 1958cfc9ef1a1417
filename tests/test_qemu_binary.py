"""Which QEMU binary runs: the microvm-only build for microvm under KVM, else the full one."""

import shutil
from pathlib import Path

import pytest
from kernel_fakes import make_bzimage
from test_accel import SVM, VMX, probe
from vm_support import BootImages, run_cli

from minibios.vm.accel import AccelProbe, choose_accel
from minibios.vm.preflight import PreflightError, check_qemu
from minibios.vm.qemu_binary import MICROVM_QEMU, QemuBinaryError, QemuChoice, choose_qemu
from minibios.vm.spec import DEFAULT_QEMU


def fake_bin(tmp_path: Path, *names: str) -> str:
    """A PATH holding executables of these names (never run)."""
    directory = tmp_path / "bin"
    directory.mkdir(exist_ok=True)
    for name in names:
        path = directory / name
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
    return str(directory)


BOTH = (DEFAULT_QEMU, MICROVM_QEMU)


@pytest.mark.parametrize("cpuinfo", [VMX, SVM])
def test_microvm_under_usable_kvm_runs_the_slim_build(tmp_path: Path, cpuinfo: str) -> None:
    accel = choose_accel("auto", probe(tmp_path, cpuinfo, kvm=True))
    choice = choose_qemu("microvm", accel, search_path=fake_bin(tmp_path, *BOTH))
    assert Path(choice.path).name == MICROVM_QEMU
    assert "microvm-only build" in choice.describe()


def test_without_kvm_microvm_runs_the_full_build(tmp_path: Path) -> None:
    accel = choose_accel("auto", probe(tmp_path, VMX, kvm=False))
    assert accel == "tcg"
    choice = choose_qemu("microvm", accel, search_path=fake_bin(tmp_path, *BOTH))
    assert Path(choice.path).name == DEFAULT_QEMU
    assert f"{MICROVM_QEMU} has no TCG" in choice.why


@pytest.mark.parametrize("machine", ["pc", "q35"])
def test_other_machines_run_the_full_build_even_under_kvm(tmp_path: Path, machine: str) -> None:
    accel = choose_accel("auto", probe(tmp_path, VMX, kvm=True))
    choice = choose_qemu(machine, accel, search_path=fake_bin(tmp_path, *BOTH))
    assert Path(choice.path).name == DEFAULT_QEMU


def test_slim_build_not_installed(tmp_path: Path) -> None:
    choice = choose_qemu("microvm", "kvm", search_path=fake_bin(tmp_path, DEFAULT_QEMU))
    assert Path(choice.path).name == DEFAULT_QEMU
    assert f"no {MICROVM_QEMU} installed" in choice.why


def test_override_wins_for_any_machine(tmp_path: Path) -> None:
    path = fake_bin(tmp_path, *BOTH, "my-qemu")
    for machine, accel in (("microvm", "kvm"), ("pc", "tcg")):
        choice = choose_qemu(machine, accel, override="my-qemu", search_path=path)
        assert choice.path == str(Path(path) / "my-qemu")
        assert choice.why == "given with --qemu"
    full = str(Path(path) / DEFAULT_QEMU)
    assert choose_qemu("microvm", "kvm", override=full, search_path=path).path == full


def test_missing_binaries_are_clear_errors(tmp_path: Path) -> None:
    empty = fake_bin(tmp_path)
    # No QEMU at all: the spec names the default, and preflight refuses it (after the
    # user's input; tests/test_cli.py::test_qemu_not_installed) with the setup hint.
    assert choose_qemu("pc", "tcg", search_path=empty) == QemuChoice(DEFAULT_QEMU, "not installed")
    with pytest.raises(PreflightError, match=r"QEMU not found: \S+ is not installed \(run"):
        check_qemu("qemu-system-x86_64-absent-here")
    with pytest.raises(QemuBinaryError, match=r"QEMU not found: nope \(--qemu\)"):
        choose_qemu("pc", "tcg", override="nope", search_path=empty)


def test_the_launcher_says_which_binary_it_runs(short_tmp: Path) -> None:
    kernel = short_tmp / "bzImage"
    kernel.write_bytes(make_bzimage())
    fake = Path(fake_bin(short_tmp, "fake-qemu")) / "fake-qemu"
    result = run_cli("run", "--kernel", str(kernel), "--firmware", "seabios", "--accel", "tcg",
                     "--qemu", str(fake), tmpdir=short_tmp)  # fmt: skip
    assert f"minibios: QEMU {fake} (given with --qemu)\n" in result.stdout
    assert result.returncode == 4, result.stdout + result.stderr  # it exits at once


@pytest.mark.boot
def test_real_microvm_boot_with_the_slim_build(short_tmp: Path, boot_images: BootImages) -> None:
    reason = AccelProbe().kvm_unusable_reason()
    if reason is not None:
        pytest.skip(f"KVM is not usable here ({reason}); the microvm-only build has no TCG")
    if shutil.which(MICROVM_QEMU) is None:
        pytest.skip(f"{MICROVM_QEMU} is not installed")
    result = run_cli("run", "--kernel", str(boot_images.kernel.vmlinuz),
                     "--initrd", str(boot_images.plain_initrd), "--machine", "microvm",
                     "--accel", "kvm", "--append", "console=ttyS0 quiet panic=-1",
                     tmpdir=short_tmp)  # fmt: skip
    assert f"minibios: QEMU {shutil.which(MICROVM_QEMU)} (the microvm-only build" in result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MINIBIOS-REPORT" in result.stdout
