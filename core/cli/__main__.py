"""``python -m core.cli``: the ``banyan`` command without its console script (tests run the
checkout's own code this way)."""
from core.cli import main

main(prog_name="banyan")
