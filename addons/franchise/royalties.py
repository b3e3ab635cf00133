"""Monthly royalty statements: draft → reviewed → posted (to receivables).

How a statement for franchisee F and month M is computed (:func:`compute_statements`):

1. The contract: F's non-draft contract covering M (the latest when two do); a terminated
   one covers the months up to the one it was terminated in. Its stores are
   those listed on it, or every store F operates when none are listed.
2. Sales, in SQL: Σ line totals (after discounts) of confirmed sales of those stores with a
   business date in M, by product category.
3. Refunds of those sales (refund documents whose original sale is in M), by category,
   subtracted, unless another statement already counted them.
4. Royalty per category = money(net × rate), the rate being the category's own rate on the
   contract or the contract's royalty rate; marketing fund = money(net × marketing rate).
   When the royalty lines add up to less than the minimum monthly royalty, a *minimum* line
   brings them to it.
5. Clearing: what franchisees and HQ owe each other for business done across them
   (stored value sold at one company's store and spent at another's, points earned at one
   and redeemed at another) comes from the ``franchise_clearing`` hook that membership and
   loyalty implement, netted per pair and per kind: a *clearing* line per counterparty,
   positive when this franchisee owes (HQ collects it), negative when it is owed (HQ pays it
   through the statement).
6. Corrections: a refund of a sale of an earlier month whose statement is already posted is
   not counted there (a posted statement never changes) but here, as a *correction* line per
   month of sale and category at the rate of this contract (royalty, and marketing fund when
   it has one). The minimum of the month of sale still holds: when that month's royalty, less
   the refunds counted so far, falls below its minimum, a *correction* line (``late_minimum``)
   gives back what the minimum still covers -- a franchisee billed the minimum owes it still,
   and only the royalty billed above the minimum is given back. Each correction line notes
   its month of sale (``note_args["period"]``), which later statements read.

Each refund counted is claimed by the statement (``franchise_statement_refund``), so it is
never counted twice; recomputing a draft releases its claims first. Rounding: money() (half
up to the cent) on each line; the total is the sum of the lines.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date

from sqlalchemy import and_, case, delete, exists, func, insert, or_, select, union_all

from core.db import ZERO, money
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Product, Sale, SaleLine, Store

from . import credit
from .models import Contract, ContractRate, ContractStore, Statement, StatementLine, StatementRefund

_U = {"banyan_unscoped": True}


def month_of(year: int, month: int) -> tuple[date, date]:
    """(first day, last day) of the month; BusinessError ``{"month"}`` out of range."""
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise BusinessError({"month": _l("Give a month between 1 and 12 of a year between 2000 and 2100.")})
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _contracts(start: date, end: date, company_ids=None):
    """Select (contract id, company id) of the contract applying to each franchisee in the month."""
    stmt = (select(func.max(Contract.id).label("contract_id"), Contract.company_id.label("company_id"))
            .where(Contract.state != "draft", Contract.start_on <= end, Contract.end_on >= start,
                   # a terminated contract is charged up to the month it was terminated in
                   or_(Contract.terminated_on.is_(None), Contract.terminated_on >= start))
            .group_by(Contract.company_id))
    if company_ids is not None:
        stmt = stmt.where(Contract.company_id.in_(list(company_ids)))
    return stmt.subquery("chosen")


def _contract_stores(chosen):
    """Select (contract_id, company_id, store_id): listed stores, or every store operated."""
    listed = (select(chosen.c.contract_id, chosen.c.company_id, ContractStore.store_id)
              .join(ContractStore, ContractStore.contract_id == chosen.c.contract_id))
    operated = (select(chosen.c.contract_id, chosen.c.company_id, Store.id.label("store_id"))
                .join(Store, Store.operating_company_id == chosen.c.company_id)
                .where(~exists().where(ContractStore.contract_id == chosen.c.contract_id)))
    return union_all(listed, operated).subquery("cs")


def _claim(session, start: date, end: date, company_ids=None, skipped=()) -> None:
    """Claim for the month's draft statements (of ``company_ids``, or all, less the companies
    ``skipped`` whose statement is reviewed or posted) the refund documents they count, in one
    ``INSERT ... SELECT``: the confirmed refunds not yet claimed by any statement, of a sale of
    the month, or of an earlier month whose statement is posted (those become corrections),
    each for the statement of its store's franchisee. Driven from the refund documents (found
    through the ``origin_id`` index: only refunds point at an original sale) joined to the
    (few) contract stores and to the month's statements."""
    cs = _contract_stores(_contracts(start, end, company_ids))
    doc = Sale.__table__.alias("doc")
    origin = Sale.__table__.alias("origin")
    posted = Statement.__table__.alias("posted")
    # the refund documents with their original sale's date, looked up by key once each (a
    # derived table kept as such by OFFSET 0: a join to every sale would be planned as a
    # merge over the whole table)
    refunds = (select(doc.c.id, doc.c.store_id,
                      select(origin.c.business_date).where(origin.c.id == doc.c.origin_id)
                      .scalar_subquery().label("sold_on"))
               .where(doc.c.origin_id.is_not(None), doc.c.kind == "refund", doc.c.state != "draft",
                      # NOT IN (a key, never NULL): one hashed pass over the claims, whatever
                      # their statistics say (an empty table's would plan a scan per refund)
                      doc.c.id.not_in(select(StatementRefund.refund_id)))
               .offset(0).subquery("refunds"))
    sold_on = refunds.c.sold_on
    earlier_posted = and_(sold_on < start,
                          exists().where(posted.c.company_id == cs.c.company_id, posted.c.state == "posted",
                                         posted.c.period <= sold_on, posted.c.period_end >= sold_on))
    in_month = and_(sold_on >= start, sold_on <= end)
    claims = (select(refunds.c.id, Statement.id, sold_on < start)
              .select_from(refunds)
              .join(cs, cs.c.store_id == refunds.c.store_id)
              .join(Statement, and_(Statement.company_id == cs.c.company_id, Statement.period == start))
              .where(or_(in_month, earlier_posted)))
    if skipped:
        claims = claims.where(cs.c.company_id.not_in(sorted(skipped)))
    session.execute(insert(StatementRefund).from_select(["refund_id", "statement_id", "correction"], claims))


