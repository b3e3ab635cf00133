"""The points ledger: accounts, postings, lots (soonest-expiring first), expiry.

Rules every function follows:
- the customer's ``loyalty_account`` row is locked (``FOR UPDATE``) before a balance is read
  and a debit is written, so two redemptions cannot spend the same points (PostgreSQL READ
  COMMITTED; SQLite serialises writers with BEGIN IMMEDIATE). Credits take no lock: they only
  add an entry and a new lot, which a concurrent debit either sees whole or not at all, and
  never spends twice (a debit also locks the lots it consumes);
- every credit opens a lot; every debit consumes lots soonest-expiring first and records
  which lots it took (``loyalty_lot_usage``), so expiry, liability and clearing are exact;
- a posting with an ``idempotency_key`` already used returns the earlier posting unchanged.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import DateTime, String, and_, bindparam, cast, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from core.db import money
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.localtime import add_local_months, local_year, year_bounds
from core.mixins import utcnow
from core.models import Customer, Store
from core.runtime import hook_of

from .models import LoyaltyAccount, LoyaltyEntry, LoyaltyLot, LoyaltyLotUsage, LoyaltyPolicy, PromotionUse


_POLICY = select(LoyaltyPolicy).order_by(LoyaltyPolicy.id).limit(1)


def policy(session) -> LoyaltyPolicy:
    """The chain's points policy (created with defaults on first use). The default row is the
    system's, not a change by the user whose operation first needs it: it is inserted as
    such, so the record scope's chain-wide check (``core.security.scope``) does not apply."""
    pol = session.execute(_POLICY).scalar()
    if pol is None:
        session.execute(insert(LoyaltyPolicy).values(created_at=utcnow(), updated_at=utcnow()))
        pol = session.execute(_POLICY).scalar()
    return pol


def add_months(at: datetime, months: int) -> datetime:
    """``months`` calendar months after the instant ``at`` (naive UTC), counted on the chain's
    local calendar (``core.localtime.add_local_months``)."""
    return add_local_months(at, months)


def expiry_for(pol: LoyaltyPolicy, earned_at: datetime) -> datetime | None:
    """When points earned at ``earned_at`` (naive UTC) expire under the policy, as naive UTC
    (None: never). ``year_end``: the local new year after the local year of earning (plus
    ``year_end_offset`` years), e.g. earned 00:30 on 1 Jan 2027 in Shanghai (still 2026 in
    UTC) -> expires at local midnight 1 Jan 2028. ``months``: the same local time N months
    later on the local calendar. Boundaries come from ``core.localtime``."""
    if pol.expiry_mode == "never":
        return None
    if pol.expiry_mode == "year_end":
        return year_bounds(local_year(earned_at) + (pol.year_end_offset or 0))[1]
    return add_months(earned_at, pol.expiry_months or 12)


_ACCOUNT = (select(LoyaltyAccount).where(LoyaltyAccount.customer_id == bindparam("customer_id"))
            .with_for_update().execution_options(banyan_unscoped=True))


def lock_account(session, customer_id: int) -> LoyaltyAccount:
    """The customer's points account, created if needed, locked (``FOR UPDATE``) for this
    transaction. NotFound ``{"customer_id"}`` for an unknown customer."""
    acc = session.execute(_ACCOUNT, {"customer_id": customer_id}).scalar()
    if acc is not None:
        return acc
    if session.get(Customer, customer_id) is None:
        raise NotFound({"customer_id": _l("No such customer.")})
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        # one INSERT that does nothing when a concurrent transaction created the row meanwhile
        ins = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(ins(LoyaltyAccount.__table__).values(customer_id=customer_id, created_at=utcnow())
                        .on_conflict_do_nothing(index_elements=["customer_id"]))
    else:
        try:
            with session.begin_nested():
                session.add(LoyaltyAccount(customer_id=customer_id))
        except IntegrityError:  # created meanwhile by a concurrent transaction
            pass
    return session.execute(_ACCOUNT.execution_options(populate_existing=True), {"customer_id": customer_id}).scalar_one()


def document_points(session, sale_id: int) -> int:
    """The points a sale or refund document moved (whole points, ``int``, signed): the sum of
    its entries (earned, spent with points, given back)."""
    value = session.execute(select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
                            .where(LoyaltyEntry.sale_id == sale_id)
                            .execution_options(banyan_unscoped=True)).scalar()
    return int(value or 0)


