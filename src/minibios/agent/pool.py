"""A pool of QEMUs started ahead of time for one saved state, waiting at -incoming defer.

    with SnapshotPool(ExecSettings(rootfs="initramfs"), size=2) as pool:
        with pool.take() as vm:      # loaded, seeded, ready: no QEMU start to wait for
            vm.run(["/bin/true"])
        pool.refill()                # when idle: start the ones handed out again

    SnapshotPool(settings, size=2, warm=["/bin/true"])  # each waiting guest ran it once

A waiting QEMU was started at -incoming defer on the RAM file and has loaded the device
state, paused: no guest instruction has run in it, and it uses no CPU while it waits.
`take()` lets it run, sends PING and SEED (the clock and fresh entropy of the moment it
is handed out) and hands the VM over: the caller closes it. Refilling is the owner's
call, never on a taker's time; a take from an empty pool, or past waiting QEMUs that
fail, starts a VM the ordinary way.

With `warm`, each waiting guest is resumed and runs that command once before it waits
(running, idle, not yet seeded): a restored guest's first command costs ~10x its second,
because TCG translates afresh the kernel's and busybox's code it takes; a warm guest has
that done. Its clock and RNG are still set by the SEED at take(), before any user command.
"""

import contextlib
import os
import queue
import select
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from minibios.agent.session import AgentMachine
from minibios.agent.settings import ExecError, ExecSettings
from minibios.vm.machine import MachineError


class SnapshotPool:
    """`size` AgentMachines prestarted for `settings`; `take()` hands one out."""

    def __init__(self, settings: ExecSettings, size: int = 1, warm: Sequence[str] = ()) -> None:
        if size < 1:
            raise ValueError("a pool holds at least one VM")
        self.settings = settings
        self.size = size
        self.warm = tuple(warm)
        self.notes: list[str] = []
        self._waiting: list[AgentMachine] = []

    def __enter__(self) -> "SnapshotPool":
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def waiting(self) -> list[AgentMachine]:
        return list(self._waiting)

    def open(self) -> None:
        """Make the saved state if there is none (one ordinary start), then fill the pool."""
        try:
            self.refill()
        except ExecError:
            with AgentMachine(self.settings):
                pass
            self.refill()

    def refill(self, at_most: int | None = None) -> None:
        """Start waiting QEMUs until there are `size` of them (or `at_most` more)."""
        started = 0
        while len(self._waiting) < self.size and (at_most is None or started < at_most):
            vm = AgentMachine(self.settings)
            vm.prestart(self.warm)
            self._waiting.append(vm)
            started += 1

    def take(self) -> AgentMachine:
        """A VM ready for run(): a waiting one loaded, else one started as usual."""
        while self._waiting:
            vm = self._waiting.pop(0)
            try:
                vm.finish_start()
            except (ExecError, MachineError) as exc:  # finish_start closed it
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                self.notes.append(f"a waiting VM failed ({reason}); trying the next")
                continue
            return vm
        vm = AgentMachine(self.settings)
        vm.start()
        return vm

    def close(self) -> None:
        """Stop every waiting QEMU. Idempotent."""
        while self._waiting:
            with contextlib.suppress(Exception):
                self._waiting.pop().close()


_RELAY_CHUNK = 1 << 18


@dataclass
class _Session:
    """One client of `minibios pool`, its VM, and the thread relaying between them."""

    client: socket.socket
    vm: AgentMachine
    thread: threading.Thread | None = None

    def relay(self, finished: "queue.SimpleQueue[_Session]") -> None:
        try:
            _relay(self.client, self.vm.channel())
        finally:
            finished.put(self)

    def end(self) -> None:
        """The client is done (or the server stops): let the relay go, stop the VM."""
        with contextlib.suppress(OSError):
            self.client.shutdown(socket.SHUT_RDWR)
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.client.close()
        self.vm.close()


def serve(pool: SnapshotPool, path: Path, stopping: Callable[[], bool]) -> None:
    """`minibios pool`: hand a VM to each client of the unix socket `path`, relaying bytes
    between the client and the VM's agent channel until either side closes, then stop
    that VM. Clients are served at once, each relay in a thread of its own; this thread
    does everything else (a QMP connection is bound to the thread that made it) and,
    between clients, starts waiting VMs again one at a time, so that a client arriving
    meanwhile waits for one start at most."""
    if path.exists() and not path.is_socket():
        raise ExecError(f"{path} exists and is not a socket")
    live = connect(path)
    if live is not None:
        live.close()
        raise ExecError(f"a pool already serves {path}")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a dead server's leftover
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sessions: list[_Session] = []
    finished: queue.SimpleQueue[_Session] = queue.SimpleQueue()
    try:
        listener.bind(str(path))
        listener.listen(16)
        while not stopping():
            short = len(pool.waiting) < pool.size
            if select.select([listener], [], [], 0 if short else 0.2)[0]:
                session = _accept(pool, listener)
                if session is not None:
                    session.thread = threading.Thread(
                        target=session.relay, args=(finished,), name="minibios-pool-relay"
                    )
                    sessions.append(session)
                    session.thread.start()
            while not finished.empty():
                done = finished.get()
                sessions.remove(done)
                done.end()
            if short:
                pool.refill(at_most=1)
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        for session in sessions:
            session.end()


def _accept(pool: SnapshotPool, listener: socket.socket) -> _Session | None:
    client, _ = listener.accept()
    try:
        return _Session(client, pool.take())
    except (ExecError, MachineError) as exc:  # the client sees its end close
        pool.notes.append(f"no VM for a client: {exc}")
        client.close()
        return None


def _relay(client: socket.socket, agent: socket.socket) -> None:
    client.setblocking(False)
    ends = {client.fileno(): agent, agent.fileno(): client}
    while True:
        readable, _, _ = select.select(list(ends), [], [])
        for fd in readable:
            source = client if fd == client.fileno() else agent
            try:
                data = source.recv(_RELAY_CHUNK)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not data:
                return
            try:
                _send_all(ends[fd], data)
            except OSError:
                return


def _send_all(sock: socket.socket, data: bytes) -> None:
    view = memoryview(data)
    while view:
        select.select([], [sock], [])
        try:
            sent = sock.send(view)
        except BlockingIOError:
            continue
        view = view[sent:]


def connect(path: Path) -> socket.socket | None:
    """A connection to the pool server at `path`, or None if none answers there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(os.fspath(path))
    except OSError:
        sock.close()
        return None
    return sock
