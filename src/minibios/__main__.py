"""`python -m minibios` is the CLI."""

import sys

from minibios.cli.commands import main

sys.exit(main())
