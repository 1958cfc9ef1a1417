"""Saved boot states: a VM booted once to "agent ready", saved, and restored for later runs.

The guest RAM lives in a file (memory-backend-file): saved with share=on and the
migration capability x-ignore-shared, the device stream (~0.2 MiB) is all QEMU writes.
A restore maps that file share=off (private copy-on-write: any number of VMs start from
one file and none changes it), waits at `-incoming defer`, loads the stream, `cont`.

An entry is a directory under <cache>/snapshots/<key>/ holding `ram`, `state` and
`meta.json`; it appears by rename() of a finished temp dir, so a reader sees a whole
entry or none. The key covers everything the saved guest depends on (see `cache_key`).
"""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from minibios.agent.protocol import PROTOCOL_VERSION
from minibios.agent.settings import ExecError
from minibios.images.file_memo import FileMemo
from minibios.vm.machine import Machine
from minibios.vm.spec import VmSpec

# Bump when the layout or the way a state is made changes.
FORMAT_VERSION = 2
RUNTIME_PLACEHOLDER = "@RUN@"
MIGRATE_TIMEOUT = 60.0
_HASH_CHUNK = 1 << 20


class SnapshotError(ExecError):
    """A saved state could not be made, checked or restored."""


def snapshot_dir(cache: Path) -> Path:
    """$MINIBIOS_SNAPSHOT_DIR, else <cache>/snapshots."""
    chosen = os.environ.get("MINIBIOS_SNAPSHOT_DIR")
    return Path(chosen) if chosen else cache / "snapshots"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stat_id(path: Path) -> dict[str, int]:
    """What a cheap check compares: a rewritten or replaced file changes one of these."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def qemu_version(qemu: str, memo: FileMemo | None = None) -> str:
    """`qemu --version`'s first line (remembered by the binary's identity in `memo`)."""
    if memo is None:
        return _ask_qemu_version(qemu)

    def decode(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("not a remembered version")
        return value

    return memo.remember(
        "qemu-version", [Path(qemu)], None, lambda: _ask_qemu_version(qemu), str, decode
    )


def _ask_qemu_version(qemu: str) -> str:
    try:
        done = subprocess.run(
            [qemu, "--version"], capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SnapshotError(f"cannot ask {qemu} for its version: {exc}") from exc
    return done.stdout.splitlines()[0] if done.stdout else ""


def _file_identity(path: Path | None, full_hash: bool) -> str | None:
    if path is None:
        return None
    if full_hash:
        return _file_sha256(path)
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def cache_key(
    spec: VmSpec, runtime_dir: Path, memo: FileMemo | None = None
) -> tuple[str, dict[str, object]]:
    """The key and what it was made of: the whole QEMU command line (per-run paths replaced),
    QEMU's version, the firmware's hash, the kernel and initrd (path, size, mtime: the
    initrd is content-addressed in the cache, so it names the agent too), the protocol."""
    argv = [
        arg.replace(str(runtime_dir), RUNTIME_PLACEHOLDER)
        for arg in spec.argv(Path(RUNTIME_PLACEHOLDER) / "qmp.sock")
    ]
    parts: dict[str, object] = {
        "format": FORMAT_VERSION,
        "qemu": qemu_version(spec.qemu, memo),
        "argv": argv,
        "firmware": _file_identity(spec.firmware.path if spec.firmware else None, True),
        "kernel": _file_identity(spec.kernel, False),
        "initrd": _file_identity(spec.initrd, False),
        "agent_protocol": PROTOCOL_VERSION,
    }
    blob = json.dumps(parts, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32], parts


@dataclass(frozen=True)
class Entry:
    """A finished saved state."""

    path: Path
    meta: dict[str, object]

    @property
    def ram(self) -> Path:
        return self.path / "ram"

    @property
    def state(self) -> Path:
        return self.path / "state"

    def check(self) -> None:
        """Cheap check before a restore: the files are those saved (size, mtime, inode of
        both, and the stream's hash; the RAM file's hash is in meta, checked by `verify`)."""
        files = self.meta.get("files")
        if not isinstance(files, dict):
            raise SnapshotError(f"{self.path}: no file record in meta.json")
        for name, path in (("ram", self.ram), ("state", self.state)):
            try:
                now = _stat_id(path)
            except OSError as exc:
                raise SnapshotError(f"{path}: {exc.strerror}") from exc
            if files.get(name) != now:
                raise SnapshotError(f"{path} changed since it was saved")
        if _file_sha256(self.state) != self.meta.get("state_sha256"):
            raise SnapshotError(f"{self.state}: hash differs from the one saved")

    def verify(self) -> None:
        """The full check: check() plus the RAM file's hash (reads the whole file)."""
        self.check()
        if _file_sha256(self.ram) != self.meta.get("ram_sha256"):
            raise SnapshotError(f"{self.ram}: hash differs from the one saved")

    def touch(self) -> None:
        with contextlib.suppress(OSError):
            os.utime(self.path / "meta.json")


