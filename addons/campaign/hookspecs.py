"""Hooks the campaign addon offers to other addons and partners. Documented in docs/hooks.md
(section "Hooks offered by addons") and tested in ``addons/campaign/tests/test_hooks.py``."""
from __future__ import annotations

from typing import Any, Iterable

from core import hookspec


@hookspec
def campaign_channels() -> Iterable[Any]:
    """Return ``addons.campaign.channels.ChannelAdapter`` objects: the channels campaigns can
    send on (SMS gateways, chat apps). Implemented by: campaign (email over the kernel's SMTP,
    the development outbox).
    """
