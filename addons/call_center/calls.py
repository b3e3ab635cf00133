"""Telephony: the purpose-made tokens of the phone system, the screen-pop, call records.

The screen-pop of a number is read through the caller's (scoped) session: a customer the
agent may not see is not shown. The number is normalised by the kernel's one rule
(``core.validation.normalize_phone``, E.164) and matched against customers' phones and the
phones of key accounts' contacts (``core_customer_contact``).
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime

from sqlalchemy import select

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer, CustomerContact, User
from core.security.tokens import hash_token

from .models import DIRECTIONS, OUTCOMES, CallRecord, LineToken
from .tickets import open_tickets_of

TOKEN_PREFIX = "bncc_"
#: the header the phone system sends its token in
TOKEN_HEADER = "X-Call-Center-Token"


def create_line_token(session, name: str, user_id: int) -> tuple[str, LineToken]:
    """A new telephony token ``(plain, row)``; the plain token is shown once. Calls posted
    with it run as ``user_id`` (its permissions and scope). BusinessError ``name``/``user_id``."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise BusinessError({"name": [_l("A token needs a name of at most 80 characters.")]})
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise BusinessError({"user_id": [_l("No such active user.")]})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = LineToken(name=name, token_hash=hash_token(plain), prefix=plain[:12], user_id=user.id,
                    created_at=utcnow())
    session.add(row)
    session.flush()
    return plain, row


def revoke_line_token(session, token_id: int) -> LineToken:
    """Revoke a telephony token (again: no change). NotFound for an unknown id."""
    row = session.get(LineToken, token_id)
    if row is None:
        raise NotFound({"id": _l("No such token.")})
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def user_for_line_token(session, plain: str | None) -> User | None:
    """The active user a live telephony token runs as, or None (unknown, revoked, inactive)."""
    if not plain or not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    row = session.execute(select(LineToken).where(LineToken.token_hash == hash_token(plain),
                                                  LineToken.revoked_at.is_(None))).scalar()
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def authenticate_line_token(session, plain: str | None, cache=None):
    """The kernel's :class:`~core.security.tokens.AuthContext` (user, permissions, stores) of
    the live telephony token ``plain``, or None (unknown, revoked, inactive user).

    With a ``cache`` (a :class:`~core.security.tokens.TokenCache`, one per app) a verified
    token is trusted for the cache's lifetime without a query, as the kernel trusts API tokens:
    revoking a telephony token, or any change to users, roles or scope, empties the caches of
    the process at once (``watch_auth_models``), another worker's at most when its entry
    expires. On a miss the token with its user, the permissions and the stores are read on
    ``session`` (unscoped) in one short transaction, rolled back at once."""
    from core.security.permissions import user_permissions
    from core.security.scope import store_ids_for
    from core.security.tokens import AuthContext

    if not plain or not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    digest = hash_token(plain)
    ctx = cache.get(digest) if cache is not None else None
    if ctx is not None:
        return ctx
    generation = cache.generation if cache is not None else 0
    row = session.execute(select(LineToken.id, User).join(User, User.id == LineToken.user_id)
                          .where(LineToken.token_hash == digest, LineToken.revoked_at.is_(None))).first()
    if row is None or not row[1].active:
        session.rollback()
        return None
    token_id, user = row
    perms = frozenset() if user.is_superuser else frozenset(user_permissions(session, user))
    store_ids = store_ids_for(session, user)
    session.expunge(user)  # a detached snapshot, as the kernel's token cache keeps
    session.rollback()  # the lookup is its own short transaction
    ctx = AuthContext(token_id=token_id, user=user, permissions=perms, store_ids=store_ids,
                      expires=time.monotonic() + (cache.ttl if cache is not None else 0), last_used_at=None)
    if cache is not None:
        cache.put(digest, ctx, generation)
    return ctx


def normalise_number(raw, field: str = "number") -> str:
    """``raw`` as E.164 (``+8613800138000``), or BusinessError naming ``field``."""
    from core.lookup import normalize_identifier

    return normalize_identifier("phone", raw, field)