class SnapshotCache:
    """<cache>/snapshots: entries by key, a lock per key, temp dirs for entries being made."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entry(self, key: str) -> Entry | None:
        path = self.root / key
        try:
            meta = json.loads((path / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        return Entry(path, meta) if isinstance(meta, dict) else None

    def entries(self) -> list[Entry]:
        if not self.root.is_dir():
            return []
        found = [self.entry(p.name) for p in sorted(self.root.iterdir()) if p.is_dir()]
        return [e for e in found if e is not None]

    def remove(self, key: str) -> bool:
        """Remove an entry (renamed aside first, so no reader sees it half-deleted) and its
        lock file unless someone holds it."""
        path = self.root / key
        self._remove_lock(self._lock_path(key))
        if not path.is_dir():
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        trash = Path(tempfile.mkdtemp(prefix=".rm-", dir=self.root))
        with contextlib.suppress(FileNotFoundError):
            path.rename(trash / key)
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def gc(self, max_age: float | None = None) -> list[str]:
        """Remove leftover temp dirs of dead savers and entries unused for `max_age` s."""
        removed: list[str] = []
        if not self.root.is_dir():
            return removed
        for path in self.root.iterdir():
            if path.name.startswith(".tmp-") or path.name.startswith(".rm-"):
                pid = path.name.split("-")[1]
                if pid.isdigit() and _pid_alive(int(pid)):
                    continue
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        if max_age is not None:
            for entry in self.entries():
                age = time.time() - (entry.path / "meta.json").stat().st_mtime
                if age > max_age and self.remove(entry.path.name):
                    removed.append(entry.path.name)
        for lock in self.root.glob(".*.lock"):  # a held one is in use: it stays
            if self._remove_lock(lock):
                removed.append(lock.name)
        return removed

    def _lock_path(self, key: str) -> Path:
        return self.root / f".{key}.lock"

    @staticmethod
    def _remove_lock(path: Path) -> bool:
        """Unlink a lock file only while holding it (taken without waiting), so nobody
        holds a lock on a file that is gone; `lock` checks that what it got is still the
        file at that path. False if it is held or absent."""
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        try:
            if _same_file(fd, path):
                path.unlink()
                return True
            return False
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[None]:
        """One saver per key; the kernel drops the lock when its holder dies. `gc` and
        `remove` unlink lock files they can take: a lock won on a file unlinked meanwhile
        is worthless (the next comer creates a new one), so it is taken again."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._lock_path(key)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, path):
                break
            os.close(fd)
        try:
            yield
        finally:
            os.close(fd)

    def new_temp(self) -> Path:
        """A private dir on the cache's filesystem for an entry being made (rename later)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.gc()
        return Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-", dir=self.root))

    def commit(self, temp: Path, key: str) -> Entry:
        """Make `temp` the entry for `key` (replacing an old one) in one rename."""
        self.remove(key)
        temp.rename(self.root / key)
        entry = self.entry(key)
        if entry is None:
            raise SnapshotError(f"the saved entry {key} is unreadable")
        return entry


def _same_file(fd: int, path: Path) -> bool:
    """Whether `path` still names the file open at `fd`."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ram_args(memory: int, ram: Path, share: bool) -> list[str]:
    """The machine's RAM as a file: share=on to save it, share=off (copy-on-write) to restore."""
    mode = "on" if share else "off"
    return [
        "-object",
        f"memory-backend-file,id=mbmem,size={memory},mem-path={ram},share={mode}",
        "-machine",
        "memory-backend=mbmem",
    ]