def balance(session, customer_id: int) -> int:
    """Points balance (whole points, ``int``): the sum of the ledger; 0 for a customer
    without entries. Read without a lock: lock the account first before a write that
    depends on it."""
    value = session.execute(select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
                            .where(LoyaltyEntry.customer_id == customer_id)
                            .execution_options(banyan_unscoped=True)).scalar()
    return int(value or 0)


def _due_points(customer_id, at):
    """What the customer's lots past their date (``expires_at <= at``) still hold: points the
    expiry job has not posted yet, no longer spendable."""
    return (select(func.coalesce(func.sum(LoyaltyLot.remaining), 0))
            .where(LoyaltyLot.customer_id == customer_id, LoyaltyLot.remaining > 0,
                   LoyaltyLot.expires_at.is_not(None), LoyaltyLot.expires_at <= at).scalar_subquery())


def spendable(session, customer_id: int, at: datetime | None = None) -> int:
    """Points the customer can spend at ``at`` (default now; whole points, ``int``): the
    ledger balance less what lots past their date still hold. The expiry job posts those
    expiries after midnight (or later, while the worker is down); a debit posts them first.
    This is the balance shown to people (till, receipt, API, back office); :func:`balance` is
    the ledger's sum, which the lots' invariants are checked against. One statement."""
    bal = (select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
           .where(LoyaltyEntry.customer_id == customer_id).scalar_subquery())
    value = session.execute(select(bal - _due_points(customer_id, at or utcnow()))
                            .execution_options(banyan_unscoped=True)).scalar()
    return int(value or 0)


def entry_by_key(session, key: str | None) -> LoyaltyEntry | None:
    if not key:
        return None
    return session.execute(select(LoyaltyEntry).where(LoyaltyEntry.idempotency_key == key)
                           .execution_options(banyan_unscoped=True)).scalar()


def _company_of(session, store_id):
    if store_id is None:
        return None
    store = session.get(Store, store_id, execution_options={"banyan_unscoped": True})  # a business read
    return store.operating_company_id if store else None


def _post(session, entry: LoyaltyEntry) -> LoyaltyEntry:
    session.add(entry)
    session.flush()
    hook_of(session).loyalty_points_posted(session=session, entry=entry)
    return entry


def credit(session, customer_id: int, kind: str, points: int, *, store_id=None, at=None, key=None,
           source=None, note=None, sale_id=None, expires_at=None, lots_like=None, note_code=None,
           note_args=None) -> LoyaltyEntry:
    """Add ``points`` (> 0) in a new lot. ``lots_like`` = [(lot, n)] copies origin store,
    company and expiry of those lots instead (transfers keep liability and expiry)."""
    done = entry_by_key(session, key)
    if done is not None:
        return done
    if points <= 0:
        raise BusinessError({"points": _l("Points must be greater than zero.")})
    at = at or utcnow()
    entry = _post(session, LoyaltyEntry(customer_id=customer_id, kind=kind, points=points, store_id=store_id,
                                        company_id=_company_of(session, store_id), sale_id=sale_id,
                                        posted_at=at, idempotency_key=key, source=source, note=note,
                                        note_code=note_code, note_args=note_args))
    if lots_like:
        for lot, n in lots_like:
            session.add(LoyaltyLot(customer_id=customer_id, entry_id=entry.id, store_id=lot.store_id,
                                   company_id=lot.company_id, earned_at=lot.earned_at,
                                   expires_at=lot.expires_at, points=n, remaining=n))
    else:
        if expires_at is None:
            expires_at = expiry_for(policy(session), at)
        session.add(LoyaltyLot(customer_id=customer_id, entry_id=entry.id, store_id=store_id,
                               company_id=entry.company_id, earned_at=at, expires_at=expires_at,
                               points=points, remaining=points))
    session.flush()
    return entry


_ENTRIES = LoyaltyEntry.__table__
_LOTS = LoyaltyLot.__table__
_KEYS = select(_ENTRIES.c.idempotency_key, _ENTRIES.c.id).where(
    _ENTRIES.c.idempotency_key.in_(bindparam("keys", expanding=True)))


