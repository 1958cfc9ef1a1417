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
from collections.abc import Sequence
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

    def refill(self) -> None:
        """Start waiting QEMUs until there are `size` of them."""
        while len(self._waiting) < self.size:
            vm = AgentMachine(self.settings)
            vm.prestart(self.warm)
            self._waiting.append(vm)

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