def find_caller(session, number: str, *,
                relaxed_commit: bool = False) -> tuple[Customer | None, CustomerContact | None]:
    """The active customer whose phone is ``number`` (E.164), else the key account one of
    whose contacts has it (with that contact); ``(None, None)`` when nobody visible has it.

    One statement: the customer or contact match (an indexed lookup each, ``UNION ALL``,
    the customer's own phone first), the configuration cache's token (the panels' tiers and
    policies need it) and the customer's open tickets (outer join: they are kept for the
    transaction, where :func:`~.tickets.open_tickets_of` finds them for the screen-pop's list,
    this addon's panel and the article suggestions). Every entity is read through the
    caller's scope, in the union's branches too.

    ``relaxed_commit`` (PostgreSQL; the telephony webhook): the same statement sets
    ``synchronous_commit`` off for this transaction only (``set_config(..., true)``), so its
    commit does not wait for the disk: a crash of the database server within a fraction of
    a second may lose the newest ringing call records (never corrupt anything); the phone
    system keeps its own call log. Nothing else is written in that transaction."""
    from core.cache import prime

    from .tickets import OPEN_MEMO_SIZE, _OPEN_MEMO

    pg = session.get_bind().dialect.name == "postgresql"
    stmt = _caller_statement(relaxed_commit and pg)
    rows = session.execute(stmt, {"number": number}).all()
    if not rows:
        return None, None
    customer, contact, token = rows[0][0], rows[0][1], rows[0][2]
    prime(session, token)
    # the open tickets read with the caller, for this transaction (as open_tickets_of keeps them)
    _OPEN_MEMO.of(session)[customer.id] = [r[3] for r in rows if r[3] is not None][:OPEN_MEMO_SIZE]
    return customer, contact


_CALLER: dict = {}


def _caller_statement(relaxed: bool):
    """The statement of :func:`find_caller` (``number`` bound), built once per variant."""
    stmt = _CALLER.get(relaxed)
    if stmt is None:
        from sqlalchemy import Integer, and_, bindparam, cast, func, literal, null, union_all

        from core.cache import TOKEN_COLUMN

        from .models import OPEN_STATUSES, Ticket
        from .tickets import OPEN_MEMO_SIZE

        number = bindparam("number")
        own = (select(Customer.id.label("customer_id"), cast(null(), Integer).label("contact_id"),
                      literal(0).label("k"))
               .where(Customer.phone == number, Customer.active.is_(True)).order_by(Customer.id).limit(1))
        via = (select(CustomerContact.customer_id, CustomerContact.id, literal(1))
               .join(Customer, Customer.id == CustomerContact.customer_id)
               .where(CustomerContact.phone == number, Customer.active.is_(True))
               .order_by(CustomerContact.id).limit(1))
        both = union_all(own.subquery().select(), via.subquery().select()).subquery("caller")
        found = select(both).order_by(both.c.k).limit(1).subquery("found")
        cols = [Customer, CustomerContact, TOKEN_COLUMN, Ticket]
        if relaxed:
            cols.append(func.set_config("synchronous_commit", "off", True).label("relaxed"))
        stmt = (select(*cols).select_from(found)
                .join(Customer, Customer.id == found.c.customer_id)
                .outerjoin(CustomerContact, CustomerContact.id == found.c.contact_id)
                .outerjoin(Ticket, and_(Ticket.customer_id == found.c.customer_id,
                                        Ticket.status.in_(OPEN_STATUSES)))
                .order_by(Ticket.opened_at.desc(), Ticket.id.desc()).limit(OPEN_MEMO_SIZE))
        _CALLER[relaxed] = stmt
    return stmt


def screen_pop(session, user, raw_number, *, panels=True, relaxed_commit: bool = False) -> dict:
    """What the agent sees when ``raw_number`` calls::

        {"number": "+86...", "customer": {"id", "name", "kind"} | None,
         "contact": {"id", "name", "title"} | None,
         "panels": [{"addon", "title", "fields": [[label, value], ...]}],   # customer_summary
         "open_tickets": [{"id", "number", "subject", "status", "priority", "resolution_due_at"}],
         "articles": [{"id", "title"}],   # published articles matching the open tickets
         "create_customer": bool}     # True for an unknown number

    Panels are those of every installed addon the user may see (their permission).
    ``relaxed_commit``: see :func:`find_caller` (the telephony webhook's transaction)."""
    from core.contrib import sort_by_priority
    from core.runtime import runtime_of
    from core.security.permissions import has_permission

    number = normalise_number(raw_number)
    customer, contact = find_caller(session, number, relaxed_commit=relaxed_commit)
    out = {"number": number, "customer": None, "contact": None, "panels": [], "open_tickets": [],
           "articles": [], "create_customer": customer is None}
    if customer is None:
        return out
    out["customer"] = {"id": customer.id, "name": customer.name, "kind": customer.kind}
    if contact is not None:
        out["contact"] = {"id": contact.id, "name": contact.name, "title": contact.title}
    if panels:
        found = runtime_of(session).registry.collect_items("customer_summary", session=session,
                                                           customer=customer, user=user)
        for p in sort_by_priority([[panel for _owner, panel in found]]):
            if p.permission is None or has_permission(session, user, p.permission):
                out["panels"].append({"addon": p.addon, "title": str(p.title),
                                      "fields": [[str(a), "" if b is None else str(b)] for a, b in p.fields]})
    out["open_tickets"] = [{"id": t.id, "number": t.number, "subject": t.subject, "status": t.status,
                            "priority": t.priority, "resolution_due_at": t.resolution_due_at}
                           for t in open_tickets_of(session, customer.id)]
    if panels:
        from .kb import suggest_for_customer

        out["articles"] = [{"id": a.id, "title": a.title} for a in suggest_for_customer(session, customer.id)]
    return out