def credit_many(session, customer_id: int, kind: str, items, *, store_id=None, at=None,
                sale_id=None, pol: LoyaltyPolicy | None = None, promotion_uses=(),
                seen: dict | None = None) -> list[int]:
    """Several credits of one customer at once (the lines of a sale): ``items`` is
    ``[(points > 0, key, source)]`` with a distinct idempotency ``key`` each. Same result as
    :func:`credit` per item (keys already posted are skipped, each entry gets its own lot),
    with one policy read (``pol``: the policy when the caller has read it already), one
    INSERT of the entries (``ON CONFLICT DO NOTHING`` on the key: a replay posts nothing) and
    one INSERT of their lots -- on PostgreSQL both in one statement. Like every credit it
    takes no account lock (see the module docstring). ``promotion_uses``: rows of
    ``loyalty_promotion_use`` (a sale's, ``promotions.use_rows``) written with them, in the
    same statement on PostgreSQL. Returns the ids of the entries posted now.

    ``seen``: a dict the PostgreSQL statement fills with the account's ``owed_points``
    (key ``"owed_points"``; 0 without an account) as it stood when the entries were posted,
    when it posted any, so that the earning needs no read of its own (``earning.repay_owed``)."""
    items = [(int(p), k, src) for p, k, src in items]
    uses = list(promotion_uses)
    if not items:
        write_promotion_uses(session, uses)
        return []
    if any(p <= 0 for p, _k, _s in items):
        raise BusinessError({"points": _l("Points must be greater than zero.")})
    if any(not k for _p, k, _s in items) or len({k for _p, k, _s in items}) != len(items):
        raise ValueError("credit_many needs a distinct idempotency key per item")
    at = at or utcnow()
    company_id = _company_of(session, store_id)
    expires_at = expiry_for(pol if pol is not None else policy(session), at)
    rows = [dict(customer_id=customer_id, kind=kind, points=p, store_id=store_id, company_id=company_id,
                 sale_id=sale_id, posted_at=at, idempotency_key=k, source=src, note=None) for p, k, src in items]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        new, owed = _post_with_lots(session, rows, expires_at, uses)
        if seen is not None and new:
            seen["owed_points"] = owed
    else:
        write_promotion_uses(session, uses)
        if dialect == "sqlite":
            stmt = _SQLITE_POST
        else:  # no ON CONFLICT here: leave out the keys already posted
            done = set(dict(session.execute(_KEYS, {"keys": [r["idempotency_key"] for r in rows]}).all()))
            rows = [r for r in rows if r["idempotency_key"] not in done]
            stmt = _PLAIN_POST
        # ledger inserts run on the connection: no ORM execute layer (its events look for
        # selects to scope and for cached configuration tables, neither of which this is)
        conn = session.connection()
        new = dict((k, i) for i, k in conn.execute(stmt, rows).all()) if rows else {}
        if new:
            conn.execute(_LOT_ROWS, [
                dict(customer_id=customer_id, entry_id=new[k], store_id=store_id, company_id=company_id,
                     earned_at=at, expires_at=expires_at, points=p, remaining=p, expired_points=0,
                     pending_expiry=0)
                for p, k, _src in items if k in new])
    if not new:
        return []
    hook = hook_of(session).loyalty_points_posted  # loyalty's own spec: always there
    if hook.get_hookimpls():  # nobody listens: spare the read
        posted = session.execute(select(LoyaltyEntry).where(LoyaltyEntry.id.in_(list(new.values())))
                                 .order_by(LoyaltyEntry.id).execution_options(banyan_unscoped=True)).scalars()
        for entry in posted:
            hook(session=session, entry=entry)
    return [new[k] for _p, k, _s in items if k in new]


