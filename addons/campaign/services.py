"""Campaign services: the addon's public, stable API (other addons import only this module
and ``hookspecs``, and only the names in ``__all__``: ``AddonChecks`` holds them to it).
Every function works on the caller's session: it flushes, never commits; surfaces wrap
calls in ``core.db.transaction(session)``.

Stable API::

    create_item(session, name, customer_id=None, note=None) -> CampaignItem
        BusinessError {"name": ...} for an empty name (nothing is written)
    items_of(session, customer_id) -> list[CampaignItem]   # in id order

Where the code lives (this module re-exports it; other code imports from here)::

    items.py       create an item, a customer's items

Add one module per concern next to it (as ``addons/membership`` has members.py, tiers.py,
stored_value.py, cards.py, lifecycle.py, reports.py), each importing only the ones above it.
"""
from __future__ import annotations

from .items import create_item, items_of

__all__ = ["create_item", "items_of"]
