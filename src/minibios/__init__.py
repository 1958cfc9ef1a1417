"""minibios: a tiny x86 firmware for QEMU, and the tools to build, boot and test it.

The package root is two things. Its modules (errors, sizes) are the bottom layer, which
every other layer imports; and the package itself is the public facade:

    import minibios

    result = minibios.exec(["uname", "-r"], rootfs="initramfs")
    with minibios.AgentMachine(minibios.ExecSettings()) as vm:
        vm.run(["true"])

The facade only re-exports (FACADE: each name and the module that defines it), and it
imports those modules on first use (PEP 562 `__getattr__`), so `import minibios` or
`import minibios.errors` loads nothing above the bottom layer (tests/test_layers.py).
"""

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from minibios.errors import MinibiosError

_AGENT = "minibios.agent"
FACADE: Mapping[str, str] = MappingProxyType(
    {
        name: _AGENT
        for name in (
            "exec",
            "AgentMachine",
            "ExecSettings",
            "ExecResult",
            "ShareSpec",
            "Timings",
            "ExecError",
            "ExecInputError",
            "AgentNotReady",
            "CommandTimeout",
            "VmDied",
        )
    }
)

__all__ = ["MinibiosError", *FACADE]


def __getattr__(name: str) -> object:
    """A facade name: imported from its module now (the module's own object)."""
    module = FACADE.get(name)
    if module is None:
        raise AttributeError(f"module 'minibios' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *FACADE})