def _counted(session, start: date, end: date, statement_ids: list[int], company_ids=None) -> tuple[dict, dict, dict]:
    """What the month's statements count, in **one** SELECT and one pass over the sale lines
    (the shape of the hand-written query in ``bench/franchise_royalty_bench.py``): the lines
    of the contract stores' documents that are either confirmed sales of the month or refunds
    the statements ``statement_ids`` claimed (:func:`_claim`; the claims are few, hashed and
    joined to the documents before their lines), grouped by franchisee, contract, category
    and the claim's ``correction`` flag (NULL for a sale). A claimed refund's store is one of
    its statement's contract stores (that is how it was claimed), so both kinds take their
    franchisee from the store.

    Returns ``(sales, refunds, corrections)``: ``{(company, contract): {category: amount}}``
    for sales, ``{company: {category: amount}}`` for refunds and ``{company: {(date of the
    original sale, category): amount}}`` for corrections (negative)."""
    cs = _contract_stores(_contracts(start, end, company_ids))
    doc = Sale.__table__.alias("doc")
    origin = Sale.__table__.alias("origin")
    claim = StatementRefund.__table__.alias("claim")
    # a correction's month of sale (the posted statement it corrects): the original sale's
    # date, looked up by key for the (few) corrections only
    sold_on = case((claim.c.correction.is_(True),
                    select(origin.c.business_date).where(origin.c.id == doc.c.origin_id).scalar_subquery()),
                   else_=None).label("sold_on")
    counted = (select(cs.c.company_id, cs.c.contract_id, Product.category_id, claim.c.correction, sold_on,
                      func.sum(SaleLine.total).label("total"))
               .select_from(SaleLine)
               .join(doc, doc.c.id == SaleLine.sale_id)
               .join(cs, cs.c.store_id == doc.c.store_id)
               .join(Product, Product.id == SaleLine.product_id)
               .outerjoin(claim, and_(claim.c.refund_id == doc.c.id, claim.c.statement_id.in_(statement_ids)))
               .where(doc.c.state != "draft",
                      or_(and_(doc.c.kind == "sale", doc.c.business_date >= start, doc.c.business_date <= end),
                          and_(doc.c.kind == "refund", claim.c.refund_id.is_not(None))))
               .group_by(cs.c.company_id, cs.c.contract_id, Product.category_id, claim.c.correction, sold_on))
    sales = defaultdict(lambda: defaultdict(lambda: ZERO))
    refunds = defaultdict(lambda: defaultdict(lambda: ZERO))
    corrections = defaultdict(lambda: defaultdict(lambda: ZERO))
    for company, contract, category, correction, day, total in session.execute(counted.execution_options(**_U)):
        if correction is None:
            sales[(company, contract)][category] += total
        elif correction:
            corrections[company][(day, category)] += total
        else:
            refunds[company][category] += total
    return sales, refunds, corrections