def record_call(session, *, number, direction: str = "in", line: str | None = None, agent_id: int | None = None,
                customer_id: int | None = None, store_id: int | None = None, started_at: datetime | None = None,
                outcome: str = "ringing", notes: str | None = None, ticket_id: int | None = None) -> CallRecord:
    """A call record (the number normalised). BusinessError naming ``number``, ``direction``
    or ``outcome``."""
    number = normalise_number(number)
    if direction not in DIRECTIONS:
        raise BusinessError({"direction": [_l("Unknown direction.")]})
    if outcome not in OUTCOMES:
        raise BusinessError({"outcome": [_l("Unknown outcome.")]})
    call = CallRecord(number=number, direction=direction, line=line, agent_id=agent_id, customer_id=customer_id,
                      store_id=store_id, started_at=started_at or utcnow(), outcome=outcome, notes=notes,
                      ticket_id=ticket_id)
    session.add(call)
    session.flush()
    return call


def call_duration(started_at: datetime | None, ended_at: datetime, field: str = "ended_at") -> int:
    """The duration in whole seconds of a call from ``started_at`` to ``ended_at``;
    BusinessError on ``field`` for an end before the start: the field the person typed the
    end in (the back office's ``ended_at``), or ``_`` (the request as a whole) when the end
    is now and nobody typed it."""
    if started_at is None:
        started_at = ended_at
    if ended_at < started_at:
        raise BusinessError({field: [_l("A call cannot end before it starts.")]})
    return int((ended_at - started_at).total_seconds())


def end_call(session, call_id: int, *, outcome: str, notes: str | None = None, ticket_id: int | None = None,
             at: datetime | None = None) -> CallRecord:
    """Close a call: ``ended_at`` (UTC, default now), the duration in whole seconds, the
    outcome, notes and the ticket it led to. BusinessError ``outcome`` (a field of the
    request, ``schemas.EndCallIn``), or ``_`` (the call as a whole: it has already ended, or
    it is recorded as starting after now); the request has no time field to name."""
    call = session.execute(select(CallRecord).where(CallRecord.id == call_id).with_for_update()).scalar()
    if call is None:
        raise NotFound({"id": _l("No such call.")})
    if call.ended_at is not None:
        raise BusinessError({"_": [_l("This call has already ended.")]})
    if outcome not in OUTCOMES or outcome == "ringing":
        raise BusinessError({"outcome": [_l("Unknown outcome.")]})
    ended_at = at or utcnow()
    call.duration_seconds = call_duration(call.started_at, ended_at, field="_")
    call.ended_at = ended_at
    call.outcome = outcome
    if notes is not None:
        call.notes = notes
    if ticket_id is not None:
        call.ticket_id = ticket_id
    session.flush()
    return call


def announce_call(session, call: CallRecord, pop: dict) -> None:
    """Tell the call's agent in the app (the back office's bell) that a call is ringing, with
    a link to the screen-pop page of its number and call. Nothing without an agent.

    This is also the live push: the agent's open back-office page polls the bell's feed
    (``core.notify.live_feed``), so within ``[notify] live_poll_seconds`` the screen-pop page
    draws the caller in place and any other page shows a toast linking to it. Only the
    agent named by the call gets it (the notification is theirs alone)."""
    from urllib.parse import quote

    from core.notify import notify

    if call.agent_id is None:
        return
    agent = session.get(User, call.agent_id)
    if agent is None or not agent.active:
        return
    who = pop["customer"]["name"] if pop.get("customer") else call.number
    notify(session, [agent], subject=_l("Incoming call: %(who)s", who=who), body=_l("Line %(line)s",
           line=call.line or "-"), link=f"/admin/call_center_screenpop/?number={quote(call.number)}&call_id={call.id}",
           kind="call_center.call.incoming", channels=("app",))
