"""`minibios install` / `uninstall` into temporary prefixes."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from minibios.firmware import install as inst
from minibios.firmware.install import InstallError, InstallPlan

ROM_BYTES = b"\x90" * 65536


@pytest.fixture
def rom_source(tmp_path: Path) -> Path:
    path = tmp_path / "built.rom"
    path.write_bytes(ROM_BYTES)
    return path


def tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")} if root.exists() else set()


def test_install_puts_the_rom_at_the_stable_path(tmp_path: Path, rom_source: Path) -> None:
    prefix = tmp_path / "prefix"
    written = inst.install(InstallPlan(prefix), rom_source)
    rom = prefix / "share" / "minibios" / "minibios.rom"
    assert rom.read_bytes() == ROM_BYTES
    assert oct(rom.stat().st_mode & 0o777) == "0o644"
    assert rom in written.files
    assert not (prefix / "share" / "qemu").exists()  # no descriptor unless asked


def test_descriptor_follows_the_firmware_json_schema(tmp_path: Path, rom_source: Path) -> None:
    prefix = tmp_path / "prefix"
    inst.install(InstallPlan(prefix, with_descriptor=True), rom_source)
    path = prefix / "share" / "qemu" / "firmware" / "90-minibios.json"
    doc = json.loads(path.read_text())
    # Every member QEMU's schema requires, and nothing else.
    assert set(doc) == {"description", "interface-types", "mapping", "targets", "features", "tags"}
    assert doc["interface-types"] == ["bios"]
    assert doc["mapping"] == {
        "device": "memory",
        "filename": str(prefix / "share" / "minibios" / "minibios.rom"),
    }
    assert doc["targets"] == [{"architecture": "x86_64", "machines": ["pc-i440fx-*", "pc-q35-*"]}]
    assert doc["features"] == []  # no S3/S4 resume, SMM or SEV: claim none


def test_descriptor_dir_and_priority(tmp_path: Path, rom_source: Path) -> None:
    plan = InstallPlan(
        tmp_path / "prefix", True, descriptor_dir=tmp_path / "etc" / "firmware", priority=5
    )
    inst.install(plan, rom_source)
    assert (tmp_path / "etc" / "firmware" / "05-minibios.json").is_file()
    with pytest.raises(InstallError, match="00-99"):
        InstallPlan(tmp_path, priority=100)


def test_uninstall_removes_exactly_what_install_wrote(tmp_path: Path, rom_source: Path) -> None:
    prefix = tmp_path / "prefix"
    # A prefix already in use: its directories and files are not ours to remove.
    (prefix / "share" / "qemu" / "firmware").mkdir(parents=True)
    foreign = prefix / "share" / "qemu" / "firmware" / "50-other.json"
    foreign.write_text("{}")
    before = tree(prefix)
    inst.install(InstallPlan(prefix, with_descriptor=True), rom_source)
    assert tree(prefix) > before
    removed = inst.uninstall(prefix)
    assert tree(prefix) == before
    assert foreign.read_text() == "{}"
    assert prefix / "share" / "minibios" in removed
    assert prefix / "share" / "qemu" / "firmware" not in removed


def test_reinstall_then_uninstall_leaves_nothing(tmp_path: Path, rom_source: Path) -> None:
    prefix = tmp_path / "prefix"
    inst.install(InstallPlan(prefix), rom_source)
    inst.install(InstallPlan(prefix, with_descriptor=True, priority=20), rom_source)
    inst.uninstall(prefix)
    assert not prefix.exists()


def test_uninstall_without_install_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match="nothing to uninstall"):
        inst.uninstall(tmp_path)


def test_a_tampered_manifest_is_refused(tmp_path: Path, rom_source: Path) -> None:
    prefix = tmp_path / "prefix"
    inst.install(InstallPlan(prefix), rom_source)
    manifest = prefix / "share" / "minibios" / "install-manifest.json"
    manifest.write_text(json.dumps({"version": 1, "files": ["etc/passwd"], "dirs": []}))
    with pytest.raises(InstallError, match="relative paths"):
        inst.uninstall(prefix)


# -- the command line: permissions, exit codes ----------------------------------


def _as_unprivileged(argv: list[str]) -> list[str]:
    """Root may write anywhere: check the refusal as `nobody` then."""
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop privileges to test refusal")
    dropped = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    probe = subprocess.run([*dropped, *argv[:3], "--help"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("user nobody cannot run this checkout's minibios (its path is private)")
    return [*dropped, *argv]


def _cli(*args: str, unprivileged: bool = False) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "minibios", *args]
    if unprivileged:
        argv = _as_unprivileged(argv)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary directory every user can reach (pytest's own is private to its owner)."""
    path = Path(tempfile.mkdtemp(prefix="minibios-install-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _locked_dir(parent: Path) -> Path:
    locked = parent / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    return locked


def test_cli_install_and_uninstall(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    result = _cli("install", "--prefix", str(prefix), "--descriptor")
    assert result.returncode == 0, result.stderr
    descriptor = prefix / "share" / "qemu" / "firmware" / "90-minibios.json"
    assert f"minibios: wrote {descriptor}" in result.stdout
    result = _cli("uninstall", "--prefix", str(prefix))
    assert result.returncode == 0, result.stderr
    assert not prefix.exists()


def test_cli_install_refuses_without_permission(open_tmp: Path) -> None:
    locked = _locked_dir(open_tmp)
    result = _cli("install", "--prefix", str(locked / "usr"), unprivileged=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(
        f"minibios: error: cannot install into {locked}/usr/share/minibios: "
        f"no write permission on {locked}"
    ), result.stderr
    assert list(locked.iterdir()) == []


def test_cli_uninstall_refuses_without_permission(open_tmp: Path) -> None:
    prefix = open_tmp / "prefix"
    assert _cli("install", "--prefix", str(prefix)).returncode == 0
    result = _cli("uninstall", "--prefix", str(prefix), unprivileged=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot remove from" in result.stderr and "no write permission" in result.stderr
    assert (prefix / "share" / "minibios" / "minibios.rom").is_file()


def test_cli_descriptor_options_need_descriptor(tmp_path: Path) -> None:
    result = _cli("install", "--prefix", str(tmp_path / "p"), "--priority", "10")
    assert result.returncode == 2
    assert result.stderr == (
        "minibios: error: --descriptor-dir and --priority only apply with --descriptor\n"
    )
    assert not (tmp_path / "p").exists()
