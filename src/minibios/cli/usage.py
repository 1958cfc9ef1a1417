"""The error for bad command-line syntax, raised by the parser and the commands alike."""

from minibios.errors import InputError


class UsageError(InputError):
    """Bad command-line syntax (argparse's complaint, kept to one line)."""
