"""The options of `minibios exec`, `snapshot` and `pool` (their commands: cli/exec_command.py).

Light on purpose: the parser is built for every command, so nothing here imports the
session or QEMU's QMP.
"""

import argparse
import os

from minibios.agent.settings import ROOTFS_CHOICES, SNAPSHOT_MODES
from minibios.cli.options import add_options

EXEC_USAGE = (
    "minibios exec [--kernel K] [--machine pc|q35|microvm] [--cpus N] [--memory M] "
    "[--firmware F] [--share HOSTDIR[:GUESTDIR][:ro]]... [--rootfs host|initramfs] "
    "[--env K=V]... [--workdir DIR] [--timeout S] [--time] [--snapshot auto|off|refresh] "
    "-- CMD [ARG...]"
)


def add_exec_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "exec", help="run a command in a fresh VM (after `--`)", usage=EXEC_USAGE
    )
    add_options(parser, "kernel", "machine", "cpus", "memory", "firmware", "accel", "entry",
                "qemu", kernel={"help": "bzImage or ELF kernel (default: the cached Debian "
                                "cloud kernel)"})  # fmt: skip
    parser.add_argument(
        "--share",
        action="append",
        default=[],
        metavar="HOSTDIR[:GUESTDIR][:ro]",
        help="export a host directory (virtiofs), read-write unless :ro; GUESTDIR "
        "defaults to the same path",
    )
    parser.add_argument(
        "--rootfs",
        choices=ROOTFS_CHOICES,
        default="auto",
        help="host: the host's / read-only under a tmpfs overlay; initramfs: busybox; "
        "auto (default): host where virtiofs works",
    )
    parser.add_argument("--env", action="append", default=[], metavar="K=V")
    parser.add_argument(
        "--workdir",
        help="the command's directory (default: the current one with --rootfs host, / in "
        "the initramfs)",
    )
    parser.add_argument("--timeout", type=float, help="seconds the command may run")
    parser.add_argument(
        "--ready-timeout", type=float, default=120.0, help="seconds for the VM to boot (120)"
    )
    parser.add_argument("--time", action="store_true", help="print where the time went")
    parser.add_argument(
        "--pool",
        default=os.environ.get("MINIBIOS_POOL"),
        metavar="SOCKET",
        help="run in a VM of the `minibios pool` serving SOCKET ($MINIBIOS_POOL), whose VM "
        "options apply, when one answers there; else (or with --share or --rootfs host, "
        "which a pool's VMs lack) start a VM as usual",
    )
    parser.add_argument(
        "--snapshot",
        choices=SNAPSHOT_MODES,
        default="auto",
        help="auto (default): start from a saved boot state, saving one on the first run; "
        "off: always boot; refresh: boot, save a new state, use it",
    )


def add_pool_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "pool",
        help="keep VMs restored ahead for `minibios exec --pool SOCKET` (runs until stopped)",
    )
    add_options(parser, "kernel", "machine", "cpus", "memory", "firmware", "accel", "entry",
                "qemu")  # fmt: skip
    parser.add_argument("--socket", required=True, help="the unix socket to serve on")
    parser.add_argument("--size", type=int, default=1, help="VMs kept waiting (1)")
    parser.add_argument(
        "--warm", action="store_true", help="each waiting guest runs /bin/true once first"
    )
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.set_defaults(rootfs="initramfs", share=[], snapshot="auto")


def add_snapshot_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser("snapshot", help="list or clean the saved boot states")
    parser.add_argument("action", choices=("ls", "rm", "gc"))
    parser.add_argument("keys", nargs="*", help="rm: the keys to remove (all without)")
    parser.add_argument(
        "--max-age", type=float, help="gc: also remove states unused for this many days"
    )
