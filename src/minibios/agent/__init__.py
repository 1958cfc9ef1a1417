"""Run commands in a VM: the guest agent, its protocol, and the host side that drives it.

from minibios.agent import AgentMachine, ExecSettings, exec

result = exec(["uname", "-r"])                  # one VM, one command
with AgentMachine(ExecSettings()) as vm:        # one VM, many commands
    vm.run(["true"]); vm.run(["cat"], input=b"x")

AgentMachine, exec and SnapshotPool (the session and the pool, and with them QEMU's QMP
and asyncio) are imported on first use (`__getattr__`): importing one light module of
this package, `minibios.agent.settings` say, runs this file first, and the CLI's parser
does that for every command.
"""

from typing import TYPE_CHECKING

from minibios.agent.settings import (
    AgentNotReady,
    CommandTimeout,
    ExecError,
    ExecInputError,
    ExecResult,
    ExecSettings,
    ShareSpec,
    Timings,
    VmDied,
)

if TYPE_CHECKING:
    from minibios.agent.pool import SnapshotPool
    from minibios.agent.session import AgentMachine
    from minibios.agent.session import exec_command as exec

__all__ = [
    "AgentMachine",
    "AgentNotReady",
    "CommandTimeout",
    "ExecError",
    "ExecInputError",
    "ExecResult",
    "ExecSettings",
    "ShareSpec",
    "SnapshotPool",
    "Timings",
    "VmDied",
    "exec",
]


def __getattr__(name: str) -> object:
    """The session's and the pool's names, imported now."""
    if name == "AgentMachine":
        from minibios.agent.session import AgentMachine

        return AgentMachine
    if name == "exec":
        from minibios.agent.session import exec_command

        return exec_command
    if name == "SnapshotPool":
        from minibios.agent.pool import SnapshotPool

        return SnapshotPool
    raise AttributeError(f"module 'minibios.agent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
