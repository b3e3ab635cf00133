"""Consent: the kernel's per-channel opt-in flags on the customer, and opt-outs per channel
and list (``campaign_optout``, with time, source and method). An opt-out of list A leaves list
B alone; an opt-out of every list (``list_code='*'``) stops the channel entirely.
"""
from __future__ import annotations

from sqlalchemy import select

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.models import Customer

from .models import OptOut


def opt_out(session, customer_id: int, channel: str, list_code: str | None = None, *, source: str = "backoffice",
            method: str = "manual") -> OptOut:
    """Record that the customer wants no more messages on ``channel`` for ``list_code`` (None
    or ``"*"``: every list). Idempotent: a second call returns the first record."""
    if session.get(Customer, customer_id) is None:
        raise NotFound({"customer_id": _l("No such customer.")})
    if not channel:
        raise BusinessError({"channel": _l("Choose a channel.")})
    from .channels import code_errors

    if errors := code_errors(session, channel=channel):
        raise BusinessError(errors)
    code = list_code or "*"
    row = session.execute(select(OptOut).where(OptOut.customer_id == customer_id, OptOut.channel == channel,
                                               OptOut.list_code == code)
                          .execution_options(banyan_unscoped=True)).scalar()
    if row is None:
        row = OptOut(customer_id=customer_id, channel=channel, list_code=code, source=source[:40], method=method[:40])
        session.add(row)
        session.flush()
    return row


def unsubscribe(session, rt, token: str, everything: bool = False) -> OptOut:
    """The signed unsubscribe link: opts out of the link's list, or of every list when the
    customer asks for all (``everything``). A forged token is a 422 naming ``token``."""
    from .rendering import read_token

    customer_id, channel, list_code = read_token(rt, token)
    return opt_out(session, customer_id, channel, None if everything else list_code, source="unsubscribe_link",
                   method="link")


def opt_outs_of(session, customer_id: int) -> list[OptOut]:
    """The customer's opt-outs, oldest first (``list_code='*'``: every list of the channel)."""
    return list(session.execute(select(OptOut).where(OptOut.customer_id == customer_id).order_by(OptOut.at)
                                .execution_options(banyan_unscoped=True)).scalars())
