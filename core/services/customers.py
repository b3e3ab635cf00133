"""Customer duplicate detection and merge."""
from __future__ import annotations

from sqlalchemy import and_, func, select, update

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer
from core.runtime import hook_of, runtime_of


def find_duplicates(session, limit: int = 100) -> list[tuple[str, list[int]]]:
    """Groups of active customers sharing a phone, an email, or a name and birthday."""
    groups = []
    for label, cols in (("phone", [Customer.phone]), ("email", [Customer.email]),
                        ("name+birthday", [Customer.name, Customer.birthday])):
        keyed = (select(*cols, func.count().label("n")).where(Customer.active.is_(True),
                                                                *[c.is_not(None) for c in cols])
                 .group_by(*cols).having(func.count() > 1).limit(limit))
        for row in session.execute(keyed):
            ids = session.execute(select(Customer.id).where(
                Customer.active.is_(True), and_(*[c == v for c, v in zip(cols, row[:-1])]))
                .order_by(Customer.id)).scalars().all()
            groups.append((label, ids))
    return groups


def duplicates_of(session, customer: Customer) -> list[Customer]:
    conds = []
    if customer.phone:
        conds.append(Customer.phone == customer.phone)
    if customer.email:
        conds.append(Customer.email == customer.email)
    if customer.birthday:
        conds.append(and_(Customer.name == customer.name, Customer.birthday == customer.birthday))
    if not conds:
        return []
    from sqlalchemy import or_

    return list(session.execute(select(Customer).where(Customer.id != customer.id, Customer.active.is_(True),
                                                        or_(*conds))).scalars())


def _referencing_columns(session):
    """(table, column) for every foreign key to core_customer.id among this database's tables."""
    from core.services.merge_rules import customer_columns

    return [(table, table.c[col]) for table in runtime_of(session).registry.tables()
            for col in customer_columns(table)]


#: how many merges deep :func:`surviving_customer_id` follows (a chain longer than this is a loop)
MAX_MERGE_CHAIN = 32


def surviving_customer_id(session, customer_id: int) -> int | None:
    """The customer that ``customer_id`` is today: itself, or, when it was merged away, the
    customer it was merged into (followed through later merges). None for an unknown id.
    For everything that names a customer from outside and acts later (a signed link in an
    email, a token, a stored reference): the act must reach the surviving record, never the
    merged-away tombstone. One small query per merge followed."""
    cid = customer_id
    for _ in range(MAX_MERGE_CHAIN):
        nxt = session.execute(select(Customer.merged_into_id).where(Customer.id == cid)
                              .execution_options(banyan_unscoped=True)).first()
        if nxt is None:
            return None
        if nxt[0] is None or nxt[0] == cid:
            return cid
        cid = nxt[0]
    return cid


def merge_customers(session, kept_id: int, removed_id: int, user=None) -> Customer:
    """Merge ``removed`` into ``kept`` inside the caller's transaction and return ``kept``.

    Every plain reference moves to ``kept``, and so do its attachments (``core.files``); a table whose unique key contains the customer
    (a member row, an account, a rebate per year, a tag) is resolved by its owner's
    ``MergeRule`` (``register_merge_rules``, applied by ``core.services.merge_rules``);
    addons then fix their ledgers and aggregates through ``on_customer_merged``. The
    removed record stays, inactive, pointing at ``kept`` (the audit trail keeps its
    history). Raises BusinessError (same id) or NotFound (either customer missing or
    already merged away)."""
    from core.services.merge_rules import apply_rules

    if kept_id == removed_id:
        raise BusinessError({"removed_id": _l("A customer cannot be merged into itself.")})
    kept = session.get(Customer, kept_id, with_for_update=True)
    removed = session.get(Customer, removed_id, with_for_update=True)
    if kept is None or not kept.active:
        raise NotFound({"kept_id": _l("No such customer.")})
    if removed is None or not removed.active:
        raise NotFound({"removed_id": _l("No such customer.")})
    session.flush()
    registry = runtime_of(session).registry
    handled = apply_rules(session, registry.tables(), registry.merge_rules, kept.id, removed.id)
    for table, col in _referencing_columns(session):
        if table.name in handled:
            continue
        session.execute(update(table).where(col == removed.id).values({col.name: kept.id})
                        .execution_options(banyan_unscoped=True))
    for field in ("phone", "email", "birthday", "address", "id_number", "home_store_id"):
        if getattr(kept, field) is None and getattr(removed, field) is not None:
            value = getattr(removed, field)
            if field in ("phone", "email"):
                setattr(removed, field, None)
                session.flush()
            setattr(kept, field, value)
    # attachments name their record by (table, id), not by foreign key: moved here
    from core.files import repoint

    repoint(session, Customer, removed.id, kept.id)
    kept.consent_email = kept.consent_email or removed.consent_email
    kept.consent_sms = kept.consent_sms or removed.consent_sms
    kept.consent_wechat = kept.consent_wechat or removed.consent_wechat
    session.flush()  # expire_all() below would otherwise drop the fields copied onto kept
    session.expire_all()
    kept = session.get(Customer, kept_id)
    removed = session.get(Customer, removed_id)
    hook_of(session).on_customer_merged(session=session, kept=kept, removed=removed)
    removed.active = False
    removed.merged_into_id = kept.id
    removed.merged_at = utcnow()
    session.flush()
    return kept
