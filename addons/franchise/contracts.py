"""Franchise contracts: draft → active → expiring → ended, or terminated; renewal.

The expiry job (:func:`expiry_job`, daily) is set-based: one UPDATE marks active contracts
ending within ``REMINDER_DAYS`` as ``expiring`` (and notes the day), one marks contracts
past their end as ``ended``; HQ administrators are notified once per contract turned
expiring (``core.notify``, kind ``franchise.contract.expiring``). A second run the same day
changes nothing.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from core.db import money
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import lazy_gettext as _l
from core.validation import is_id
from core.localtime import local_today
from core.models import Company, ProductCategory, Store

from .models import Contract, ContractRate, ContractStore

REMINDER_DAYS = 60
_U = {"banyan_unscoped": True}


def _rate(value, field: str) -> Decimal:
    try:
        r = Decimal(str(value))
    except Exception:
        raise BusinessError({field: _l("Must be a number.")})
    if not r.is_finite() or r < 0 or r >= 1 or r != r.quantize(Decimal("0.0001")):
        raise BusinessError({field: _l("Must be a fraction from 0 to below 1, at most four decimals (0.06 = 6%).")})
    return r


def _amount(value, field: str) -> Decimal:
    try:
        a = Decimal(str(value))
    except Exception:
        raise BusinessError({field: _l("Must be a number.")})
    if not a.is_finite() or a < 0 or money(a) != a:
        raise BusinessError({field: _l("Must be zero or more, in cents.")})
    return a


def create_contract(session, number: str, company_id: int, start_on: date, end_on: date, royalty_rate=0,
                    marketing_rate=0, minimum_royalty=0, initial_fee=0, deposit=0, territory: str | None = None,
                    store_ids=(), category_rates=None, renewal_of_id: int | None = None) -> Contract:
    """A draft contract. ``category_rates``: ``{category id: rate}``. BusinessError naming
    the field: ``company_id`` (not a franchisee), ``end_on`` (not after the start),
    ``store_ids`` (a store the franchisee does not operate), a rate or amount out of range."""
    company = session.execute(select(Company).where(Company.id == company_id)).scalar()
    if company is None or company.kind != "franchisee":
        raise BusinessError({"company_id": _l("Must be a company of kind franchisee.")})
    if not number or not str(number).strip():
        raise BusinessError({"number": _l("A contract number is required.")})
    if end_on <= start_on:
        raise BusinessError({"end_on": _l("Must be after the start.")})
    c = Contract(number=str(number).strip(), company_id=company_id, start_on=start_on, end_on=end_on,
                 royalty_rate=_rate(royalty_rate, "royalty_rate"), marketing_rate=_rate(marketing_rate, "marketing_rate"),
                 minimum_royalty=_amount(minimum_royalty, "minimum_royalty"),
                 initial_fee=_amount(initial_fee, "initial_fee"), deposit=_amount(deposit, "deposit"),
                 territory=territory, state="draft", renewal_of_id=renewal_of_id)
    apply_stores(session, c, store_ids)
    for cat, rate in (category_rates or {}).items():
        if session.get(ProductCategory, cat) is None:
            raise BusinessError({"category_rates": _l("No such category: %(id)s.", id=cat)})
        c.rates.append(ContractRate(category_id=cat, rate=_rate(rate, "category_rates")))
    session.add(c)
    session.flush()
    return c


def apply_stores(session, contract: Contract, store_ids) -> Contract:
    """Make ``contract`` cover exactly ``store_ids`` (empty: every store its franchisee
    operates, now and later). Each must be a store the caller's session sees (its record
    scope) that the contract's franchisee operates (the kernel's ``operating_company``).
    BusinessError naming ``store_ids.<index>`` for the first one that is not, or is listed
    twice; nothing is changed then. Rows of stores no longer listed are removed, new ones
    added (the contract is not flushed)."""
    wanted: list[int] = []
    for n, sid in enumerate(store_ids or ()):
        if sid in wanted:
            raise BusinessError({f"store_ids.{n}": _l("This store is listed twice.")})
        store = session.execute(select(Store).where(Store.id == sid)).scalar() if is_id(sid) else None
        if store is None:
            raise BusinessError({f"store_ids.{n}": _l("No such store.")})
        if store.operating_company_id is None or store.operating_company_id != contract.company_id:
            named = " ".join((store.code, store.name))
            raise BusinessError({f"store_ids.{n}": _l("%(store)s is not operated by this contract's franchisee.",
                                                      store=named)})
        wanted.append(sid)
    have = {row.store_id: row for row in contract.stores}
    for sid, row in have.items():
        if sid not in wanted:
            contract.stores.remove(row)
    for sid in wanted:
        if sid not in have:
            contract.stores.append(ContractStore(store_id=sid))
    return contract


def set_stores(session, contract_id: int, store_ids, user=None) -> Contract:
    """Change the stores a contract covers (see :func:`apply_stores`): a draft, active or
    expiring contract (Conflict ``{"state"}`` once ended or terminated; NotFound). Statements
    computed afterwards count the new stores; posted ones never change."""
    c = _contract(session, contract_id)
    if c.state in ("ended", "terminated"):
        raise Conflict({"state": _l("The stores of an ended or terminated contract cannot be changed.")})
    apply_stores(session, c, store_ids)
    session.flush()
    return c


def _contract(session, contract_id: int) -> Contract:
    c = session.execute(select(Contract).where(Contract.id == contract_id).with_for_update()
                        .execution_options(populate_existing=True)).scalar()
    if c is None:
        raise NotFound({"contract_id": _l("No such contract.")})
    return c


def activate(session, contract_id: int, user=None) -> Contract:
    """Activate a draft contract; the initial fee, when there is one and the franchisee has
    an account, is invoiced to its receivables (kind ``fee``)."""
    from . import credit
    from .models import Franchisee

    c = _contract(session, contract_id)
    if c.state != "draft":
        raise Conflict({"state": _l("Only a draft contract can be activated.")})
    c.state = "expiring" if c.end_on <= local_today() + timedelta(days=REMINDER_DAYS) else "active"
    if c.initial_fee > 0 and session.execute(select(Franchisee.company_id).where(
            Franchisee.company_id == c.company_id).execution_options(**_U)).first():
        credit.post_debit(session, c.company_id, "fee", c.initial_fee, max(c.start_on, local_today()),
                          reference=f"{c.number}-FEE", user=user)
    session.flush()
    return c


def terminate(session, contract_id: int, reason: str, user=None) -> Contract:
    """End an active or expiring contract early with ``reason``, on the local day (royalty
    statements are computed for it up to that day's month, not after) (BusinessError
    ``{"reason"}`` when empty, Conflict ``{"state"}`` in another state, NotFound)."""
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError({"reason": _l("Say why the contract is terminated.")})
    c = _contract(session, contract_id)
    if c.state not in ("active", "expiring"):
        raise Conflict({"state": _l("Only an active contract can be terminated.")})
    c.state, c.terminated_reason, c.terminated_on = "terminated", reason[:255], local_today()
    session.flush()
    return c


def renew(session, contract_id: int, number: str, end_on: date, user=None) -> Contract:
    """A draft contract continuing ``contract_id`` the day after it ends, on the same terms,
    stores and category rates, until ``end_on``."""
    old = _contract(session, contract_id)
    if old.state not in ("active", "expiring", "ended"):
        raise Conflict({"state": _l("Only an active, expiring or ended contract can be renewed.")})
    return create_contract(session, number, old.company_id, old.end_on + timedelta(days=1), end_on,
                           old.royalty_rate, old.marketing_rate, old.minimum_royalty, Decimal("0"), old.deposit,
                           old.territory, [s.store_id for s in old.stores],
                           {r.category_id: r.rate for r in old.rates}, renewal_of_id=old.id)


def expiry_job(session, today: date | None = None) -> dict:
    """Set-based expiry pass (see the module docstring). Returns ``{"expiring": n, "ended": n}``.
    Each state change is written to the audit log in the same transaction (one bulk insert)."""
    from sqlalchemy import insert

    from core.models import AuditLog
    from core.notify import notify, role

    today = today or local_today()
    ending = session.execute(select(Contract.id, Contract.state).where(
        Contract.state.in_(("active", "expiring")), Contract.end_on < today).execution_options(**_U)).all()
    soon = session.execute(select(Contract.id, Contract.number, Contract.end_on).where(
        Contract.state == "active", Contract.end_on >= today,
        Contract.end_on <= today + timedelta(days=REMINDER_DAYS)).execution_options(**_U)).all()
    if ending:
        session.execute(update(Contract).where(Contract.id.in_([r[0] for r in ending]))
                        .values(state="ended").execution_options(synchronize_session=False))
    if soon:
        session.execute(update(Contract).where(Contract.id.in_([r[0] for r in soon]))
                        .values(state="expiring", reminded_on=today).execution_options(synchronize_session=False))
    audit = ([{"model": Contract.__tablename__, "record_id": str(cid), "action": "update",
               "changes": {"state": [state, "ended"]}} for cid, state in ending]
             + [{"model": Contract.__tablename__, "record_id": str(cid), "action": "update",
                 "changes": {"state": ["active", "expiring"], "reminded_on": [None, today.isoformat()]}}
                for cid, _n, _e in soon])
    if audit:
        session.execute(insert(AuditLog), audit)
    for cid, number, end_on in soon:
        notify(session, [role("hq_admin")], _l("Franchise contract %(number)s ends on %(end)s",
                                               number=number, end=end_on.isoformat()),
               _l("Renew it or prepare its end."), kind="franchise.contract.expiring",
               link=("franchise_contract", cid), channels=("app",))
    session.flush()
    return {"expiring": len(soon), "ended": len(ending)}