# statements built once: credit_many runs for every sale with a member
_SQLITE_POST = (sqlite_insert(_ENTRIES).on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(_ENTRIES.c.id, _ENTRIES.c.idempotency_key))
_PLAIN_POST = insert(_ENTRIES).returning(_ENTRIES.c.id, _ENTRIES.c.idempotency_key)
_LOT_ROWS = insert(_LOTS)
_POST_WITH_LOTS = text("""
WITH posted AS (
    INSERT INTO loyalty_entry (customer_id, kind, points, store_id, company_id, sale_id, posted_at,
                               idempotency_key, source, note)
    SELECT :customer_id, :kind, u.points, :store_id, :company_id, :sale_id, :at, u.key, u.source, NULL
    FROM unnest(CAST(:points AS integer[]), CAST(:keys AS varchar[]), CAST(:sources AS varchar[]))
         AS u(points, key, source)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, idempotency_key, points),
lots AS (
    INSERT INTO loyalty_lot (customer_id, entry_id, store_id, company_id, earned_at, expires_at, points,
                             remaining, expired_points, pending_expiry)
    SELECT :customer_id, id, :store_id, :company_id, :at, :expires_at, points, points, 0, 0 FROM posted)
SELECT idempotency_key, id,
       (SELECT coalesce(max(owed_points), 0) FROM loyalty_account WHERE customer_id = :customer_id)
FROM posted
""").bindparams(bindparam("at", type_=DateTime), bindparam("expires_at", type_=DateTime))


def _post_with_lots(session, rows, expires_at, uses=()) -> tuple[dict[str, int], int | None]:
    """PostgreSQL: the entries and one lot per entry posted in one statement (the lots are
    inserted by a data-modifying CTE from the entries actually inserted; the rows travel as
    arrays, so the statement text never changes), and the sale's promotion ``uses`` by
    another CTE of the same statement; ``({key: entry id}, the account's owed points or
    None when nothing was posted)``."""
    first = rows[0]
    params = {"customer_id": first["customer_id"], "kind": first["kind"], "store_id": first["store_id"],
              "company_id": first["company_id"], "sale_id": first["sale_id"], "at": first["posted_at"],
              "expires_at": expires_at, "points": [r["points"] for r in rows],
              "keys": [r["idempotency_key"] for r in rows], "sources": [r["source"] for r in rows]}
    stmt = _POST_WITH_LOTS
    if uses:
        stmt = _POST_WITH_LOTS_AND_USES
        params |= {f"u_{c}": [u[c] for u in uses] for c in _USE_COLUMNS}
    rows = session.connection().execute(stmt, params).all()  # a ledger insert: no ORM layer
    return {key: entry_id for key, entry_id, _owed in rows}, (int(rows[0][2]) if rows else None)


_USE_COLUMNS = ("sale_id", "promotion_id", "coupon_id", "customer_id", "discount", "used_at", "released")
_USE_ROWS = insert(PromotionUse.__table__)
# the promotion uses of the sale, as one more data-modifying CTE of the points statement
# (executed whether or not the final SELECT reads it); the rows travel as arrays
_POST_WITH_LOTS_AND_USES = text(_POST_WITH_LOTS.text.replace("SELECT idempotency_key, id,", """, uses AS (
    INSERT INTO loyalty_promotion_use (sale_id, promotion_id, coupon_id, customer_id, discount, used_at, released)
    SELECT * FROM unnest(CAST(:u_sale_id AS integer[]), CAST(:u_promotion_id AS integer[]),
                         CAST(:u_coupon_id AS integer[]), CAST(:u_customer_id AS integer[]),
                         CAST(:u_discount AS numeric[]), CAST(:u_used_at AS timestamp[]),
                         CAST(:u_released AS boolean[])))
SELECT idempotency_key, id,""")).bindparams(bindparam("at", type_=DateTime),
                                                       bindparam("expires_at", type_=DateTime))
assert "uses AS" in _POST_WITH_LOTS_AND_USES.text


def write_promotion_uses(session, rows) -> None:
    """Insert ``loyalty_promotion_use`` rows on their own (one executemany)."""
    if rows:
        session.connection().execute(_USE_ROWS, list(rows))  # a ledger insert: no ORM layer


def _lots_by_id(session, ids, lock: bool = False) -> dict[int, LoyaltyLot]:
    """The lots ``ids`` (unscoped, current; ``lock``: FOR UPDATE, in id order)."""
    if not ids:
        return {}
    stmt = (select(LoyaltyLot).where(LoyaltyLot.id.in_(sorted(ids))).order_by(LoyaltyLot.id)
            .execution_options(populate_existing=True, banyan_unscoped=True))
    if lock:
        stmt = stmt.with_for_update()
    return {lot.id: lot for lot in session.execute(stmt).scalars()}