def compute_statements(session, year: int, month: int, company_ids=None) -> list[Statement]:
    """Compute (or recompute, when still draft) the statements of ``year``-``month`` for
    every franchisee with a contract covering it (or only ``company_ids``). Reviewed and
    posted statements are left as they are. Returns the statements written.

    Set-based, in one transaction and a fixed number of statements whatever the number of
    franchisees and sales: the drafts' lines and refund claims are deleted (one DELETE each);
    contracts and rates are read once; the new statements are inserted (one batch); the
    refunds they count are claimed (one ``INSERT ... SELECT``, :func:`_claim`), so a refund is
    never counted twice; the month's sales and the claimed refunds are summed in one SELECT,
    one pass over the sale lines (:func:`_counted`); the lines' amounts are worked out per statement from those sums (a
    few per category); the statements' totals are updated (one executemany) and the lines
    inserted (one executemany)."""
    start, end = month_of(year, month)
    only = None if company_ids is None else set(company_ids)
    existing = {st.company_id: st for st in session.execute(
        select(Statement).where(Statement.period == start).execution_options(**_U)).scalars()
        if only is None or st.company_id in only}
    drafts = [st.id for st in existing.values() if st.state == "draft"]
    if drafts:  # a draft's refunds are claimed, and its lines written, again below
        session.execute(delete(StatementRefund).where(StatementRefund.statement_id.in_(drafts)))
        session.execute(delete(StatementLine).where(StatementLine.statement_id.in_(drafts)))
    chosen = session.execute(select(_contracts(start, end, company_ids)).execution_options(**_U)).all()
    keys = sorted((company, contract) for contract, company in chosen
                  if existing.get(company) is None or existing[company].state == "draft")
    if not keys:
        return []
    contract_ids = sorted({contract for _company, contract in keys})
    contracts = {c.id: c for c in session.execute(select(Contract).where(Contract.id.in_(contract_ids))
                                                  .execution_options(**_U)).scalars()}
    rates: dict = defaultdict(dict)
    for r in session.execute(select(ContractRate).where(ContractRate.contract_id.in_(contract_ids))
                             .execution_options(**_U)).scalars():
        rates[r.contract_id][r.category_id] = r.rate
    written = []
    for company_id, contract_id in keys:
        st = existing.get(company_id)
        if st is None:
            st = Statement(company_id=company_id, period=start, period_end=end, state="draft")
            session.add(st)
        st.contract_id = contract_id
        written.append(st)
    session.flush()
    ids = [st.id for st in written]
    _claim(session, start, end, company_ids, skipped={c for c, st in existing.items() if st.state != "draft"})
    sales, refunds, corrections = _counted(session, start, end, ids, company_ids)
    late = _late_months(session, start, corrections)
    clearing = _clearing(session, year, month)
    rows, now = [], utcnow()
    for st in written:
        rows += [{**line, "statement_id": st.id} for line in _fill(
            st, contracts[st.contract_id], rates[st.contract_id], sales.get((st.company_id, st.contract_id), {}),
            refunds.get(st.company_id, {}), *late.get(st.company_id, ({}, {})), clearing.get(st.company_id, {}))]
        st.computed_at = now
    if rows:
        session.execute(insert(StatementLine.__table__), rows)  # Core executemany: one statement
    session.flush()
    for st in written:
        session.expire(st, ["lines"])
    return written


