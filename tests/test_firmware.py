from pathlib import Path

import pytest

from minibios.firmware import choice as firmware
from minibios.firmware.choice import FirmwareError, resolve_firmware


def test_seabios_per_machine() -> None:
    pc = resolve_firmware("seabios", "pc")
    assert pc.path.name == "bios-256k.bin" and pc.needs_option_roms
    micro = resolve_firmware("seabios", "microvm")
    assert micro.path.name == "bios-microvm.bin" and micro.needs_option_roms


def test_qboot() -> None:
    qboot = resolve_firmware("qboot", "microvm")
    assert qboot.path.name == "qboot.rom" and not qboot.needs_option_roms


def test_minibios_uses_the_rom(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "minibios.rom"
    fake.write_bytes(b"\0" * 65536)
    monkeypatch.setattr(firmware, "rom_path", lambda: fake)
    resolved = resolve_firmware("minibios", "q35")
    assert resolved.path == fake and not resolved.needs_option_roms


def test_path(tmp_path: Path) -> None:
    rom = tmp_path / "my.rom"
    rom.write_bytes(b"\0")
    assert resolve_firmware(str(rom), "pc").path == rom.resolve()
    with pytest.raises(FirmwareError, match=f"^firmware file not found: {tmp_path}/nope.rom$"):
        resolve_firmware(str(tmp_path / "nope.rom"), "pc")
