"""`minibios exec`: run a command in a fresh VM; its output and exit status come back.

(And `snapshot`, `pool`; their options are in cli/exec_options.py.)

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
    AgentNotReady,
    CommandTimeout,
    ExecError,
    ExecInputError,
    ExecSettings,
    ShareSpec,
    VmDied,
)
from minibios.agent.snapshot import SnapshotCache, snapshot_dir
from minibios.errors import InputError, MinibiosError
from minibios.images.assets import cache_dir
from minibios.vm.spec import DEFAULT_QEMU

EXIT_NOT_READY = 123  # the guest agent never reported ready
EXIT_TIMEOUT = 124  # --timeout passed; the command was killed (as coreutils timeout)
EXIT_VM_FAILED = 125  # QEMU failed to start or died, or the agent misbehaved


def cmd_pool(args: argparse.Namespace) -> int:
    if args.size < 1:
        raise ExecInputError("--size must be at least 1")
    warm = ("/bin/true",) if args.warm else ()
    with SnapshotPool(_settings(args), size=args.size, warm=warm) as pool:
        print(f"minibios: pool: {args.size} VM(s) waiting, serving {args.socket}", file=sys.stderr)
        serve(pool, Path(args.socket), lambda: False)
    return 0


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
