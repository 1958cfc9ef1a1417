"""Exception types shared by the minibios modules."""


class MinibiosError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits 2."""
