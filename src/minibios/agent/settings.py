"""What `exec` is asked for and what it gives back: settings, results, errors."""

from dataclasses import dataclass, field
from pathlib import Path

from minibios.agent.protocol import ExitStatus
from minibios.errors import InputError, RunError

ROOTFS_CHOICES = ("auto", "host", "initramfs")
# ExecSettings.snapshot's values; here, not in agent/snapshot.py, so that the CLI's
# parser offers them without importing the VM stack.
SNAPSHOT_MODES = ("auto", "off", "refresh")


class ExecError(RunError):
    """The VM or its agent failed (not the command: its failure is its exit status)."""


class ExecInputError(InputError):
    """Bad input to exec, found before any VM starts."""


class AgentNotReady(ExecError):
    """The guest never reported ready."""


class VmDied(ExecError):
    """QEMU went away while the agent was needed."""


class CommandTimeout(ExecError):
    """The command ran past its timeout and was killed."""

    def __init__(self, message: str, stdout: bytes, stderr: bytes) -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class ShareSpec:
    """`--share HOST[:GUEST][:ro]`."""

    host: Path
    guest: str
    readonly: bool = False

    @classmethod
    def parse(cls, text: str) -> "ShareSpec":
        parts = text.split(":")
        readonly = False
        if len(parts) > 1 and parts[-1] in ("ro", "rw"):
            readonly = parts.pop() == "ro"
        if not parts[0] or len(parts) > 2:
            raise ExecInputError(f"bad --share {text!r} (want HOSTDIR[:GUESTDIR][:ro])")
        host = Path(parts[0]).resolve()
        guest = parts[1] if len(parts) == 2 else str(host)
        if not guest.startswith("/"):
            raise ExecInputError(f"--share {text!r}: the guest path must be absolute")
        if not host.is_dir():
            raise ExecInputError(f"--share {text!r}: {host} is not a directory")
        return cls(host, guest, readonly)


@dataclass(frozen=True)
class ExecSettings:
    kernel: Path | None = None
    machine: str = "pc"
    cpus: int = 1
    memory: str | int = "512M"
    firmware: str = "minibios"
    accel: str = "auto"
    rootfs: str = "auto"
    shares: tuple[ShareSpec, ...] = ()
    entry: str = "auto"  # auto, pvh or bzimage, as `minibios run --entry`
    ready_timeout: float = 120.0
    qemu: str = "qemu-system-x86_64"
    snapshot: str = "auto"  # auto: restore a saved state (saving one first); off; refresh
    snapshot_dir: Path | None = None  # where saved states live (default <cache>/snapshots)


@dataclass
class Timings:
    """Seconds spent in each phase; guest-side boundaries come from the guest's clock."""

    prepare: float = 0.0  # building/finding the agent image, starting virtiofsd
    qemu_start: float = 0.0  # QEMU exec to QMP answering
    # To the kernel's clock zero: the firmware, and the kernel's own start before its
    # timekeeping runs (setup_arch; with a bzImage its decompressor too). Telling the
    # two apart needs a debugger at the kernel entry: `minibios bench` does that.
    firmware: float = 0.0
    kernel: float = 0.0  # kernel clock zero to /init (the agent) starting
    agent_ready: float = 0.0  # /init to READY: modules, the port, mounts requested
    command: float = 0.0  # RUN sent to EXIT received
    save: float = 0.0  # saving a new boot state (a cache miss), restoring it included

    def phases(self) -> list[tuple[str, float]]:
        return [
            ("prepare", self.prepare),
            ("QEMU start", self.qemu_start),
            ("firmware+early kernel", self.firmware),
            ("kernel", self.kernel),
            ("agent ready", self.agent_ready),
            ("command", self.command),
            *([("save state", self.save)] if self.save else []),
        ]

    def render(self) -> str:
        total = sum(value for _, value in self.phases())
        parts = [f"{name} {value * 1000:.0f} ms" for name, value in self.phases()]
        return "minibios: time: " + ", ".join(parts) + f"; total {total * 1000:.0f} ms"


@dataclass
class ExecResult:
    """Like subprocess.CompletedProcess; returncode is -N for death by signal N."""

    args: list[str]
    returncode: int
    stdout: bytes
    stderr: bytes
    status: ExitStatus
    timings: Timings = field(default_factory=Timings)

    @property
    def shell_status(self) -> int:
        return self.status.shell_status
