"""Hooks the loyalty addon offers to other addons (e.g. campaign). Documented in docs/hooks.md
(section "Hooks offered by addons") and tested in ``addons/loyalty/tests/test_hooks.py``."""
from __future__ import annotations

from core import hookspec


@hookspec
def loyalty_points_posted(session, entry) -> None:
    """Called after each points ledger posting (``entry`` is a ``LoyaltyEntry``, flushed).

    Same transaction as the posting: raising aborts it. Implemented by: campaign (later).
    """
