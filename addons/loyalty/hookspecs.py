"""Hooks the loyalty addon offers to other addons (e.g. campaign)."""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("banyan")


@hookspec
def loyalty_points_posted(session, entry) -> None:
    """Called after each points ledger posting (``entry`` is a ``LoyaltyEntry``, flushed).

    Same transaction as the posting: raising aborts it. Implemented by: campaign (later).
    """
