"""Constants and helpers shared by the VM tests (conftest.py holds only fixtures)."""

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from minibios.assets import KernelAssets

MACHINES = ("pc", "q35", "microvm")
PAYLOAD_SIZE = 20 * 1024 * 1024
PAYLOAD_SEED = 20240601
BOOT_APPEND = "console=ttyS0 quiet panic=-1"
BOOT_TIMEOUT = 90.0
# microvm has no port 0x61 (the kernel's PIT calibration gate), HPET or PM timer,
# so the kernel cannot calibrate the TSC, and under TCG on a busy host it then
# sometimes hangs before /init, with any firmware (SeaBIOS too). Giving it the
# TSC frequency skips the calibration; the value only has to be plausible.
MICROVM_APPEND = "tsc_early_khz=2000000"


@dataclass(frozen=True)
class BootImages:
    kernel: KernelAssets
    plain_initrd: Path
    payload_initrd: Path
    payload_sha256: str


def qemu_pids(marker: str) -> list[int]:
    """PIDs of QEMU processes whose command line carries `marker`."""
    result = subprocess.run(
        ["pgrep", "-f", f"qemu-system.*{marker}"], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in result.stdout.split()]


def minibios_cli() -> list[str]:
    return [sys.executable, "-m", "minibios"]
