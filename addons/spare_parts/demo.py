"""Demo data of spare_parts (``banyan demo``): filled in below."""
from __future__ import annotations


def load(session, demo) -> None:
    """``demo`` is a ``core.contrib.DemoContext``."""
    return None