def open_lots(session, customer_id: int, prefer_entry_id=None, lock: bool = False) -> list[LoyaltyLot]:
    """Lots with points left, in consumption order: the lot of ``prefer_entry_id`` first,
    then soonest-expiring (never-expiring last), oldest first. ``lock`` takes their row
    locks (FOR UPDATE), which a debit needs: the expiry job updates lots without the account
    lock, and a lot read unlocked could be written back over a concurrent expiry."""
    never = LoyaltyLot.expires_at.is_(None)
    stmt = (select(LoyaltyLot).where(LoyaltyLot.customer_id == customer_id, LoyaltyLot.remaining > 0)
            .order_by(never, LoyaltyLot.expires_at, LoyaltyLot.id)
            .execution_options(populate_existing=True, banyan_unscoped=True))
    if lock:
        stmt = stmt.with_for_update()
    lots = list(session.execute(stmt).scalars())
    if prefer_entry_id is not None:
        lots.sort(key=lambda lot: lot.entry_id != prefer_entry_id)
    return lots


def debit(session, customer_id: int, kind: str, points: int, *, store_id=None, at=None, key=None,
          source=None, note=None, sale_id=None, prefer_entry_id=None, partial=False, note_code=None,
          note_args=None):
    """Take ``points`` (> 0). Refused when the balance is short, unless ``partial`` (then as
    many as there are). Returns (entry or None, [(lot, n)] consumed)."""
    done = entry_by_key(session, key)
    if done is not None:
        usages = list(session.execute(select(LoyaltyLotUsage).where(LoyaltyLotUsage.entry_id == done.id)
                                      .execution_options(banyan_unscoped=True)).scalars())
        lots = _lots_by_id(session, {u.lot_id for u in usages})
        return done, [(lots[u.lot_id], u.points) for u in usages]
    if points <= 0:
        raise BusinessError({"points": _l("Points must be greater than zero.")})
    lock_account(session, customer_id)
    # lots first: once they are locked, a concurrent expiry has either committed (and the
    # balance below sees it) or waits for this transaction
    lots = open_lots(session, customer_id, prefer_entry_id, lock=True)
    # a lot past its date is expired before anything is taken, not spent: the expiry job runs
    # after midnight (and not at all while the worker is down), and points past their date
    # are no longer the customer's to spend
    cutoff = at or utcnow()
    due = [lot.id for lot in lots if lot.expires_at is not None and lot.expires_at <= cutoff]
    if due:
        expire_due(session, at=cutoff, lot_ids=due)
        lots = [lot for lot in open_lots(session, customer_id, prefer_entry_id) if lot.id not in due]
    have = balance(session, customer_id)
    if have < points:
        if not partial:
            raise BusinessError({"points": [_l("Not enough points: %(have)s available.", have=have)]})
        points = max(have, 0)
        if points == 0:
            return None, []
    entry = _post(session, LoyaltyEntry(customer_id=customer_id, kind=kind, points=-points, store_id=store_id,
                                        company_id=_company_of(session, store_id), sale_id=sale_id,
                                        posted_at=at or utcnow(), idempotency_key=key, source=source,
                                        note=note, note_code=note_code, note_args=note_args))
    left = points
    taken = []
    for lot in lots:
        if left == 0:
            break
        n = min(lot.remaining, left)
        lot.remaining -= n
        left -= n
        taken.append((lot, n))
        session.add(LoyaltyLotUsage(entry_id=entry.id, lot_id=lot.id, points=n))
    if left:
        raise BusinessError({"points": [_l("The points lots do not match the balance.")]})
    session.flush()
    return entry, taken