def _late_months(session, start: date, corrections: dict) -> dict:
    """``{company: (corrections, months)}`` for the statements of the month beginning
    ``start``: ``corrections`` ``{(month of sale, category): amount}`` (the month as the
    first day of the posted statement the refunds correct, None when none covers the day),
    ``months`` ``{month of sale: (royalty billed, minimum)}``: the royalty lines of that
    posted statement plus the royalty corrections made for it by statements of earlier months
    (the lines noting it as their ``period``), and its contract's minimum monthly royalty.
    Reads the posted statements of the companies with corrections only (none: no query)."""
    if not corrections:
        return {}
    posted = list(session.execute(
        select(Statement).where(Statement.company_id.in_(sorted(corrections)), Statement.state == "posted")
        .execution_options(**_U)).scalars())
    minimums = dict(session.execute(
        select(Contract.id, Contract.minimum_royalty)
        .where(Contract.id.in_(sorted({st.contract_id for st in posted if st.contract_id})))
        .execution_options(**_U)).all()) if posted else {}
    earlier = defaultdict(lambda: ZERO)  # (company, month iso) -> royalty corrections made before
    for company, amount, args in session.execute(
            select(Statement.company_id, StatementLine.amount, StatementLine.note_args)
            .join(Statement, Statement.id == StatementLine.statement_id)
            .where(Statement.company_id.in_(sorted(corrections)), Statement.period < start,
                   StatementLine.kind == "correction", StatementLine.note_code == "late_refunds")
            .execution_options(**_U)):
        if isinstance(args, dict) and args.get("period"):
            earlier[(company, args["period"])] += amount
    out = {}
    for company, by_day in corrections.items():
        mine = [st for st in posted if st.company_id == company]
        late, months = defaultdict(lambda: ZERO), {}
        for (day, category), amount in by_day.items():
            st = next((st for st in mine if day is not None and st.period <= day <= st.period_end), None)
            late[(st.period if st else None, category)] += amount
            if st is not None and st.period not in months:
                billed = sum((ln.amount for ln in st.lines if ln.kind == "royalty"), ZERO)
                months[st.period] = (billed + earlier[(company, st.period.isoformat())],
                                     minimums.get(st.contract_id) or ZERO)
        out[company] = (late, months)
    return out


def _clearing(session, year: int, month: int) -> dict:
    """``{company: {(counterparty, what): net amount}}`` from the ``franchise_clearing``
    hook for the local month: what ``company`` owes ``counterparty`` (negative: is owed);
    ``what`` is the item's code (``models.CLEARING_KIND``), never a label in this user's language."""
    from core.localtime import month_bounds
    from core.runtime import hook_of

    date_from, date_to = month_bounds(year, month)
    out: dict = defaultdict(lambda: defaultdict(lambda: ZERO))
    for group in hook_of(session).franchise_clearing(session=session, date_from=date_from, date_to=date_to):
        for item in group or ():
            a, b, amount = item["owed_by"], item["owed_to"], money(item["amount"])
            if a == b or not amount:
                continue
            what = str(item.get("code") or "")  # CLEARING_KIND: shown by its label when read
            out[a][(b, what)] += amount
            out[b][(a, what)] -= amount
    return out


def _line(kind, amount, base=ZERO, rate=None, category_id=None, counterparty_id=None, note=None,
          note_code=None, note_args=None) -> dict:
    """A statement line; what the computation notes is ``note_code`` (``STATEMENT_NOTE``) with
    ``note_args``, put together in the reader's language when shown."""
    return {"kind": kind, "amount": amount, "base": base, "rate": rate, "category_id": category_id,
            "counterparty_id": counterparty_id, "note": note, "note_code": note_code, "note_args": note_args}


