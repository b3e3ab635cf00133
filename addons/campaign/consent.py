"""Consent: the kernel's per-channel opt-in flags on the customer, and opt-outs per channel
and list (``campaign_optout``, with time, source and method). An opt-out of list A leaves list
B alone; an opt-out of every list (``list_code='*'``) stops the channel entirely.

Double opt-in (``campaign_policy.double_opt_in``): email goes out only to customers whose
consent row (``campaign_consent``) is confirmed for the address they have now.
:func:`request_opt_in` records the request (time, source, address) and emails a signed link
(``/campaign/confirm/<token>``, ``core.signing``: customer, channel and the address it went
to; valid :data:`CONFIRM_DAYS` days) through the kernel's mail outbox; :func:`confirm` checks
that the address is still the customer's and the one asked, then records the confirmation
(time, method) and sets the kernel's email consent flag. A changed address needs a new
confirmation. The sender checks it at snapshot time and again for each claimed batch.

Frequency cap (``cap_messages`` in ``cap_days``): see ``sending.screen``.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.db import insert_once
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer

from .models import Consent, OptOut, Policy

CONFIRM = "campaign.confirm"
#: how long a confirmation link stays valid
CONFIRM_DAYS = 30
INVALID = _l("This confirmation link is not valid.")
EXPIRED = _l("This confirmation link has expired: ask for a new one.")
MOVED = _l("This confirmation link was sent to an address that is no longer yours: ask for a new one.")


def opt_out(session, customer_id: int, channel: str, list_code: str | None = None, *, source: str = "backoffice",
            method: str = "manual") -> OptOut:
    """Record that the customer wants no more messages on ``channel`` for ``list_code`` (None
    or ``"*"``: every list). A customer merged into another (a link mailed before the merge)
    opts out the customer it was merged into. Idempotent and safe when two requests record
    the same opt-out at once (one row: ``INSERT ... ON CONFLICT DO NOTHING``, then the row is
    read); a second call returns the first record."""
    from core.services.customers import surviving_customer_id

    customer_id = surviving_customer_id(session, customer_id)
    if customer_id is None:
        raise NotFound({"customer_id": _l("No such customer.")})
    if not channel:
        raise BusinessError({"channel": _l("Choose a channel.")})
    from .channels import code_errors

    if errors := code_errors(session, channel=channel):
        raise BusinessError(errors)
    code = list_code or "*"
    key = {"customer_id": customer_id, "channel": channel, "list_code": code}
    insert_once(session, OptOut, key, {"source": source[:40], "method": method[:40], "at": utcnow()})
    return session.execute(select(OptOut).filter_by(**key).execution_options(banyan_unscoped=True)).scalar_one()


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


# --------------------------------------------------------------------------- messaging rules

def get_policy(session) -> Policy:
    """The chain's messaging rules (defaults, unsaved, until someone changes them)."""
    row = session.execute(select(Policy).where(Policy.id == 1).execution_options(banyan_unscoped=True)).scalar()
    return row if row is not None else Policy(id=1, cap_messages=None, cap_days=7, double_opt_in=False,
                                              matrix_income=Decimal("8000"), matrix_spend=Decimal("5000"))