def give_back(session, entry: LoyaltyEntry, points: int, *, kind=None, store_id=None, at=None, key=None,
              source=None, note=None, note_code=None, note_args=None) -> LoyaltyEntry:
    """Reverse ``points`` of debit ``entry`` into the very lots it consumed (latest-expiring
    first), so expiry dates and the earning franchisee are kept."""
    done = entry_by_key(session, key)
    if done is not None:
        return done
    lock_account(session, entry.customer_id)
    # the ledger is read whole, whoever asks: the lots may have been earned at stores outside
    # the user's scope, and a reversal booked elsewhere still counts
    usages = list(session.execute(select(LoyaltyLotUsage).where(LoyaltyLotUsage.entry_id == entry.id)
                                  .execution_options(banyan_unscoped=True)).scalars())
    back = session.execute(select(LoyaltyLotUsage.lot_id, func.sum(LoyaltyLotUsage.points))
                           .join(LoyaltyEntry, LoyaltyEntry.id == LoyaltyLotUsage.entry_id)
                           .where(LoyaltyEntry.source == f"reverse:{entry.id}")
                           .group_by(LoyaltyLotUsage.lot_id).execution_options(banyan_unscoped=True)).all()
    lots = _lots_by_id(session, {u.lot_id for u in usages}, lock=True)
    already = {lot_id: -int(n) for lot_id, n in back}
    rev = _post(session, LoyaltyEntry(customer_id=entry.customer_id, kind=kind or entry.kind, points=points,
                                      store_id=store_id if store_id is not None else entry.store_id,
                                      company_id=_company_of(session, store_id if store_id is not None
                                                             else entry.store_id),
                                      sale_id=entry.sale_id, posted_at=at or utcnow(), idempotency_key=key,
                                      source=f"reverse:{entry.id}", note=note, note_code=note_code,
                                      note_args=note_args))
    left = points
    usages.sort(key=lambda u: (lots[u.lot_id].expires_at is None, lots[u.lot_id].expires_at or datetime.max,
                               u.lot_id), reverse=True)
    for u in usages:
        if left == 0:
            break
        n = min(u.points - already.get(u.lot_id, 0), left)
        if n <= 0:
            continue
        lots[u.lot_id].remaining += n
        left -= n
        session.add(LoyaltyLotUsage(entry_id=rev.id, lot_id=u.lot_id, points=-n))
    if left:
        raise BusinessError({"points": [_l("More points given back than were taken.")]})
    session.flush()
    # points given back keep their lot's date: into a lot already past it, they expire at
    # once (else they could be spent until the next expiry run)
    stale = [lot.id for lot in lots.values()
             if lot.expires_at is not None and lot.expires_at <= rev.posted_at and lot.remaining > 0]
    if stale:
        expire_due(session, at=rev.posted_at, lot_ids=stale)
        for lot_id in stale:
            session.expire(lots[lot_id])
    return rev


def expire_due(session, at: datetime | None = None, lot_ids=None) -> int:
    """Expire every lot past its date, set-based; returns the number of points expired. Each
    lot gets one ``expire`` entry (key ``expire:<at>:<lot id>``) and is emptied into
    ``expired_points``. Safe to run twice (a second run finds nothing). ``lot_ids``: only
    those lots (``give_back`` expires at once what it returns into a lot past its date).

    PostgreSQL: one statement (``UPDATE ... FROM`` the due lots ``RETURNING`` what each had
    left, feeding ``INSERT`` of the entries). The UPDATE only takes a lot whose ``remaining``
    is still what the snapshot read, so a lot changed by a concurrent debit meanwhile is left
    for the next run instead of being expired with a stale amount.
    SQLite (writers are serialised: the transaction holds the write lock): ``INSERT ... SELECT``
    of the entries, then one ``UPDATE`` of the same lots."""
    at = at or utcnow()
    due = and_(LoyaltyLot.expires_at.is_not(None), LoyaltyLot.expires_at <= at, LoyaltyLot.remaining > 0)
    if lot_ids is not None:  # only these lots (a give-back into lots past their date)
        due = and_(due, LoyaltyLot.id.in_(sorted(lot_ids)))
    stamp = at.strftime("%Y%m%d%H%M%S%f")
    cols = ["customer_id", "kind", "points", "store_id", "company_id", "posted_at", "idempotency_key", "source"]
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        snap = select(LoyaltyLot.id, LoyaltyLot.remaining).where(due).cte("due")
        upd = (update(LoyaltyLot).where(LoyaltyLot.id == snap.c.id, LoyaltyLot.remaining == snap.c.remaining)
               .values(remaining=0, expired_points=LoyaltyLot.expired_points + snap.c.remaining)
               .returning(LoyaltyLot.id, LoyaltyLot.customer_id, LoyaltyLot.store_id, LoyaltyLot.company_id,
                          snap.c.remaining.label("pts"))
               .cte("upd"))
        ins = (insert(LoyaltyEntry).from_select(cols, select(
            upd.c.customer_id, literal("expire"), -upd.c.pts, upd.c.store_id, upd.c.company_id,
            literal(at, DateTime), literal(f"expire:{stamp}:") + cast(upd.c.id, String(20)),
            literal("lot:") + cast(upd.c.id, String(20))))
            .returning(LoyaltyEntry.points).cte("ins"))
        total = session.execute(select(func.coalesce(-func.sum(ins.c.points), 0))
                                .execution_options(synchronize_session=False)).scalar()
    else:
        total = session.execute(select(func.coalesce(func.sum(LoyaltyLot.remaining), 0)).where(due)).scalar()
        if total:
            session.execute(insert(LoyaltyEntry).from_select(cols, select(
                LoyaltyLot.customer_id, literal("expire"), -LoyaltyLot.remaining, LoyaltyLot.store_id,
                LoyaltyLot.company_id, literal(at, DateTime),
                literal(f"expire:{stamp}:") + cast(LoyaltyLot.id, String(20)),
                literal("lot:") + cast(LoyaltyLot.id, String(20))).where(due)))
            session.execute(update(LoyaltyLot).where(due)
                            .values(expired_points=LoyaltyLot.expired_points + LoyaltyLot.remaining, remaining=0)
                            .execution_options(synchronize_session=False))
    session.expire_all()
    return int(total or 0)


