"""The two kinds of minibios error, by what the user can do about them.

The CLI prints either as one line `minibios: error: ...`; the exit status says
which: 2 for an InputError (fix the command line or the setup, nothing ran),
4 for a RunError (QEMU, the guest or a probe failed while running).
"""


class MinibiosError(Exception):
    """Base of every minibios error; its message says what went wrong, and how to fix it."""


class InputError(MinibiosError):
    """Bad input or a missing tool or file, found before any VM starts: exit 2."""


class RunError(MinibiosError):
    """Something failed while a VM was being started or run: exit 4."""
