"""The `install` and `uninstall` subcommands (argparse glue for minibios.firmware.install;
their options: cli/install_options.py)."""

import argparse

from minibios.firmware import rom
from minibios.firmware.install import (
    DEFAULT_PRIORITY,
    InstallError,
    InstallPlan,
    check_install_permissions,
    install,
    uninstall,
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
