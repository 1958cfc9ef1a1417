"""Run commands in a VM: the guest agent, its protocol, and the host side that drives it.

from minibios.agent import AgentMachine, ExecSettings, exec

result = exec(["uname", "-r"])                  # one VM, one command
with AgentMachine(ExecSettings()) as vm:        # one VM, many commands
    vm.run(["true"]); vm.run(["cat"], input=b"x")
"""

from minibios.agent.pool import SnapshotPool
from minibios.agent.session import AgentMachine
from minibios.agent.session import exec_command as exec
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
