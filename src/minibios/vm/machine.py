"""Run one QEMU VM as a context manager that always cleans up after itself."""

import contextlib
import ctypes
import enum
import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from qemu.qmp.legacy import QEMUMonitorProtocol

from minibios.errors import RunError
from minibios.vm.console import ConsoleBuffer, OutputCallback, pump
from minibios.vm.page_out import page_out_file
from minibios.vm.runtime_dir import make_runtime_dir, remove_orphaned_runtime_dirs
from minibios.vm.spec import VmSpec

# "Power down" when the kernel has a power-off method, "System halted" when it
# has none (no ACPI): either way the guest is done, even if QEMU keeps running.
POWER_OFF_RE = re.compile(r"reboot: (?:Power down|System halted)")
PANIC_RE = re.compile(r"Kernel panic - not syncing")
# minibios's one line before it powers off (or, with no way to, halts): no kernel ran.
FIRMWARE_ERROR_RE = re.compile(r"^minibios: error: ", re.MULTILINE)
HALT_GRACE = 1.0
POLL_INTERVAL = 0.05
QMP_COMMAND_TIMEOUT = 2.0
PR_SET_PDEATHSIG = 1
log = logging.getLogger(__name__)


class _RetriedConnectFilter(logging.Filter):
    """Drops qemu.qmp's ERROR line for a connect attempt that failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        first = record.args[0] if isinstance(record.args, tuple) and record.args else ""
        return not str(first).startswith("Failed to establish")


@contextlib.contextmanager
def retried_connects_unlogged() -> Iterator[None]:
    """qemu.qmp logs every refused connect at ERROR (the socket file exists a moment
    before QEMU listens on it); the launcher retries those, so they are not errors."""
    qmp_log = logging.getLogger("qemu.qmp.protocol")
    drop = _RetriedConnectFilter()
    qmp_log.addFilter(drop)
    try:
        yield
    finally:
        qmp_log.removeFilter(drop)


class VmEnd(enum.Enum):
    """How a VM run ended."""

    RUNNING = "running"
    POWERED_OFF = "powered off"
    RESET = "reset"
    PANICKED = "panicked"
    FIRMWARE_ERROR = "stopped by a firmware error"
    TIMEOUT = "timeout"
    START_FAILED = "QEMU failed to start"
    QEMU_ERROR = "QEMU exited with an error"
    KILLED = "killed"


class MachineError(RunError):
    """Something went wrong running the VM."""


class QemuStartError(MachineError):
    """QEMU exited (or never answered on QMP) before the VM ran."""

    def __init__(self, message: str, stderr: str) -> None:
        super().__init__(message)
        self.stderr = stderr


class VmEndedError(MachineError):
    """The VM ended before the awaited console output appeared."""


class ConsoleTimeout(RunError, TimeoutError):
    """wait_for() gave up; the message carries the console tail (a RunError: exit 4)."""

    def __init__(self, pattern: str, timeout: float, tail: str) -> None:
        super().__init__(
            f"no console match for {pattern!r} within {timeout:g} s; console tail:\n{tail}"
        )
        self.pattern = pattern
        self.tail = tail


def _shutdown_reason_end(reason: str) -> VmEnd | None:
    """Map a QMP SHUTDOWN event's reason to how the VM ended."""
    if reason == "guest-shutdown":
        return VmEnd.POWERED_OFF
    if reason == "guest-reset":
        return VmEnd.RESET
    if reason == "guest-panic":
        return VmEnd.PANICKED
    if reason.startswith("host-"):
        return VmEnd.KILLED
    return None


def _with_pdeathsig(argv: list[str]) -> tuple[list[str], Any]:
    """argv and preexec_fn that have the kernel SIGKILL QEMU if we die without cleaning
    up. util-linux's setpriv (Essential in Debian) sets it and execs QEMU in place, so
    Python can vfork: a preexec_fn makes it fork, copying its page tables (~7-15 ms per
    VM here, more the bigger the process)."""
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        return [setpriv, "--pdeathsig", "KILL", "--", *argv], None
    return argv, _pdeathsig_setter()


