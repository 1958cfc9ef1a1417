"""Build hook: put the firmware ROM inside the wheel as minibios/data/minibios.rom."""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithRom(build_py):
    def run(self) -> None:
        super().run()
        # An editable install uses firmware/build/ in the checkout directly.
        if getattr(self, "editable_mode", False):
            return
        subprocess.run(["make", "-C", str(ROOT / "firmware")], check=True)
        target = Path(self.build_lib) / "minibios" / "data"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "firmware" / "build" / "minibios.rom", target / "minibios.rom")


setup(cmdclass={"build_py": BuildPyWithRom})
