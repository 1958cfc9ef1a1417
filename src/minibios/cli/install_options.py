"""The options of `install` and `uninstall` (their command: cli/install.py), without
importing the installer."""

import argparse
from pathlib import Path

from minibios.firmware.install_defaults import DEFAULT_PREFIX, DEFAULT_PRIORITY

INSTALL_COMMANDS = ("install", "uninstall")


def add_install_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    inst = commands.add_parser(
        "install", help="copy the ROM to PREFIX/share/minibios (and a QEMU firmware descriptor)"
    )
    inst.add_argument(
        "--prefix", type=Path, default=DEFAULT_PREFIX, help=f"default {DEFAULT_PREFIX}"
    )
    inst.add_argument(
        "--descriptor",
        action="store_true",
        help="also write a QEMU firmware descriptor (libvirt's <os firmware='bios'> finds it)",
    )
    inst.add_argument(
        "--descriptor-dir",
        type=Path,
        help="where the descriptor goes (default PREFIX/share/qemu/firmware; libvirt "
        "reads /usr/share/qemu/firmware, /etc/qemu/firmware, ~/.config/qemu/firmware)",
    )
    inst.add_argument(
        "--priority",
        type=int,
        default=DEFAULT_PRIORITY,
        help=f"the descriptor's file-name prefix, 00-99: lower wins (default {DEFAULT_PRIORITY})",
    )
    uninst = commands.add_parser("uninstall", help="remove exactly what `install` wrote")
    uninst.add_argument(
        "--prefix", type=Path, default=DEFAULT_PREFIX, help=f"default {DEFAULT_PREFIX}"
    )
