"""The `install` and `uninstall` subcommands (argparse glue for minibios.firmware.install)."""

import argparse
from pathlib import Path

from minibios.firmware import rom
from minibios.firmware.install import (
    DEFAULT_PREFIX,
    DEFAULT_PRIORITY,
    InstallError,
    InstallPlan,
    check_install_permissions,
    install,
    uninstall,
)

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


def run_install_command(args: argparse.Namespace) -> int:
    prefix = args.prefix.expanduser().absolute()
    if args.command == "uninstall":
        for path in uninstall(prefix):
            print(f"minibios: removed {path}")
        return 0
    if not args.descriptor and (args.descriptor_dir or args.priority != DEFAULT_PRIORITY):
        raise InstallError("--descriptor-dir and --priority only apply with --descriptor")
    descriptor_dir = args.descriptor_dir.expanduser().absolute() if args.descriptor_dir else None
    plan = InstallPlan(prefix, args.descriptor, descriptor_dir, args.priority)
    check_install_permissions(plan)  # before rom_path(), which may run make
    written = install(plan, rom.rom_path())
    for path in written.files:
        print(f"minibios: wrote {path}")
    return 0
