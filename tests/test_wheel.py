"""The wheel carries a ROM its own build made, and boots with no source tree around."""

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WHEEL_TIMEOUT = 600
DEMO_TIMEOUT = 300


def _clean_copy(dest: Path) -> Path:
    """The checkout's files as git sees them (tracked or new), without any build output."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # a file deleted in the work tree is still in the index
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _isolated_env() -> dict[str, str]:
    """The environment without anything pointing back at this checkout's venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    return env


@pytest.mark.boot
def test_wheel_installs_into_a_fresh_venv_and_boots(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the checkout's files")
    source = _clean_copy(tmp_path / "source")
    assert not (source / "firmware" / "build").exists()
    env = _isolated_env()
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        env=env,
        timeout=WHEEL_TIMEOUT,
    )
    (wheel,) = dist.glob("minibios-*.whl")
    # No source tree around from here on: nothing may fall back to it.
    shutil.rmtree(source)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        env=env,
        timeout=WHEEL_TIMEOUT,
    )
    minibios = str(venv / "bin" / "minibios")
    rom = subprocess.run(
        [minibios, "rom"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    rom_path = Path(rom)
    assert rom_path.is_relative_to(venv), rom
    assert rom_path.name == "minibios.rom" and rom_path.stat().st_size == 64 * 1024
    demo = subprocess.run(
        [minibios, "demo", "--accel", "tcg"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert f"({rom})" in demo.stdout
    assert "bios_vendor: minibios" in demo.stdout
    assert "minibios: guest powered off" in demo.stdout


def test_sdist_carries_the_firmware_sources(tmp_path: Path) -> None:
    """A wheel built from the sdist (python -m build's way) runs make there too."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the checkout's files")
    source = _clean_copy(tmp_path / "source")
    subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path / "dist")],
        cwd=source,
        check=True,
        capture_output=True,
        env=_isolated_env(),
        timeout=WHEEL_TIMEOUT,
    )
    (sdist,) = (tmp_path / "dist").glob("minibios-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert {"firmware/Makefile", "firmware/rom.ld", "setup.py"} <= names
    assert not any(name.startswith("firmware/build") for name in names)
