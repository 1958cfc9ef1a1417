"""Each VM's private temp dir (QMP socket, QEMU's stderr), and the ones left behind.

A Machine removes its dir when it stops. Only a process killed outright
(SIGKILL, OOM) cannot: QEMU dies with it (PR_SET_PDEATHSIG) but the dir stays.
So the dir's name carries its owner's pid, and the next Machine to start
removes the dirs whose owner no longer runs.
"""

import os
import shutil
import tempfile
from pathlib import Path

RUNTIME_DIR_PREFIX = "minibios-vm-"


def make_runtime_dir() -> Path:
    """A new dir, mode 0700 (mkdtemp's): only we can reach the socket inside."""
    return Path(tempfile.mkdtemp(prefix=f"{RUNTIME_DIR_PREFIX}{os.getpid()}-"))


def placeholder_runtime_dir() -> Path:
    """Where make_runtime_dir's dirs go, with X for the random part (for --dry-run)."""
    return Path(tempfile.gettempdir()) / f"{RUNTIME_DIR_PREFIX}{os.getpid()}-XXXXXXXX"


def _owner_pid(path: Path) -> int | None:
    pid, _, rest = path.name.removeprefix(RUNTIME_DIR_PREFIX).partition("-")
    return int(pid) if pid.isdigit() and rest else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_orphaned_runtime_dirs(parent: Path | None = None) -> list[Path]:
    """Remove our runtime dirs whose owning process is gone; return them.

    A pid reused since leaves its dir for a later sweep. A dir removed under a
    live VM (its owner in another pid namespace, say) costs it nothing: QEMU
    and its owner keep their open socket and file.
    """
    parent = parent if parent is not None else Path(tempfile.gettempdir())
    removed = []
    uid = os.getuid()
    for path in parent.glob(f"{RUNTIME_DIR_PREFIX}*"):
        pid = _owner_pid(path)
        try:
            mine = path.is_dir() and not path.is_symlink() and path.stat().st_uid == uid
        except OSError:
            continue
        if pid is None or not mine or _alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
