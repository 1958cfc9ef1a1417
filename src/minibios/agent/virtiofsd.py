"""QEMU's C virtiofsd, one per shared directory: started before QEMU, always stopped after.

The launcher makes the listening vhost-user socket itself and hands it over
(--fd), so QEMU can connect the moment virtiofsd exists: there is no socket
file to wait for. A read-only share is made read-only on the host side too:
virtiofsd runs in its own mount namespace where the directory is a recursive
read-only bind mount (C virtiofsd has no read-only option).
"""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from minibios.errors import MinibiosError

VIRTIOFSD_PATHS = ("/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd")
STOP_GRACE = 2.0
_CLONE_NEWNS = 0x00020000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_MS_BIND = 0x1000
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_RDONLY = 0x1
_SYS_MOUNT_SETATTR = 442  # x86-64
_PR_SET_PDEATHSIG = 1


class VirtiofsdError(MinibiosError):
    """virtiofsd is missing or could not start."""


def find_virtiofsd() -> Path | None:
    for candidate in VIRTIOFSD_PATHS:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def virtiofs_blocker() -> str | None:
    """Why shared directories cannot work here, or None when they can."""
    if find_virtiofsd() is None:
        return "no virtiofsd (" + " or ".join(VIRTIOFSD_PATHS) + "; package qemu-system-common)"
    if os.geteuid() != 0:
        return "QEMU's C virtiofsd needs root (it sandboxes itself in namespaces)"
    return None


class _MountAttr(ctypes.Structure):
    _fields_ = (
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    )


def _child_setup(source: str, view: str | None) -> Any:
    """preexec_fn: die with our thread; for read-only shares, `view` becomes a private
    recursive read-only bind of `source` (a fresh dir: virtiofsd cannot pivot_root
    into a mount stacked on "/")."""
    libc = ctypes.CDLL(None, use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            err = ctypes.get_errno()
            os.write(2, f"minibios: {what}: {os.strerror(err)}\n".encode())
            os._exit(111)

    def setup() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if view is None:
            return
        src, dst = source.encode(), view.encode()
        check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
        check(libc.mount(src, dst, None, _MS_BIND | _MS_REC, None), f"bind {source}")
        attr = _MountAttr(_MOUNT_ATTR_RDONLY, 0, 0, 0)
        check(
            libc.syscall(
                _SYS_MOUNT_SETATTR,
                _AT_FDCWD,
                dst,
                _AT_RECURSIVE,
                ctypes.byref(attr),
                ctypes.sizeof(attr),
            ),
            f"make {source} read-only",
        )

    return setup


@dataclass(frozen=True)
class Share:
    """A host directory exported to the guest under a virtiofs tag."""

    source: Path
    tag: str
    readonly: bool


class Virtiofsd:
    """One running virtiofsd; `socket_path` is what QEMU's chardev connects to."""

    def __init__(self, share: Share, socket_path: Path, log_path: Path) -> None:
        self.share = share
        self.socket_path = socket_path
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        binary = find_virtiofsd()
        if binary is None:
            raise VirtiofsdError(virtiofs_blocker() or "no virtiofsd")
        if not self.share.source.is_dir():
            raise VirtiofsdError(f"shared directory not found: {self.share.source}")
        view = None
        if self.share.readonly:
            view = self.socket_path.with_suffix(".ro")
            view.mkdir()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.socket_path))
            listener.listen(1)
            self._log = open(self.log_path, "wb")  # noqa: SIM115 (kept for the daemon's life)
            argv = [
                # argv[0] names the VM's socket: `ps` (and the tests) tell whose it is.
                f"virtiofsd:{self.socket_path}",
                f"--fd={listener.fileno()}",
                "-o", f"source={view or self.share.source}",
                "-o", "cache=auto",
                "--rlimit-nofile=0",
            ]  # fmt: skip
            self._proc = subprocess.Popen(
                argv,
                executable=binary,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=self._log,
                pass_fds=(listener.fileno(),),
                start_new_session=True,
                preexec_fn=_child_setup(str(self.share.source), str(view) if view else None),
            )
        except OSError as exc:
            self.stop()
            raise VirtiofsdError(f"cannot start virtiofsd for {self.share.source}: {exc}") from exc
        finally:
            listener.close()

    def restart(self) -> None:
        """A fresh daemon on the same socket path: C virtiofsd serves one vhost-user
        connection and exits when it ends (e.g. a restored QEMU that was given up)."""
        self.stop()
        self._proc = None
        self.socket_path.unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.with_suffix(".ro").rmdir()  # the bind was in its namespace
        self.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def check(self) -> None:
        """Raise if virtiofsd has already died (its log says why)."""
        if self._proc is not None and self._proc.poll() is not None:
            raise VirtiofsdError(
                f"virtiofsd for {self.share.source} exited ({self._proc.returncode}): "
                f"{self.log().strip()[-500:]}"
            )

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; always reaps. Idempotent."""
        proc = self._proc
        if proc is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(STOP_GRACE)
            proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
