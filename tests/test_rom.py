import os
from pathlib import Path

import pytest

from minibios.firmware import rom
from minibios.firmware.rom import RomError

GOOD_MAKEFILE = """\
build/minibios.rom: rom.src
\tmkdir -p build
\tcp rom.src build/minibios.rom
"""
BAD_MAKEFILE = """\
all:
\t@echo "rom.c:1: error: something broke" >&2
\t@false
"""


def fake_checkout(tmp_path: Path, makefile: str) -> Path:
    (tmp_path / "src" / "minibios").mkdir(parents=True)
    firmware = tmp_path / "firmware"
    firmware.mkdir()
    (firmware / "Makefile").write_text(makefile)
    (firmware / "rom.src").write_bytes(b"\xaa" * 65536)
    return tmp_path


def test_checkout_detection(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path, GOOD_MAKEFILE)
    assert rom.checkout_root(root / "src" / "minibios" / "firmware" / "rom.py") == root
    assert rom.checkout_root(root / "src" / "a" / "b" / "c" / "d.py") is None


def test_real_checkout_is_found() -> None:
    root = rom.checkout_root()
    assert root is not None and (root / "firmware" / "Makefile").is_file()


def test_path_builds_when_missing_and_never_returns_a_stale_rom(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path, GOOD_MAKEFILE)
    built = rom.rom_path(root)
    assert built == root / "firmware" / "build" / "minibios.rom"
    assert built.read_bytes() == b"\xaa" * 65536
    # A source edited after the build: the next lookup runs make, which rebuilds.
    source = root / "firmware" / "rom.src"
    source.write_bytes(b"\xbb" * 65536)
    later = built.stat().st_mtime + 10
    os.utime(source, (later, later))
    assert rom.rom_path(root).read_bytes() == b"\xbb" * 65536


def test_build_always_runs_make(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path, GOOD_MAKEFILE)
    rom.build(root)
    (root / "firmware" / "rom.src").write_bytes(b"\xbb" * 65536)
    assert rom.build(root).read_bytes() == b"\xbb" * 65536


def test_make_failure_shows_stderr(tmp_path: Path) -> None:
    root = fake_checkout(tmp_path, BAD_MAKEFILE)
    with pytest.raises(RomError, match=r"failed \(exit 2\): .*rom.c:1: error: something broke"):
        rom.build(root)


def test_missing_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fake_checkout(tmp_path, GOOD_MAKEFILE)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RomError, match="`make` not found"):
        rom.build(root)


def test_not_a_checkout_uses_packaged(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(rom, "checkout_root", lambda start=None: None)
    monkeypatch.setattr(rom, "packaged_rom", lambda: None)
    with pytest.raises(RomError, match="none packaged"):
        rom.rom_path()
    packaged = tmp_path / "minibios.rom"
    monkeypatch.setattr(rom, "packaged_rom", lambda: packaged)
    assert rom.rom_path() == packaged
