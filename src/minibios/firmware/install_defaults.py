"""Where `minibios install` puts the ROM, and its descriptor's rank, unless told otherwise.

Apart from minibios.firmware.install (which imports importlib.metadata) so that the CLI's
parser shows these defaults without importing the installer.
"""

from pathlib import Path

DEFAULT_PREFIX = Path("/usr/local")
# The descriptor's file-name prefix: 90 sorts after the distributions' own (40-60),
# see minibios.firmware.install.
DEFAULT_PRIORITY = 90