def set_policy(session, values: dict) -> Policy:
    """Change the messaging rules: ``cap_messages`` (1..1000 or None), ``cap_days`` (1..365),
    ``double_opt_in``. 422 naming the field."""
    errors = {}
    cap = values.get("cap_messages", "keep")
    if cap not in ("keep", None) and (isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= 1000):
        errors["cap_messages"] = [_l("Enter a number from 1 to 1000, or nothing for no cap.")]
    days = values.get("cap_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365):
        errors["cap_days"] = [_l("Enter a number of days from 1 to 365.")]
    if errors:
        raise BusinessError(errors)
    # the one row, created once even by two first changes at once (no read-then-insert race)
    insert_once(session, Policy, {"id": 1}, {"cap_messages": None, "cap_days": 7, "double_opt_in": False,
                                             "matrix_income": Decimal("8000"), "matrix_spend": Decimal("5000")})
    row = session.execute(select(Policy).where(Policy.id == 1).with_for_update()
                          .execution_options(banyan_unscoped=True, populate_existing=True)).scalar_one()
    if cap != "keep":
        row.cap_messages = cap
    if days is not None:
        row.cap_days = days
    if values.get("double_opt_in") is not None:
        row.double_opt_in = bool(values["double_opt_in"])
    session.flush()
    return row


# --------------------------------------------------------------------------- double opt-in

def _same_address(a: str | None, b: str | None) -> bool:
    """Two email addresses are the same mailbox (case and spaces around aside)."""
    return bool(a) and bool(b) and a.strip().lower() == b.strip().lower()


def confirm_token(rt, customer_id: int, channel: str, address: str) -> str:
    """The signed token of a confirmation link (``core.signing``): the customer, the channel
    and the address it is mailed to. Valid :data:`CONFIRM_DAYS` days, and only while that
    address is still the customer's (see :func:`confirm`)."""
    from core.signing import sign

    return sign(rt, CONFIRM, {"c": int(customer_id), "ch": channel, "a": address})


def read_confirm_token(rt, token: str) -> tuple[int, str, str]:
    """``(customer_id, channel, address)`` of a valid confirmation token; BusinessError on
    ``token`` when it is forged, altered, made for something else or expired."""
    from core.signing import BadLink, ExpiredLink, unsign

    try:
        data = unsign(rt, CONFIRM, token, max_age=CONFIRM_DAYS * 86400)
    except ExpiredLink:
        raise BusinessError({"token": [EXPIRED]}) from None
    except BadLink:
        raise BusinessError({"token": [INVALID]}) from None
    cid, channel, address = data.get("c"), data.get("ch"), data.get("a")
    if not (isinstance(cid, int) and isinstance(channel, str) and isinstance(address, str) and address):
        raise BusinessError({"token": [INVALID]})
    return cid, channel, address


def confirmed_expr(channel: str, customer_id):
    """SQL: the customer confirmed their consent on ``channel`` (double opt-in), for the
    address they have now (a confirmation of a former email address is no consent for the
    new one)."""
    from sqlalchemy import func
    from sqlalchemy.orm import aliased

    stmt = select(Consent.id).where(Consent.customer_id == customer_id, Consent.channel == channel,
                                    Consent.confirmed_at.is_not(None))
    if channel == "email":
        owner = aliased(Customer)
        stmt = stmt.join(owner, owner.id == Consent.customer_id).where(
            func.lower(func.trim(Consent.address)) == func.lower(func.trim(owner.email)))
    return stmt.exists()


def needs_confirmation(session, channel: str) -> bool:
    return channel == "email" and bool(get_policy(session).double_opt_in)


def request_opt_in(session, rt, customer_id: int, channel: str = "email", *, source: str = "backoffice") -> Consent:
    """Record a consent request and email the customer the signed confirmation link (sent by
    the kernel's mail outbox after the commit). Asking again re-sends the link; a confirmed
    consent stays confirmed. 422 when the customer has no email address."""
    from core.i18n import force_locale
    from core.i18n import gettext as _
    from core.mixins import utcnow
    from core.notify import mail_settings, notify

    from core.services.customers import surviving_customer_id

    customer_id = surviving_customer_id(session, customer_id)
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer is None:
        raise NotFound({"customer_id": _l("No such customer.")})
    if channel != "email":
        raise BusinessError({"channel": [_l("Double opt-in is for email.")]})
    if not customer.email:
        raise BusinessError({"customer_id": [_l("The customer has no email address.")]})
    # one consent row per customer and channel, created once even by two requests at once
    key = {"customer_id": customer_id, "channel": channel}
    insert_once(session, Consent, key, {"address": customer.email, "requested_at": utcnow(), "source": source[:40]})
    row = session.execute(select(Consent).filter_by(**key).with_for_update()
                          .execution_options(banyan_unscoped=True, populate_existing=True)).scalar_one()
    if row.confirmed_at is not None and not _same_address(row.address, customer.email):
        row.confirmed_at, row.method = None, None  # confirmed for a former address: ask the new one
    row.address, row.requested_at, row.source = customer.email, utcnow(), source[:40]
    session.flush()
    if row.confirmed_at is None:
        token = confirm_token(rt, customer_id, channel, customer.email)
        url = f"{mail_settings(rt)['base_url'].rstrip('/')}/campaign/confirm/{token}"
        with force_locale(customer.language or None):
            subject = _("Please confirm that you want our emails")
            body = _("Open this link to confirm: %(url)s\nIf you did not ask for our emails, ignore this message.",
                     url=url)
        notify(session, [customer.email], subject, body, kind="campaign.confirm", channels=("email",))
    return row


def confirm(session, rt, token: str) -> Consent:
    """The customer opened the signed link: the consent is confirmed (time, method) and the
    kernel's email consent flag set. Idempotent. A forged or expired token, or one mailed to
    an address that is no longer the customer's (or no longer the one asked), is a 422
    naming ``token``: nothing is confirmed."""
    from core.mixins import utcnow

    from core.services.customers import surviving_customer_id

    customer_id, channel, address = read_confirm_token(rt, token)
    # a link mailed before the customer was merged confirms the customer it was merged into
    # (the merge moved the consent row there), for the address that customer has now
    customer_id = surviving_customer_id(session, customer_id)
    row = session.execute(select(Consent).where(Consent.customer_id == customer_id, Consent.channel == channel)
                          .with_for_update().execution_options(banyan_unscoped=True)).scalar()
    if row is None:
        raise BusinessError({"token": [INVALID]})
    customer = session.get(Customer, customer_id)
    if not (_same_address(address, row.address) and _same_address(address, customer.email)):
        raise BusinessError({"token": [MOVED]})
    if row.confirmed_at is None:
        row.confirmed_at, row.method = utcnow(), "double_opt_in_link"
        if channel == "email" and not customer.consent_email:
            customer.consent_email = True
    session.flush()
    return row
