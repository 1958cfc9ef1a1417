"""Every host-firmware test again, with the library built under ASan and UBSan."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fwhost import FIRMWARE_DIR, build_host_library

HERE = Path(__file__).resolve().parent


def runtime(name: str) -> str:
    out = subprocess.run(
        ["gcc", f"-print-file-name={name}"], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def host_test_files() -> list[Path]:
    return sorted(p for p in HERE.glob("test_fw_*.py") if p.name != Path(__file__).name)


# One run per file, so that xdist spreads the sanitized runs over its workers.
@pytest.mark.parametrize("tests", host_test_files(), ids=lambda p: p.stem)
def test_firmware_logic_is_clean_under_sanitizers(tests: Path) -> None:
    if os.environ.get("MINIBIOS_HOST_LIB"):
        pytest.skip("this is the sanitized run itself")
    build_host_library()
    env = dict(
        os.environ,
        MINIBIOS_HOST_LIB=str(FIRMWARE_DIR / "build" / "host" / "libminibios-asan.so"),
        LD_PRELOAD=f"{runtime('libasan.so')}:{runtime('libubsan.so')}",
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            str(tests),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
