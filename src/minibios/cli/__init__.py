"""Layer 4: the `minibios` command, on top of everything else."""

from minibios.cli.commands import main

__all__ = ["main"]
