"""Email intake: an inbound email (posted by the mail gateway to ``POST /email/inbound``)
becomes a new ticket or a reply on an existing one.

Rules, in order:

1. **Idempotent on Message-ID.** An email whose ``Message-ID`` was taken already changes
   nothing and answers the ticket it went to (``duplicate``). The unique key on
   ``call_center_inbound_email.message_id`` holds it under concurrent posts: the insert runs
   in a savepoint, and the loser of a race reads the winner's row.
2. **Threading.** The ``In-Reply-To`` id and the ``References`` ids are looked up among the
   emails already taken in: the newest match names the ticket. Without a match, a ticket
   number in the subject (``[T000123]``, as our own mails write it) threads the email when
   its sender is that ticket's customer (so nobody replies into someone else's ticket).
3. **The customer** is the active customer whose email is the sender's address, else the
   key account whose contact has it; none: the ticket has no customer.
4. **A reply** is recorded on the ticket (its history shows "Email received"); a ticket
   ``waiting`` on the customer goes back to ``open`` (the SLA clock resumes), a ``resolved``
   one is reopened. A reply to a ``closed`` or ``cancelled`` ticket opens a new ticket.
5. **A new ticket** is an ``inquiry`` on the ``email`` channel, routed like any other.

Every function works on the caller's session: it flushes, never commits.
"""
from __future__ import annotations

import re
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer, CustomerContact
from core.validation import normalize_email

from .models import InboundEmail, Ticket
from .tickets import _event, create_ticket, set_status

MAX_ID = 250
#: a ticket number in a subject: "T" and six or more digits, as ``Ticket.number`` writes it
NUMBER = re.compile(r"\bT(\d{6,})\b")
_ID = re.compile(r"<[^<>\s]+>")


def _ids(value) -> list[str]:
    """Message ids of a header value (``<a@b> <c@d>``) or a list of them, in order."""
    if not value:
        return []
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    found = _ID.findall(str(value))
    if not found:
        found = [f"<{v.strip('<>')}>" for v in str(value).split() if v.strip("<>")]
    return [f for f in found if len(f) <= MAX_ID]


def _message_id(raw) -> str:
    ids = _ids(raw)
    if len(ids) != 1:
        raise BusinessError({"message_id": [_l("A Message-ID such as <id@host> is required.")]})
    return ids[0]


def _sender(raw) -> str:
    _name, addr = parseaddr(raw or "")
    if not addr:
        raise BusinessError({"from": [_l("The sender's address is required.")]})
    return normalize_email(addr, field="from")


def customer_of_address(session, address: str) -> Customer | None:
    """The active customer with this email, else the key account one of whose contacts has it."""
    c = session.execute(select(Customer).where(Customer.email == address, Customer.active.is_(True))
                        .order_by(Customer.id).limit(1)).scalar()
    if c is not None:
        return c
    return session.execute(select(Customer).join(CustomerContact, CustomerContact.customer_id == Customer.id)
                           .where(CustomerContact.email == address, Customer.active.is_(True))
                           .order_by(CustomerContact.id).limit(1)).scalar()


def _thread(session, ids: list[str], subject: str, customer: Customer | None) -> Ticket | None:
    if ids:
        tid = session.execute(select(InboundEmail.ticket_id).where(InboundEmail.message_id.in_(ids))
                              .order_by(InboundEmail.id.desc()).limit(1)).scalar()
        if tid is not None:
            return session.get(Ticket, tid)
    m = NUMBER.search(subject or "")
    if m and customer is not None:
        t = session.get(Ticket, int(m.group(1)))
        if t is not None and t.customer_id == customer.id:
            return t
    return None


def intake_email(session, *, message_id, from_address, subject: str | None = None, body: str | None = None,
                 in_reply_to=None, references=None, user=None, at: datetime | None = None) -> dict:
    """Take one inbound email in (see the module docstring). Returns ``{"email":
    InboundEmail, "ticket": Ticket, "created": bool (a new ticket), "duplicate": bool}``.
    BusinessError naming ``message_id``, ``from``, ``subject`` or ``body``."""
    errors = {}
    try:
        mid = _message_id(message_id)
    except BusinessError as exc:
        errors.update(exc.errors)
    try:
        sender = _sender(from_address)
    except BusinessError as exc:
        errors.update(exc.errors)
    subject = (subject or "").strip()
    if len(subject) > 200:
        subject = subject[:200]
    if body is not None and len(body) > 100000:
        errors["body"] = [_l("The text is too long (at most 100,000 characters).")]
    if errors:
        raise BusinessError(errors)
    existing = _taken(session, mid)
    if existing is not None:
        return {"email": existing, "ticket": session.get(Ticket, existing.ticket_id), "created": False,
                "duplicate": True}
    now = at or utcnow()
    customer = customer_of_address(session, sender)
    thread_ids = [i for i in _ids(in_reply_to) + list(reversed(_ids(references))) if i != mid]
    ticket = _thread(session, thread_ids, subject, customer)
    created = False
    if ticket is not None and ticket.status in ("closed", "cancelled"):
        ticket = None
    if ticket is None:
        ticket = create_ticket(session, subject=subject or str(_l("(no subject)")), description=body,
                               ticket_type="inquiry", channel="email", customer_id=customer.id if customer else None,
                               store_id=customer.home_store_id if customer else None, user=user, at=now)
        created = True
    row = InboundEmail(message_id=mid, ticket_id=ticket.id, from_address=sender, subject=subject or None,
                       body=body, in_reply_to=(_ids(in_reply_to) or [None])[0], received_at=now,
                       created_ticket=created)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # a concurrent post of the same email won the race: answer its ticket. The new
        # ticket made here (if any) goes with the caller's rollback of this request.
        winner = _taken(session, mid)
        if winner is None:
            raise
        raise DuplicateEmail(winner) from None
    if not created:
        _event(session, ticket, "email", user, note=f"{sender}: {subject}"[:500], at=now)
        if ticket.status in ("waiting", "resolved"):
            set_status(session, ticket.id, "open", user=user, note=_l("The customer answered by email."), at=now)
        session.flush()
    return {"email": row, "ticket": ticket, "created": created, "duplicate": False}


class DuplicateEmail(Exception):
    """Raised when a concurrent request took the same Message-ID first; the caller rolls
    back its transaction and answers :attr:`email`'s ticket."""

    def __init__(self, email: InboundEmail):
        super().__init__(email.message_id)
        self.email_id = email.id
        self.ticket_id = email.ticket_id


def _taken(session, mid: str) -> InboundEmail | None:
    return session.execute(select(InboundEmail).where(InboundEmail.message_id == mid)).scalar()
