"""`python -m minibios` is the CLI."""

import sys

from minibios.cli import main

sys.exit(main())
