"""minibios: a tiny x86 firmware for QEMU, and the tools to build, boot and test it."""

from minibios.errors import MinibiosError

__all__ = ["MinibiosError"]
