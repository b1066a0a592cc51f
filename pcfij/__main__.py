"""``python -m pcfij`` runs the command line."""

import sys

from pcfij.cli import main

if __name__ == "__main__":
    sys.exit(main())
