"""Turn a --firmware choice (minibios, seabios, qboot or a path) into a ROM file."""

from dataclasses import dataclass
from pathlib import Path

from minibios.errors import MinibiosError
from minibios.firmware.rom import rom_path

FIRMWARE_NAMES = ("minibios", "seabios", "qboot")
# Debian's locations (packages seabios and qemu-system-data).
SEABIOS_PC = Path("/usr/share/seabios/bios-256k.bin")
SEABIOS_MICROVM = Path("/usr/share/seabios/bios-microvm.bin")
QBOOT = Path("/usr/share/qemu/qboot.rom")


class FirmwareError(MinibiosError):
    """The chosen firmware file does not exist."""


@dataclass(frozen=True)
class Firmware:
    name: str
    path: Path
    # SeaBIOS boots -kernel through QEMU's linuxboot option ROM; on microvm
    # those ROMs must then stay enabled (x-option-roms=on).
    needs_option_roms: bool = False


def resolve_firmware(choice: str, machine: str) -> Firmware:
    """Map a firmware name or path to the file QEMU gets as -bios."""
    if choice == "minibios":
        return Firmware("minibios", rom_path())
    if choice == "seabios":
        path = SEABIOS_MICROVM if machine == "microvm" else SEABIOS_PC
        name, needs_roms = "seabios", True
    elif choice == "qboot":
        path, name, needs_roms = QBOOT, "qboot", False
    else:
        path, name, needs_roms = Path(choice).expanduser(), choice, False
    if not path.is_file():
        hint = " (run ./scripts/setup to install it)" if choice in FIRMWARE_NAMES else ""
        raise FirmwareError(f"firmware file not found: {path}{hint}")
    return Firmware(name, path.resolve(), needs_roms)