def _fill(st: Statement, contract: Contract, rates: dict, sales: dict, refunds: dict, corrections: dict,
          months: dict | None = None, clearing: dict | None = None) -> list[dict]:
    """Set ``st``'s net sales and total; return its lines (dicts for one bulk INSERT).
    ``corrections`` and ``months`` as :func:`_late_months` gives them for ``st``'s company."""
    lines = []
    net_by_cat = {c: money(sales.get(c, ZERO) + refunds.get(c, ZERO)) for c in set(sales) | set(refunds)}
    royalty = ZERO
    for category in sorted(net_by_cat, key=lambda c: (c is None, c or 0)):
        base = net_by_cat[category]
        rate = rates.get(category, contract.royalty_rate)
        amount = money(base * rate)
        royalty += amount
        lines.append(_line("royalty", amount, base, rate, category))
    net = money(sum(net_by_cat.values(), ZERO))
    st.net_sales = net
    if contract.marketing_rate:
        lines.append(_line("marketing", money(net * contract.marketing_rate), net, contract.marketing_rate))
    if royalty < contract.minimum_royalty:
        lines.append(_line("minimum", money(contract.minimum_royalty - royalty), royalty,
                           note_code="minimum", note_args={"amount": str(money(contract.minimum_royalty))}))
    late = ZERO
    given_back = defaultdict(lambda: ZERO)  # month of sale -> royalty corrections on this statement
    for period, category in sorted(corrections, key=lambda k: (k[0] is None, k[0] or date.min, k[1] is None,
                                                               k[1] or 0)):
        base = money(corrections[(period, category)])
        rate = rates.get(category, contract.royalty_rate)
        late += base
        amount = money(base * rate)
        given_back[period] += amount
        lines.append(_line("correction", amount, base, rate, category, note_code="late_refunds",
                           note_args={"period": period.isoformat()} if period else None))
    for period in sorted(p for p in given_back if p is not None and p in (months or {})):
        billed, minimum = months[period]
        # what the month of sale owes now, less what it was billed: the minimum still holds
        owed = max(minimum, billed + given_back[period]) - max(minimum, billed)
        if owed != given_back[period]:
            lines.append(_line("correction", money(owed - given_back[period]), billed + given_back[period],
                               note_code="late_minimum",
                               note_args={"period": period.isoformat(), "month": period.strftime("%Y-%m"),
                                          "amount": str(money(minimum))}))
    if late and contract.marketing_rate:
        lines.append(_line("correction", money(late * contract.marketing_rate), late, contract.marketing_rate,
                           note_code="late_marketing"))
    for (counterparty, what), amount in sorted((clearing or {}).items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if amount:
            lines.append(_line("clearing", money(amount), amount, counterparty_id=counterparty,
                               note_code="clearing", note_args={"what": what[:80]}))
    st.total = money(sum((line["amount"] for line in lines), ZERO))
    return lines


def _statement(session, statement_id: int, lock: bool = True) -> Statement:
    stmt = select(Statement).where(Statement.id == statement_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    st = session.execute(stmt).scalar()
    if st is None:
        raise NotFound({"statement_id": _l("No such statement.")})
    return st


def review(session, statement_id: int, user=None) -> Statement:
    """Mark a draft statement reviewed (it is no longer recomputed). Conflict unless draft."""
    st = _statement(session, statement_id)
    if st.state != "draft":
        raise Conflict({"state": _l("Only a draft statement can be reviewed.")})
    st.state, st.reviewed_by_id = "reviewed", getattr(user, "id", None)
    session.flush()
    return st


def reopen(session, statement_id: int, user=None) -> Statement:
    """Back to draft (a reviewed statement that needs recomputing). Conflict once posted."""
    st = _statement(session, statement_id)
    if st.state != "reviewed":
        raise Conflict({"state": _l("Only a reviewed statement can be reopened.")})
    st.state, st.reviewed_by_id = "draft", None
    session.flush()
    return st


def post(session, statement_id: int, user=None) -> Statement:
    """Post a reviewed statement to the franchisee's receivables (a royalty debit for a
    positive total, a credit note for a negative one). It never changes afterwards."""
    st = _statement(session, statement_id)
    if st.state != "reviewed":
        raise Conflict({"state": _l("Only a reviewed statement can be posted.")})
    ref = statement_reference(session, st)
    if st.total > 0:
        entry = credit.post_debit(session, st.company_id, "royalty", st.total, st.period_end, reference=ref, user=user)
    elif st.total < 0:
        entry = credit.post_credit(session, st.company_id, "credit_note", -st.total, st.period_end, reference=ref,
                                   user=user)
    else:
        entry = None
    st.entry_id = entry.id if entry is not None else None
    st.state, st.posted_at = "posted", utcnow()
    session.flush()
    return st


def statement_reference(session, st: Statement) -> str:
    from core.models import Company

    code = session.execute(select(Company.code).where(Company.id == st.company_id).execution_options(**_U)).scalar()
    return f"RS-{code}-{st.period:%Y%m}"


__all__ = ["compute_statements", "review", "reopen", "post", "month_of", "statement_reference"]
