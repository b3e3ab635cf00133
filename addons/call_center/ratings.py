"""Satisfaction ratings by signed link.

When a ticket with a customer who has an email address is resolved, the customer is sent
(``core.notify``, email only, after the commit) a link ``/call_center/rate/<token>``. The
token is signed by the kernel (``core.signing``: itsdangerous, the instance secret, purpose
:data:`SALT`) and carries the ticket and the customer; it is valid ``[call_center]
rating_days`` days (default :data:`RATING_DAYS`). The page asks for a score from 1 to 5 and
an optional comment. A ticket is rated once: the ``call_center_rating.ticket_id`` unique key
holds it under concurrent posts, and a second post is refused (``BusinessError`` on
``token``). An expired, altered or forged token is refused with its own message.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow

from .models import Rating, Ticket

SALT = "call_center.rating"
RATING_DAYS = 14
#: where the public page lives (``public.py``)
RATE_PATH = "/call_center/rate/"
MAX_COMMENT = 2000

EXPIRED = _l("This rating link has expired.")
INVALID = _l("This rating link is not valid.")
ALREADY = _l("This ticket has already been rated. Thank you.")


def rating_days(rt) -> int:
    return int((rt.config.get("call_center") or {}).get("rating_days", RATING_DAYS))


def rating_token(session, ticket: Ticket) -> str:
    """The signed token of ``ticket``'s rating link (its customer is in it)."""
    from core.runtime import runtime_of

    from core.signing import sign

    return sign(runtime_of(session), SALT, {"t": int(ticket.id), "c": int(ticket.customer_id or 0)})


def rating_url(session, ticket: Ticket) -> str:
    """The absolute address of ``ticket``'s rating page (``[mail] base_url``)."""
    from core.notify import absolute_url
    from core.runtime import runtime_of

    return absolute_url(runtime_of(session), RATE_PATH + rating_token(session, ticket))


def ticket_of_token(session, token) -> Ticket:
    """The ticket a valid token rates; BusinessError on ``token`` when it is expired
    (:data:`EXPIRED`), altered or forged (:data:`INVALID`), or names a ticket that is gone,
    not resolved or closed, or whose customer changed."""
    from core.runtime import runtime_of
    from core.signing import BadLink, ExpiredLink, unsign

    if not isinstance(token, str) or not token or len(token) > 512:
        raise BusinessError({"token": [INVALID]})
    rt = runtime_of(session)
    try:
        data = unsign(rt, SALT, token, max_age=rating_days(rt) * 86400)
    except ExpiredLink:
        raise BusinessError({"token": [EXPIRED]}) from None
    except BadLink:
        raise BusinessError({"token": [INVALID]}) from None
    if not isinstance(data.get("t"), int):
        raise BusinessError({"token": [INVALID]})
    ticket = session.get(Ticket, data["t"])
    if ticket is None or (ticket.customer_id or 0) != data.get("c") or ticket.status not in ("resolved", "closed"):
        raise BusinessError({"token": [INVALID]})
    return ticket


def rating_of(session, ticket_id: int) -> Rating | None:
    return session.execute(select(Rating).where(Rating.ticket_id == ticket_id)).scalar()


def rate(session, token, score, comment: str | None = None, at: datetime | None = None) -> Rating:
    """Record the customer's rating of the ticket ``token`` names: ``score`` 1-5, an optional
    comment (at most :data:`MAX_COMMENT` characters). The ticket's agent and team at that
    moment are kept with it. BusinessError ``token`` (see :func:`ticket_of_token`; already
    rated: :data:`ALREADY`), ``score``, ``comment``."""
    ticket = ticket_of_token(session, token)
    errors = {}
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = None
    if score is None or not 1 <= score <= 5:
        errors["score"] = [_l("Choose a score from 1 to 5.")]
    comment = (comment or "").strip() or None
    if comment and len(comment) > MAX_COMMENT:
        errors["comment"] = [_l("The comment is too long (at most 2,000 characters).")]
    if errors:
        raise BusinessError(errors)
    # the ticket row is locked, so two posts of the same link queue here; the unique key
    # holds even without the lock
    session.execute(select(Ticket.id).where(Ticket.id == ticket.id).with_for_update())
    if rating_of(session, ticket.id) is not None:
        raise BusinessError({"token": [ALREADY]})
    row = Rating(ticket_id=ticket.id, customer_id=ticket.customer_id, agent_id=ticket.agent_id,
                 team_id=ticket.team_id, score=score, comment=comment, rated_at=at or utcnow())
    session.add(row)
    session.flush()
    return row


def request_rating(session, ticket: Ticket) -> bool:
    """Email the rating link of a just-resolved ticket to its customer (in the chain's
    language), when the customer has an address and the ticket is not rated yet. Inside the
    caller's transaction: nothing is sent if it rolls back. Returns whether a mail was queued."""
    from core.models import Customer
    from core.notify import notify

    if ticket.customer_id is None or rating_of(session, ticket.id) is not None:
        return False
    customer = session.get(Customer, ticket.customer_id)
    if customer is None or not customer.email:
        return False
    sent = notify(session, [customer.email],
                  subject=_l("How did we do? Ticket %(number)s", number=ticket.number),
                  body=_l("Your request \"%(subject)s\" is resolved. Rate our answer from 1 to 5 here "
                          "(the link is valid %(days)s days): %(url)s", subject=ticket.subject,
                          days=rating_days(_rt(session)), url=rating_url(session, ticket)),
                  kind="call_center.rating.request", channels=("email",))
    return bool(sent.mails)


def _rt(session):
    from core.runtime import runtime_of

    return runtime_of(session)
