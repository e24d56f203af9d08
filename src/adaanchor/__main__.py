"""``python -m adaanchor``: the command line (also what ``torchrun ... -m adaanchor train`` runs)."""

from .cli import entry

if __name__ == "__main__":
    entry()
