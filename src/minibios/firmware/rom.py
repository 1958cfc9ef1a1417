"""Find the minibios ROM: (re)built from firmware/ in a checkout, or shipped in the wheel."""

import logging
import fcntl
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from minibios.errors import InputError

log = logging.getLogger(__name__)

ROM_NAME = "minibios.rom"
PACKAGED_ROM = f"data/{ROM_NAME}"
TOOLS = ("make", "gcc")
STDERR_TAIL_LINES = 15


class RomError(InputError):
    """The ROM is missing and cannot be built."""


def checkout_root(start: Path | None = None) -> Path | None:
    """The repository root when running from a source checkout, else None.

    src/minibios/firmware/rom.py sits three levels below the root; an installed
    wheel has no firmware/Makefile at that spot.
    """
    root = (start or Path(__file__)).resolve().parents[3]
    if (root / "firmware" / "Makefile").is_file() and (root / "src").is_dir():
        return root
    return None


def run_make(firmware: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """`make -C firmware TARGETS`, one at a time per checkout.

    Test workers and concurrent `minibios` runs all call this; a lock file in the
    build dir keeps two makes from writing the same objects at once.
    """
    lock_path = firmware / "build" / ".make.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        log.info("make -C %s %s", firmware, " ".join(targets))
        return subprocess.run(
            ["make", "-C", str(firmware), *targets], capture_output=True, text=True, check=False
        )


def build(root: Path | None = None) -> Path:
    """Run `make -C firmware` (incremental) and return the ROM path."""
    root = root or checkout_root()
    if root is None:
        raise RomError("not in a minibios checkout (no firmware/Makefile): cannot build the ROM")
    for tool in TOOLS:
        if shutil.which(tool) is None:
            raise RomError(f"`{tool}` not found, needed to build the ROM: run ./scripts/setup")
    firmware = root / "firmware"
    result = run_make(firmware)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        tail = " | ".join(lines[-STDERR_TAIL_LINES:]) or "(no output)"
        raise RomError(f"`make -C {firmware}` failed (exit {result.returncode}): {tail}")
    rom = firmware / "build" / ROM_NAME
    if not rom.is_file():
        raise RomError(f"`make -C {firmware}` succeeded but did not produce {rom}")
    return rom


def packaged_rom() -> Path | None:
    """The ROM inside an installed wheel, if there is one."""
    candidate = resources.files("minibios").joinpath(PACKAGED_ROM)
    path = Path(str(candidate))
    return path if path.is_file() else None


def rom_path(root: Path | None = None) -> Path:
    """The ROM to boot: in a checkout always rebuilt first, else the packaged one.

    `make` is incremental (a few ms when nothing changed), and running it every
    time means a firmware edit can never leave an old ROM booting. Call this
    once per boot, where the firmware is chosen (resolve_firmware), not per VM.
    """
    root = root or checkout_root()
    if root is not None:
        return build(root)
    packaged = packaged_rom()
    if packaged is None:
        raise RomError("no minibios ROM: not in a checkout and none packaged with this install")
    return packaged
