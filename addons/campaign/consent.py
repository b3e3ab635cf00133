"""Consent: the kernel's per-channel opt-in flags on the customer, and opt-outs per channel
and list (``campaign_optout``, with time, source and method). An opt-out of list A leaves list
B alone; an opt-out of every list (``list_code='*'``) stops the channel entirely.

Double opt-in (``campaign_policy.double_opt_in``): email goes out only to customers whose
consent row (``campaign_consent``) is confirmed. :func:`request_opt_in` records the request
(time, source) and emails a signed link (``/campaign/confirm/<token>``, through the kernel's
mail outbox); :func:`confirm` records the confirmation (time, method) and sets the kernel's
email consent flag. The sender checks it at snapshot time and again for each claimed batch.

Frequency cap (``cap_messages`` in ``cap_days``): see ``sending.screen``.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.models import Customer

from .models import Consent, OptOut, Policy

CONFIRM = "campaign.confirm"


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
    row = session.execute(select(Policy).where(Policy.id == 1).execution_options(banyan_unscoped=True)).scalar()
    if row is None:
        row = Policy(id=1, cap_messages=None, cap_days=7, double_opt_in=False, matrix_income=Decimal("8000"),
                     matrix_spend=Decimal("5000"))
        session.add(row)
    if cap != "keep":
        row.cap_messages = cap
    if days is not None:
        row.cap_days = days
    if values.get("double_opt_in") is not None:
        row.double_opt_in = bool(values["double_opt_in"])
    session.flush()
    return row


# --------------------------------------------------------------------------- double opt-in

def confirm_token(rt, customer_id: int, channel: str) -> str:
    from .rendering import sign

    payload = f"{customer_id}.{channel}"
    return f"{payload}.{sign(rt, CONFIRM, payload)}"


def read_confirm_token(rt, token: str) -> tuple[int, str]:
    from .rendering import check_signature

    parts = (token or "").split(".")
    if len(parts) == 3 and parts[0].isdigit() and check_signature(rt, CONFIRM, f"{parts[0]}.{parts[1]}", parts[2]):
        return int(parts[0]), parts[1]
    raise BusinessError({"token": [_l("This confirmation link is not valid.")]})


def confirmed_expr(channel: str, customer_id):
    """SQL: the customer confirmed their consent on ``channel`` (double opt-in)."""
    return (select(Consent.id).where(Consent.customer_id == customer_id, Consent.channel == channel,
                                     Consent.confirmed_at.is_not(None)).exists())


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

    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound({"customer_id": _l("No such customer.")})
    if channel != "email":
        raise BusinessError({"channel": [_l("Double opt-in is for email.")]})
    if not customer.email:
        raise BusinessError({"customer_id": [_l("The customer has no email address.")]})
    row = session.execute(select(Consent).where(Consent.customer_id == customer_id, Consent.channel == channel)
                          .execution_options(banyan_unscoped=True)).scalar()
    if row is None:
        row = Consent(customer_id=customer_id, channel=channel)
        session.add(row)
    row.address, row.requested_at, row.source = customer.email, utcnow(), source[:40]
    session.flush()
    if row.confirmed_at is None:
        url = f"{mail_settings(rt)['base_url'].rstrip('/')}/campaign/confirm/{confirm_token(rt, customer_id, channel)}"
        with force_locale(customer.language or None):
            subject = _("Please confirm that you want our emails")
            body = _("Open this link to confirm: %(url)s\nIf you did not ask for our emails, ignore this message.",
                     url=url)
        notify(session, [customer.email], subject, body, kind="campaign.confirm", channels=("email",))
    return row


def confirm(session, rt, token: str) -> Consent:
    """The customer opened the signed link: the consent is confirmed (time, method) and the
    kernel's email consent flag set. Idempotent; a forged token is a 422 naming ``token``."""
    from core.mixins import utcnow

    customer_id, channel = read_confirm_token(rt, token)
    row = session.execute(select(Consent).where(Consent.customer_id == customer_id, Consent.channel == channel)
                          .execution_options(banyan_unscoped=True)).scalar()
    if row is None:
        raise BusinessError({"token": [_l("This confirmation link is not valid.")]})
    if row.confirmed_at is None:
        row.confirmed_at, row.method = utcnow(), "double_opt_in_link"
        customer = session.get(Customer, customer_id)
        if channel == "email" and not customer.consent_email:
            customer.consent_email = True
    session.flush()
    return row
