"""``python -m core.cli``: the ``banyan`` command, run from a checkout (no console script)."""
from core.cli import main

main(prog_name="banyan")
