"""`minibios exec`: run a command in a fresh VM; its output and exit status come back.

The exit status is the command's (128+N when signal N killed it). The
launcher's own failures use codes a command rarely does, each with one line
on stderr (documented in README.md):
"""

import argparse
import os
import sys
import time
from pathlib import Path

from minibios.agent.pool import SnapshotPool, serve
from minibios.agent.pool import connect as pool_connect
from minibios.agent.session import AgentMachine
from minibios.agent.settings import (
    ROOTFS_CHOICES,
    SNAPSHOT_MODES,
    AgentNotReady,
    CommandTimeout,
    ExecError,
    ExecInputError,
    ExecSettings,
    ShareSpec,
    VmDied,
)
from minibios.agent.snapshot import SnapshotCache, snapshot_dir
from minibios.cli.options import add_options
from minibios.errors import InputError, MinibiosError
from minibios.images.assets import cache_dir
from minibios.vm.spec import DEFAULT_QEMU

EXIT_NOT_READY = 123  # the guest agent never reported ready
EXIT_TIMEOUT = 124  # --timeout passed; the command was killed (as coreutils timeout)
EXIT_VM_FAILED = 125  # QEMU failed to start or died, or the agent misbehaved
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


def cmd_pool(args: argparse.Namespace) -> int:
    if args.size < 1:
        raise ExecInputError("--size must be at least 1")
    warm = ("/bin/true",) if args.warm else ()
    with SnapshotPool(_settings(args), size=args.size, warm=warm) as pool:
        print(f"minibios: pool: {args.size} VM(s) waiting, serving {args.socket}", file=sys.stderr)
        serve(pool, Path(args.socket), lambda: False)
    return 0


def add_snapshot_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser("snapshot", help="list or clean the saved boot states")
    parser.add_argument("action", choices=("ls", "rm", "gc"))
    parser.add_argument("keys", nargs="*", help="rm: the keys to remove (all without)")
    parser.add_argument(
        "--max-age", type=float, help="gc: also remove states unused for this many days"
    )


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def cmd_snapshot(args: argparse.Namespace) -> int:
    snapshots = SnapshotCache(snapshot_dir(cache_dir()))
    if args.action == "ls":
        print("key                               size(MiB)  age   last-use  machine")
        now = time.time()
        for entry in snapshots.entries():
            used = sum(p.stat().st_blocks * 512 for p in entry.path.iterdir())
            created = float(str(entry.meta.get("created", now)))
            last = (entry.path / "meta.json").stat().st_mtime
            argv = entry.meta.get("parts", {}).get("argv", [])  # type: ignore[union-attr]
            machine = argv[argv.index("-M") + 1] if "-M" in argv else "?"
            print(
                f"{entry.path.name}  {used / 2**20:9.1f}  {_age(now - created):>4}  "
                f"{_age(now - last):>8}  {machine}"
            )
        return 0
    if args.action == "rm":
        keys = args.keys or [e.path.name for e in snapshots.entries()]
        missing = [key for key in keys if not snapshots.remove(key)]
        for key in missing:
            print(f"minibios: no saved state {key}", file=sys.stderr)
        return 1 if missing else 0
    max_age = args.max_age * 86400 if args.max_age is not None else None
    for name in snapshots.gc(max_age):
        print(f"removed {name}")
    return 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ExecInputError(f"bad --env {pair!r} (want NAME=VALUE)")
        env[key] = value
    return env


def _fail(message: str, code: int) -> int:
    print(f"minibios: {message}", file=sys.stderr)
    return code


def _settings(args: argparse.Namespace) -> ExecSettings:
    return ExecSettings(
        kernel=Path(args.kernel) if args.kernel else None,
        machine=args.machine,
        cpus=args.cpus,
        memory=args.memory,
        firmware=args.firmware,
        accel=args.accel,
        rootfs=args.rootfs,
        shares=tuple(ShareSpec.parse(s) for s in args.share),
        ready_timeout=args.ready_timeout,
        entry=args.entry,
        qemu=args.qemu or DEFAULT_QEMU,  # --qemu's default is None (cli/options.py)
        snapshot=args.snapshot,
    )


def pool_conflict(args: argparse.Namespace) -> str | None:
    """What the user asked for that a pool's VM cannot give (its VMs boot without virtiofs),
    or None. Other VM options are the pool's, as --pool's help says."""
    if args.share:
        return "--share"
    if args.rootfs == "host":
        return "--rootfs host"
    return None


def cmd_exec(args: argparse.Namespace, command: list[str]) -> int:
    if not command:
        raise ExecInputError("no command: put it after `--` (minibios exec -- CMD [ARG...])")
    if args.timeout is not None and args.timeout <= 0:
        raise ExecInputError("--timeout must be positive")
    settings = _settings(args)
    env = _env(args.env)
    if settings.kernel is not None and not settings.kernel.is_file():
        raise ExecInputError(f"kernel not found: {settings.kernel}")
    stdout, stderr = sys.stdout.fileno(), sys.stderr.fileno()
    sys.stdout.flush()
    machine = AgentMachine(settings)
    if args.pool:
        conflict = pool_conflict(args)
        channel = None if conflict else pool_connect(Path(args.pool))
        if channel is not None:
            machine = AgentMachine.attach(settings, channel)
        else:
            why = (
                f"not using the pool at {args.pool}: its VMs have no {conflict}"
                if conflict
                else f"no pool answers at {args.pool}"
            )
            print(f"minibios: {why}; starting a VM", file=sys.stderr)
    try:
        with machine as vm:
            for note in vm.notes:
                print(f"minibios: {note}", file=sys.stderr)
            result = vm.run(
                command,
                stdin_fd=sys.stdin.fileno(),
                timeout=args.timeout,
                env=env,
                cwd=args.workdir,
                on_stdout=lambda data: _write_all(stdout, data),
                on_stderr=lambda data: _write_all(stderr, data),
            )
            timings = result.timings
    except CommandTimeout as exc:
        return _fail(f"error: {exc}", EXIT_TIMEOUT)
    except AgentNotReady as exc:
        return _fail(f"error: {exc}", EXIT_NOT_READY)
    except (VmDied, ExecError) as exc:
        return _fail(f"error: {exc}", EXIT_VM_FAILED)
    except InputError:
        raise  # bad input, found before QEMU ran: the CLI's exit 2
    except MinibiosError as exc:  # e.g. QEMU's own complaint about the configuration
        return _fail(f"error: {exc}", EXIT_VM_FAILED)
    if args.time:
        print(timings.render(), file=sys.stderr)
    return result.shell_status
