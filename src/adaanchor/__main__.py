"""``python -m adaanchor``: the command line (also what ``torchrun ... -m adaanchor train`` runs)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