def expiring_soon(session, within_days: int | None = None, at: datetime | None = None,
                  customer_id: int | None = None) -> list[dict]:
    """Members with points expiring within ``within_days`` (policy reminder days by default):
    ``[{customer_id, points, first_expiry}]``, most points first (for reminders/campaigns)."""
    at = at or utcnow()
    days = within_days if within_days is not None else policy(session).reminder_days
    stmt = (select(LoyaltyLot.customer_id, func.sum(LoyaltyLot.remaining), func.min(LoyaltyLot.expires_at))
            .where(LoyaltyLot.remaining > 0, LoyaltyLot.expires_at.is_not(None), LoyaltyLot.expires_at > at,
                   LoyaltyLot.expires_at <= at + timedelta(days=days))
            .group_by(LoyaltyLot.customer_id).order_by(func.sum(LoyaltyLot.remaining).desc()))
    if customer_id is not None:
        stmt = stmt.where(LoyaltyLot.customer_id == customer_id)
    return [{"customer_id": c, "points": int(p), "first_expiry": e} for c, p, e in session.execute(stmt)]


_PANEL = select(
    (select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(LoyaltyEntry.customer_id == bindparam("customer_id"))
     .scalar_subquery() - _due_points(bindparam("customer_id"), bindparam("at"))).label("balance"),
    *(select(agg).where(LoyaltyLot.customer_id == bindparam("customer_id"), LoyaltyLot.remaining > 0,
                        LoyaltyLot.expires_at.is_not(None), LoyaltyLot.expires_at > bindparam("at"),
                        LoyaltyLot.expires_at <= bindparam("until")).scalar_subquery().label(name)
      for name, agg in (("expiring", func.coalesce(func.sum(LoyaltyLot.remaining), 0)),
                        ("first_expiry", func.min(LoyaltyLot.expires_at)))),
).execution_options(banyan_unscoped=True)


def panel_figures(session, customer_id: int, at: datetime | None = None) -> dict:
    """The points panel of one customer in one statement: ``{"balance", "value",
    "expiring", "first_expiry"}``: the balance (as :func:`spendable`), its money value, and
    the points expiring within the policy's reminder days (as :func:`expiring_soon`; 0 and
    None when none), each by the ``customer_id`` indexes. The policy comes from the
    configuration cache (``earning.earning_config``)."""
    from .earning import earning_config

    pol = earning_config(session).policy or policy(session)
    at = at or utcnow()
    row = session.execute(_PANEL, {"customer_id": customer_id, "at": at,
                                   "until": at + timedelta(days=pol.reminder_days)}).one()
    points = int(row.balance or 0)
    return {"balance": points, "value": money(Decimal(points) * pol.value_per_point),
            "expiring": int(row.expiring or 0), "first_expiry": row.first_expiry}
