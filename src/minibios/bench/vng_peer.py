"""The peer of `minibios bench-exec --peer vng`: virtme-ng's `vng --exec`, timed on the host.

vng (pip `virtme-ng`) boots a kernel with the host's root over 9p or virtiofs. Here it
works only as the README's tested line has it (tests/test_elsewhere.py runs that line):
  --disable-kvm      TCG, as every minibios row (no usable /dev/kvm on this host);
  --disable-microvm  a q35 machine: a TCG microvm kernel has no clock to calibrate with;
  --force-9p         vng wants the Rust virtiofsd, Debian 12 has QEMU's C one;
and with Debian's generic kernel: the cloud kernel has no 9p. vng finds the kernel's
modules beside it (`X/boot/vmlinuz-V`, `X/lib/modules/V`) and indexes them with depmod.

Without udev in the guest vng cannot find its script ports and runs the command on the
console; it then exits 255 whatever the command did. So the peer runs with `--verbose
--append quiet` (the console reaches us, the kernel's messages do not) and the command
prints its status after it, which is how a run is told to have worked.
"""

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from minibios.errors import RunError
from minibios.images.assets import AssetError, KernelAssets, find_kernel

# What makes vng run here, as in the README's tested line (test_elsewhere checks both).
VNG_FLAGS = ("--disable-microvm", "--force-9p")
VNG_TCG_FLAG = "--disable-kvm"
STATUS_MARK = "minibios-peer-status="
_STATUS_LINE = re.compile(rf"^{re.escape(STATUS_MARK)}(\d+)\r?$", re.MULTILINE)
RUN_TIMEOUT = 600.0  # one vng boot on a loaded 2-core TCG host
STOP_GRACE = 5.0


class VngError(RunError):
    """vng failed, timed out, or its command did not report a zero status."""


def find_vng(path: str | None = None) -> Path | None:
    """vng on PATH, or beside this Python (a venv's bin, which need not be on PATH)."""
    here = str(Path(sys.executable).parent)
    search = os.pathsep.join([here, path if path is not None else os.environ.get("PATH", "")])
    found = shutil.which("vng", path=search)
    return Path(found) if found else None


def vng_blocker() -> str | None:
    """Why vng cannot run here, or None."""
    if find_vng() is None:
        return "virtme-ng not installed (pip install virtme-ng; in .[test])"
    if shutil.which("depmod") is None:
        return "depmod not installed (kmod; run ./scripts/setup): vng needs it"
    return None


def generic_kernel() -> KernelAssets:
    """Debian's generic kernel, the one vng can boot here (it has 9p modules)."""
    return find_kernel(flavour="generic")


def peer_blocker() -> str | None:
    """Why the vng peer cannot run here (vng, depmod or the generic kernel missing)."""
    try:
        generic_kernel()
    except AssetError as exc:
        return f"no kernel vng can boot: {exc}"
    return vng_blocker()


def parse_status(console: str) -> int | None:
    """The command's exit status from the line it printed after it, None without one."""
    found = _STATUS_LINE.findall(console)
    return int(found[-1]) if found else None


def vng_version(vng: Path) -> str:
    """`vng --version`'s answer, e.g. "virtme-ng 1.42"."""
    try:
        answer = subprocess.run(
            [str(vng), "--version"], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise VngError(f"{vng} --version failed: {exc}") from exc
    return answer.stdout.strip()


@dataclass(frozen=True)
class VngPeer:
    vng: Path
    kernel: KernelAssets
    cpus: int = 1
    memory: str = "512M"
    tcg: bool = True  # the accelerator of the rows it stands beside
    version: str = "vng"

    @classmethod
    def here(cls, memory: str, tcg: bool) -> "VngPeer":
        """vng as found here (check peer_blocker first), on Debian's generic kernel."""
        vng = find_vng()
        if vng is None:
            raise VngError("virtme-ng not installed (pip install virtme-ng; in .[test])")
        return cls(vng, generic_kernel(), memory=memory, tcg=tcg, version=vng_version(vng))

    def describe(self) -> str:
        flags = " ".join([*([VNG_TCG_FLAG] if self.tcg else []), *VNG_FLAGS])
        return (
            f"{self.version}, `vng --run KERNEL {flags} --cpus {self.cpus} --memory "
            f"{self.memory} --exec ...`: a q35 machine, QEMU's default firmware (SeaBIOS), "
            "the host's root over 9p; wall = the vng process from start to exit (its Python, "
            "its initramfs build, QEMU, the boot, the command, the power-off); the minibios "
            "rows are timed inside the bench (no Python start)"
        )

    def argv(self, command: Sequence[str]) -> list[str]:
        script = f"{shlex.join(command)}; echo {STATUS_MARK}$?"
        return [
            str(self.vng), "--run", str(self.kernel.vmlinuz),
            *([VNG_TCG_FLAG] if self.tcg else []), *VNG_FLAGS,
            "--cpus", str(self.cpus), "--memory", self.memory,
            "--verbose", "--append", "quiet", "--exec", script,
        ]  # fmt: skip

    def env(self, tmpdir: Path) -> dict[str, str]:
        # vng runs virtme-run from its own directory by name.
        path = os.pathsep.join([str(self.vng.parent), os.environ.get("PATH", "")])
        return {**os.environ, "PATH": path, "TMPDIR": str(tmpdir)}


def _stop_group(proc: "subprocess.Popen[bytes]") -> None:
    """vng, virtme-run and QEMU: the session vng leads. TERM while vng runs, then KILL
    for whatever is left (QEMU may outlive vng)."""
    with contextlib.suppress(ProcessLookupError):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_GRACE)
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def run_peer(peer: VngPeer, command: Sequence[str], timeout: float = RUN_TIMEOUT) -> float:
    """Seconds from starting vng to its exit, the command having exited 0."""
    with tempfile.TemporaryDirectory(prefix="minibios-vng-") as tmp:
        began = time.monotonic()
        proc = subprocess.Popen(
            peer.argv(command),
            cwd=tmp,
            env=peer.env(Path(tmp)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # the console comes on either
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise VngError(f"vng did not finish within {timeout:g} s; stopped") from exc
        finally:
            _stop_group(proc)
        wall = time.monotonic() - began
    console = out.decode(errors="replace")
    status = parse_status(console)
    if status != 0:
        tail = "\n".join(console.splitlines()[-10:])
        said = "no status line" if status is None else f"status {status}"
        raise VngError(
            f"vng --exec {shlex.join(command)}: {said} (vng exited {proc.returncode}):\n{tail}"
        )
    return wall