def _wait_migration(machine: Machine, what: str, incoming: bool) -> None:
    deadline = time.monotonic() + MIGRATE_TIMEOUT
    while True:
        info = machine.qmp.cmd("query-migrate")
        status = info.get("status") if isinstance(info, dict) else None
        if status == "completed":
            return
        if status in ("failed", "cancelled"):
            detail = info.get("error-desc", "") if isinstance(info, dict) else ""
            raise SnapshotError(f"{what} {status}: {detail}{_qemu_said(machine)}")
        if incoming and status is None:
            # A destination reports nothing until it starts; QEMU exits if the load fails.
            run = machine.qmp.cmd("query-status")
            if isinstance(run, dict) and run.get("status") not in ("inmigrate", "paused"):
                return
        if time.monotonic() > deadline:
            raise SnapshotError(f"{what} did not finish within {MIGRATE_TIMEOUT:g} s")
        time.sleep(0.002)


def _qemu_said(machine: Machine) -> str:
    text = machine.stderr.strip()
    return f"; QEMU: {text[-300:]}" if text else ""


def save(machine: Machine, stream: Path) -> None:
    """Stop the guest and write its device state to `stream` (RAM stays in its file)."""
    qmp = machine.qmp
    try:
        qmp.cmd("stop")
        qmp.cmd(
            "migrate-set-capabilities",
            capabilities=[{"capability": "x-ignore-shared", "state": True}],
        )
        qmp.cmd("migrate", uri=f"exec:cat > {_shell_quote(stream)}")
        _wait_migration(machine, "saving the VM", incoming=False)
    except SnapshotError:
        raise
    except Exception as exc:  # QMP errors and a QEMU gone mid-command
        raise SnapshotError(f"saving the VM failed: {exc}{_qemu_said(machine)}") from exc


def load(
    machine: Machine,
    stream: Path | int,
    timeout: float = MIGRATE_TIMEOUT,
    run: bool = True,
    before_cont: Callable[[], None] | None = None,
) -> None:
    """In a QEMU started with -incoming defer: load `stream` (a path, or an open fd that
    stays the caller's) within `timeout` s, call `before_cont` (e.g. to hot-plug devices
    the state cannot hold), then let the guest run (else `resume` later)."""
    qmp = machine.qmp
    try:
        qmp.cmd(
            "migrate-set-capabilities",
            capabilities=[{"capability": "x-ignore-shared", "state": True}],
        )
        # The stream's fd, passed over QMP: no shell and cat for QEMU to fork.
        fd = stream if isinstance(stream, int) else os.open(stream, os.O_RDONLY | os.O_CLOEXEC)
        try:
            qmp.send_fd_scm(fd)
            qmp.cmd("getfd", fdname="mbstate")
        finally:
            if not isinstance(stream, int):
                os.close(fd)
        qmp.cmd("migrate-incoming", uri="fd:mbstate")
        deadline = time.monotonic() + timeout
        while True:
            status = qmp.cmd("query-status").get("status")
            if status == "paused":
                break
            if status not in ("inmigrate",):
                raise SnapshotError(f"the VM is {status!r} after loading its state")
            if time.monotonic() > deadline:
                raise SnapshotError(f"loading the state took over {timeout:g} s")
            time.sleep(0.002)
        if before_cont is not None:
            before_cont()
        if run:
            qmp.cmd("cont")
    except SnapshotError as exc:
        raise SnapshotError(f"{exc}{_qemu_said(machine)}") from exc
    except Exception as exc:  # QMP errors and a QEMU that exited refusing the stream
        raise SnapshotError(f"restoring the VM failed: {exc!r}{_qemu_said(machine)}") from exc


def resume(machine: Machine) -> None:
    """Let a guest loaded with load(run=False) run."""
    try:
        machine.qmp.cmd("cont")
    except Exception as exc:  # QMP errors and a QEMU gone meanwhile
        raise SnapshotError(f"resuming the VM failed: {exc!r}{_qemu_said(machine)}") from exc


def _shell_quote(path: Path) -> str:
    text = str(path)
    if "'" in text:
        raise SnapshotError(f"cannot use a path with a quote for a saved state: {text}")
    return f"'{text}'"


def write_meta(temp: Path, key: str, parts: dict[str, object]) -> None:
    """Record the files as saved, the RAM's hash among them."""
    ram, state = temp / "ram", temp / "state"
    meta = {
        "key": key,
        "parts": parts,
        "created": time.time(),
        "ram_sha256": _file_sha256(ram),
        "state_sha256": _file_sha256(state),
        "files": {"ram": _stat_id(ram), "state": _stat_id(state)},
    }
    tmp = temp / "meta.json.tmp"
    with tmp.open("w") as file:
        json.dump(meta, file, indent=1)
        file.flush()
        os.fsync(file.fileno())
    tmp.rename(temp / "meta.json")
