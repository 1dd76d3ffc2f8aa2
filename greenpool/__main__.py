"""``python -m greenpool``: the command line (:mod:`greenpool.cli`)."""

import sys

from greenpool.cli import main

sys.exit(main())
