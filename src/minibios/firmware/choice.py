"""Which firmware a VM starts: minibios, SeaBIOS, qboot or a ROM file, and the ROM to give QEMU."""

from __future__ import annotations

import logging
import enum
from dataclasses import dataclass
from pathlib import Path

from minibios.errors import InputError
from minibios.firmware.rom import rom_path

log = logging.getLogger(__name__)

# Debian's locations (packages seabios and qemu-system-data).
SEABIOS_PC = Path("/usr/share/seabios/bios-256k.bin")
SEABIOS_MICROVM = Path("/usr/share/seabios/bios-microvm.bin")
QBOOT = Path("/usr/share/qemu/qboot.rom")
BOOT_PROTOCOLS = (16, 32, 64)  # minibios's ways into a bzImage (its 16-bit setup, or 32/64-bit)


class FirmwareKind(enum.Enum):
    """The firmwares minibios knows by name; FILE is any other ROM."""

    MINIBIOS = "minibios"
    SEABIOS = "seabios"
    QBOOT = "qboot"
    FILE = "file"

    @classmethod
    def of(cls, choice: str) -> FirmwareKind:
        """The kind a --firmware value names (anything unknown is a file)."""
        return next((kind for kind in cls if kind.value == choice and kind is not cls.FILE), cls.FILE)


FIRMWARE_NAMES = tuple(kind.value for kind in FirmwareKind if kind is not FirmwareKind.FILE)


class FirmwareError(InputError):
    """The chosen firmware file does not exist."""


class FirmwareSpecError(InputError):
    """A --firmware entry of the benchmark that names no firmware."""


@dataclass(frozen=True)
class Firmware:
    """The firmware QEMU gets as -bios."""

    name: str  # as the user gave it: a FIRMWARE_NAMES entry or a path
    path: Path
    kind: FirmwareKind = FirmwareKind.FILE
    # SeaBIOS boots -kernel through QEMU's linuxboot option ROM; on microvm
    # those ROMs must then stay enabled (x-option-roms=on).
    needs_option_roms: bool = False


def resolve_firmware(choice: str, machine: str) -> Firmware:
    """Map a firmware name or path to the file QEMU gets as -bios.

    minibios's ROM is (incrementally) rebuilt first in a checkout: see rom_path.
    """
    kind = FirmwareKind.of(choice)
    if kind is FirmwareKind.MINIBIOS:
        return Firmware(choice, rom_path(), kind)
    if kind is FirmwareKind.SEABIOS:
        path = SEABIOS_MICROVM if machine == "microvm" else SEABIOS_PC
    elif kind is FirmwareKind.QBOOT:
        path = QBOOT
    else:
        path = Path(choice).expanduser()
    if not path.is_file():
        hint = " (run ./scripts/setup to install it)" if kind is not FirmwareKind.FILE else ""
        raise FirmwareError(f"firmware file not found: {path}{hint}")
    log.info("firmware %s: %s", choice, path)
    return Firmware(choice, path.resolve(), kind, needs_option_roms=kind is FirmwareKind.SEABIOS)


@dataclass(frozen=True)
class FirmwareSpec:
    """A firmware of the benchmark: its name, for minibios its Linux entry, and
    whether the kernel goes in as a PVH vmlinux ("minibios:32", "qboot:pvh")."""

    name: str
    protocol: int | None = None
    pvh: bool = False

    @classmethod
    def parse(cls, spec: str) -> FirmwareSpec:
        name, sep, how = spec.partition(":")
        if not sep:
            return cls(name)
        if how == "pvh":
            return cls(name, pvh=True)
        if FirmwareKind.of(name) is FirmwareKind.MINIBIOS and how in map(str, BOOT_PROTOCOLS):
            return cls(name, protocol=int(how))
        raise FirmwareSpecError(
            f"bad firmware {spec!r}: :pvh goes with any firmware, :16/:32/:64 with minibios"
        )