def _pdeathsig_setter() -> Any:
    """A preexec_fn asking the kernel to SIGKILL QEMU if we die without cleaning up."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_pdeathsig() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return set_pdeathsig


class Machine:
    """A QEMU VM: `with Machine(spec) as vm: ...` runs the VmSpec, nothing else.

    Building one starts nothing and builds nothing (the spec's firmware is a file
    already).

    The console is collected in a thread; `wait_for`, iteration and
    `wait_exit` poll for the end of the run. On leaving the block QEMU is
    always stopped (QMP quit, then SIGTERM, then SIGKILL), reaped, and the
    private temp dir holding the QMP socket is removed.

    QEMU gets PR_SET_PDEATHSIG, which fires when the *thread* that started it
    exits: start machines from a thread that outlives them.
    """

    def __init__(
        self,
        spec: VmSpec,
        *,
        on_output: OutputCallback | None = None,
        start_timeout: float = 30.0,
        stop_grace: float = 3.0,
    ) -> None:
        self.spec = spec
        self._on_output = on_output
        self._start_timeout = start_timeout
        self._stop_grace = stop_grace
        self._buffer = ConsoleBuffer()
        self._proc: subprocess.Popen[bytes] | None = None
        self._qmp: QEMUMonitorProtocol | None = None
        self._reader: threading.Thread | None = None
        self._tmpdir: Path | None = None
        self._stderr_file: IO[bytes] | None = None
        self._stderr_text = ""
        self._shutdown_reason: str | None = None
        self.end = VmEnd.RUNNING
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.returncode: int | None = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> "Machine":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def runtime_dir(self) -> Path | None:
        """The private temp dir (QMP socket, QEMU's stderr) while the VM exists."""
        return self._tmpdir

    @property
    def pid(self) -> int | None:
        """QEMU's process id while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def qmp_socket(self) -> Path:
        """Where QEMU serves QMP: in the runtime dir, made as the VM starts."""
        if self._tmpdir is None:
            raise MachineError("the VM has not been started")
        return self._tmpdir / "qmp.sock"

    @property
    def argv(self) -> list[str]:
        """QEMU's command line for this run (the spec's, with this run's QMP socket)."""
        return self.spec.argv(self.qmp_socket)

    def start(self) -> None:
        if self._proc is not None:
            raise MachineError("a Machine can only be started once")
        remove_orphaned_runtime_dirs()
        self._tmpdir = make_runtime_dir()
        try:
            self._launch()
            self._connect_qmp()
            self._page_out_kernel()
        except BaseException:
            self.close()
            raise

    def _launch(self) -> None:
        assert self._tmpdir is not None
        # Kept open for the VM's lifetime; _release() closes it.
        self._stderr_file = open(self._tmpdir / "qemu.stderr", "w+b")  # noqa: SIM115
        self.started_at = time.monotonic()
        log.info("starting %s", self.spec.shell_command(self.qmp_socket))
        try:
            # Not found or not executable: Popen says which (setpriv only would on stderr).
            qemu = shutil.which(self.spec.qemu)
            argv, preexec_fn = (
                _with_pdeathsig([qemu, *self.argv[1:]]) if qemu else (self.argv, None)
            )
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr_file,
                process_group=0,  # our own process group: ^C goes to us only
                preexec_fn=preexec_fn,
            )
        except OSError as exc:
            self.end = VmEnd.START_FAILED
            raise QemuStartError(f"cannot run {self.spec.qemu}: {exc.strerror}", "") from exc
        assert self._proc.stdout is not None
        self._reader = threading.Thread(
            target=pump,
            args=(self._proc.stdout, self._buffer, self._on_output),
            name="minibios-console",
            daemon=True,
        )
        self._reader.start()

    def _connect_qmp(self) -> None:
        assert self._proc is not None and self._tmpdir is not None
        socket_path = self.qmp_socket
        deadline = time.monotonic() + self._start_timeout
        while True:
            if self._proc.poll() is not None:
                self._fail_start(f"QEMU failed to start (exit {self._proc.returncode})")
            if socket_path.exists():
                qmp = QEMUMonitorProtocol(str(socket_path))
                try:
                    with retried_connects_unlogged():
                        qmp.connect()
                except Exception:  # not accepting yet, or QEMU died mid-greeting
                    with contextlib.suppress(Exception):  # half-open: nothing to close cleanly
                        qmp.close()
                else:
                    qmp.settimeout(QMP_COMMAND_TIMEOUT)
                    self._qmp = qmp
                    return
            if time.monotonic() > deadline:
                self._fail_start(f"QEMU did not answer on QMP within {self._start_timeout:g} s")
            time.sleep(0.002)  # a stat per poll; QEMU answers ~30 ms after exec

    def _page_out_kernel(self) -> None:
        """QEMU answers QMP only after its first reset (the handshake runs in the main
        loop, which starts after it), and that reset has copied the kernel into guest
        RAM: the file's mapping is kept only for a later reset. An -incoming QEMU has
        copied nothing, and then there is nothing resident to page out."""
        assert self._proc is not None
        incoming = "-incoming" in self.spec.extra_args  # a restore: keep its start short
        if self.spec.kernel_page_out and self.spec.kernel is not None and not incoming:
            page_out_file(self._proc.pid, self.spec.kernel)

    def _fail_start(self, message: str) -> None:
        self._stop_process()
        self.end = VmEnd.START_FAILED
        stderr = self.stderr.strip()
        detail = f": {stderr}" if stderr else ""
        raise QemuStartError(message + detail, stderr)

    def close(self) -> None:
        """Stop QEMU if needed and remove every trace of this run. Idempotent."""
        deferred: list[int] = []
        previous: Any = None
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            # Another ^C while we clean up would leave QEMU behind; hold it.
            previous = signal.signal(signal.SIGINT, lambda signum, frame: deferred.append(signum))
        try:
            if self._proc is not None and self._proc.poll() is None:
                if self.end is VmEnd.RUNNING:
                    self.end = VmEnd.KILLED
                self._stop_process()
            elif self._proc is not None and self.end is VmEnd.RUNNING:
                self._poll_end()
        finally:
            self._release()
            if in_main:
                signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if deferred:
            raise KeyboardInterrupt

    def _stop_process(self) -> None:
        """QMP quit, then SIGTERM, then SIGKILL to QEMU's process group; always reaps."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None and self._qmp is not None:
                with contextlib.suppress(Exception):  # QEMU may close before replying
                    self._qmp.cmd("quit")
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(self._stop_grace)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                    # A stopped (SIGSTOP, ^Z) QEMU only acts on SIGTERM once continued.
                    os.killpg(proc.pid, signal.SIGCONT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(self._stop_grace)
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.returncode = proc.returncode
            if self.ended_at is None:
                self.ended_at = time.monotonic()

    def _release(self) -> None:
        if self._qmp is not None:
            with contextlib.suppress(Exception):  # QEMU gone: the socket may be dead already
                self._qmp.close()
            self._qmp = None
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._stderr_file is not None:
            self._stderr_text = self._read_stderr()
            self._stderr_file.close()
            self._stderr_file = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # -- state ---------------------------------------------------------------

    def _read_stderr(self) -> str:
        if self._stderr_file is None:
            return self._stderr_text
        self._stderr_file.flush()
        self._stderr_file.seek(0)
        return self._stderr_file.read().decode(errors="replace")

    @property
    def stderr(self) -> str:
        """What QEMU wrote to its stderr."""
        return self._read_stderr()

    @property
    def console(self) -> str:
        """Console text so far (CR dropped)."""
        return self._buffer.text

    @property
    def qmp(self) -> QEMUMonitorProtocol:
        if self._qmp is None:
            raise MachineError("no QMP connection: the VM is not running")
        return self._qmp

    @property
    def running(self) -> bool:
        return self.end is VmEnd.RUNNING and self._proc is not None

    def elapsed_at(self, offset: int) -> float | None:
        """Seconds from QEMU's start until console character `offset` arrived."""
        when = self._buffer.time_at(offset)
        if when is None or self.started_at is None:
            return None
        return when - self.started_at

    @property
    def duration(self) -> float | None:
        """Seconds from QEMU's start until the guest finished (None while running)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def _drain_events(self) -> None:
        if self._qmp is None:
            return
        try:
            events = self._qmp.get_events(wait=False)
        except Exception as exc:  # a QEMU gone mid-read: its exit status tells the end
            log.debug("QMP events unreadable: %r", exc)
            return
        for event in events:
            if event.get("event") == "SHUTDOWN":
                self._shutdown_reason = str(event.get("data", {}).get("reason", ""))

    def _classify_exit(self, returncode: int) -> VmEnd:
        if returncode < 0:
            return VmEnd.KILLED
        if returncode != 0:
            return VmEnd.QEMU_ERROR
        text = self.console
        if PANIC_RE.search(text):
            return VmEnd.PANICKED
        if FIRMWARE_ERROR_RE.search(text):
            return VmEnd.FIRMWARE_ERROR
        from_event = _shutdown_reason_end(self._shutdown_reason or "")
        if from_event is not None:
            return from_event
        return VmEnd.POWERED_OFF if POWER_OFF_RE.search(text) else VmEnd.RESET

    def _poll_end(self) -> VmEnd:
        """Check whether the run is over; stop a guest that halted without exiting."""
        if self.end is not VmEnd.RUNNING or self._proc is None:
            return self.end
        self._drain_events()
        returncode = self._proc.poll()
        if returncode is not None:
            self._drain_events()  # the SHUTDOWN event may still sit in the socket
            self.returncode = returncode
            self.ended_at = self._buffer.eof_time or time.monotonic()
            self.end = self._classify_exit(returncode)
            return self.end
        text = self.console
        for regex, end in (
            (PANIC_RE, VmEnd.PANICKED),
            (FIRMWARE_ERROR_RE, VmEnd.FIRMWARE_ERROR),
            (POWER_OFF_RE, VmEnd.POWERED_OFF),
        ):
            match = regex.search(text)
            if match is None:
                continue
            seen = self._buffer.time_at(match.start()) or time.monotonic()
            if time.monotonic() - seen >= HALT_GRACE:
                self._stop_process()
                self.ended_at = seen
                self.end = end
                return end
        return VmEnd.RUNNING

    # -- waiting -------------------------------------------------------------

    def wait_for(
        self, pattern: str | re.Pattern[str], timeout: float, since: int = 0
    ) -> re.Match[str]:
        """Block until `pattern` (a regex) matches the console at or after `since`."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.console, since)
            if match is not None:
                return match
            if self._poll_end() is not VmEnd.RUNNING:
                match = regex.search(self.console, since)  # output may have raced the exit
                if match is not None:
                    return match
                raise VmEndedError(
                    f"VM {self.end.value} before console matched {regex.pattern!r}; "
                    f"console tail:\n{self._buffer.tail()}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConsoleTimeout(regex.pattern, timeout, self._buffer.tail())
            self._buffer.wait(min(POLL_INTERVAL, remaining))

    def wait_exit(self, timeout: float) -> VmEnd:
        """Wait for the guest to finish; past `timeout` stop it and report TIMEOUT."""
        deadline = time.monotonic() + timeout
        while (end := self._poll_end()) is VmEnd.RUNNING:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.end = VmEnd.TIMEOUT
                self._stop_process()
                return self.end
            self._buffer.wait(min(POLL_INTERVAL, remaining))
        return end

    def __iter__(self) -> Iterator[str]:
        """Console lines as they arrive, until the VM ends."""
        pos = 0
        while True:
            text = self.console
            newline = text.find("\n", pos)
            if newline >= 0:
                yield text[pos:newline]
                pos = newline + 1
                continue
            if self._poll_end() is not VmEnd.RUNNING and self._buffer.eof_time is not None:
                rest = self.console[pos:]
                if "\n" in rest:
                    continue
                if rest:
                    yield rest
                return
            self._buffer.wait(POLL_INTERVAL)
