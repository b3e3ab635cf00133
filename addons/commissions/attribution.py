"""Commission lines of a confirmed sale, and their reversal on a refund.

Who earns on a sale line, each by the plan assigned to them at their level (``rules``):
- ``seller``: the employee on the line (the kernel's ``clerk_id``), else the sale's cashier.
  When a split is in force for that employee at the sale's store, the line's commission
  (computed once, with the credited employee's plan and rule) is shared by percentage and
  the rounding remainder goes to the credited employee (the first share);
- ``store_manager``: the active employee with role ``manager`` of the sale's store (lowest
  id when several);
- ``region_manager``: that store manager's own manager (``core_employee.manager_id``).

A line is written for every employee whose plan is in force, even when no rule matches
(amount 0): it still credits the employee's net sales (attainment) and names the plan.

A refund line reverses each commission line of its original sale line in proportion to the
quantity refunded (``money(amount x refunded qty / sold qty)``); the refund that gives back
the last unit takes exactly what is left, so the reversals of a line sum to it. A reversal
of a line not yet settled goes into that line's period (or the next open one); of a line on
an approved or paid statement it is a ``clawback`` in the refund's period (or the next open
one), unless the refund comes more than ``clawback_days`` after the sale: then a ``waived``
line records what was not clawed back (amount 0, ``due`` the amount). Keys make a replay post
nothing, so nothing is reversed twice.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from core.db import ZERO, money
from core.localtime import business_date
from core.models import Product, SaleLine

from . import ledger, rules
from .models import CommissionLine

_U = {"banyan_unscoped": True}


def _day(doc):
    return doc.business_date or business_date(doc.confirmed_at or doc.created_at)


def _products(session, lines) -> dict:
    """``{product_id: (category_id, cost)}`` of the lines' products, from the lines' loaded
    products where the checkout left them, else in one query."""
    out, missing = {}, set()
    for line in lines:
        product = line.__dict__.get("product")
        if product is not None:
            out[line.product_id] = (product.category_id, product.cost)
        else:
            missing.add(line.product_id)
    if missing:
        out.update({i: (c, cost) for i, c, cost in session.execute(
            select(Product.id, Product.category_id, Product.cost).where(Product.id.in_(sorted(missing)))
            .execution_options(**_U))})
    return out


def sale_rows(session, sale, cfg=None) -> list[dict]:
    """The ledger rows (dicts) the confirmed ``sale`` earns; nothing is written (the what-if
    and the checkout alike use it). Empty for a refund document or when no plan is assigned."""
    cfg = cfg or rules.config(session)
    if sale.kind != "sale" or not cfg.assignments:
        return []
    day = _day(sale)
    period = ledger.period_of(day)
    store_id = sale.store_id
    managers = []
    sm = cfg.employees.get(cfg.store_managers.get(store_id))
    if sm is not None:
        if "store_manager" in cfg.levels:
            managers.append(("store_manager", sm))
        rm = cfg.employees.get(sm.manager_id)
        if "region_manager" in cfg.levels and rm is not None:
            managers.append(("region_manager", rm))
    products = _products(session, sale.lines)
    seller = "seller" in cfg.levels
    sale_id, cashier_id = sale.id, sale.cashier_id
    out: list[dict] = []
    for line in sale.lines:
        qty = line.qty
        if qty <= 0:
            continue
        line_id, product_id = line.id, line.product_id
        category_id, cost = products[product_id]
        net = Decimal(line.total)
        qty = Decimal(qty)
        # every column of the ledger row (``ledger.post(..., complete=True)`` copies nothing)
        common = {"store_id": store_id, "period": period, "business_date": day, "sale_id": sale_id,
                  "sale_line_id": line_id, "product_id": product_id, "qty": qty, "origin_id": None,
                  "statement_id": None, "reason": None, "line_net": None, "credited_id": None, "posted_at": None}
        credited = line.clerk_id or cashier_id
        if credited and seller:
            emp = cfg.employees.get(credited)  # an inactive employee earns nothing
            got = rules.resolve(cfg, emp, "seller", store_id, day, product_id, category_id) if emp is not None else None
            if got is not None:
                base, amount = rules.earn(got.rule, net, qty, cost)
                base = money(base)
                shares = rules.split_for(cfg, store_id, credited, day)
                if shares is None:
                    out.append({**common, "key": f"s:{line_id}:seller:{credited}", "employee_id": credited,
                                "kind": "sale", "level": "seller", "plan_id": got.plan_id, "rule_id": got.rule_id,
                                "basis": got.basis, "rate": got.rate, "base_amount": base,
                                "share_pct": rules.HUNDRED, "sales_amount": net, "amount": amount, "due": amount})
                else:
                    # a split: every share names the whole line's net, the others the credited
                    # employee (the first share): the what-if recomputes a share on its own
                    amounts = rules.split_amounts(amount, shares)
                    sales = rules.split_amounts(net, shares)
                    for i, ((emp_id, pct), part, sold) in enumerate(zip(shares, amounts, sales)):
                        out.append({**common, "key": f"s:{line_id}:seller:{emp_id}", "employee_id": emp_id,
                                    "kind": "sale", "level": "seller", "plan_id": got.plan_id,
                                    "rule_id": got.rule_id, "basis": got.basis, "rate": got.rate,
                                    "base_amount": base, "share_pct": Decimal(pct), "sales_amount": sold,
                                    "amount": part, "due": part, "line_net": net,
                                    "credited_id": credited if i else None})
        for level, emp in managers:
            got = rules.resolve(cfg, emp, level, store_id, day, product_id, category_id)
            if got is None:
                continue
            base, amount = rules.earn(got.rule, net, qty, cost)
            out.append({**common, "key": f"s:{line_id}:{level}:{emp.id}", "employee_id": emp.id, "kind": "sale",
                        "level": level, "plan_id": got.plan_id, "rule_id": got.rule_id, "basis": got.basis,
                        "rate": got.rate, "base_amount": money(base), "share_pct": rules.HUNDRED,
                        "sales_amount": net, "amount": amount, "due": amount})
    return out


def post_sale(session, sale) -> int:
    """Write the commission lines of confirmed ``sale`` (``on_sale_confirmed``) and its team
    pool's entries (``pools``); returns the number of commission lines written (0 on a replay)."""
    cfg = rules.config(session)
    n = ledger.post(session, sale_rows(session, sale, cfg), complete=True)
    if cfg.pools and sale.kind == "sale":
        from . import pools

        pools.post_sale(session, sale, cfg, _day(sale), _products(session, sale.lines))
    return n


def reverse_refund(session, refund, sale) -> int:
    """Reverse, per refund line, the commission lines of its original sale line and the team
    pool's entries (``on_sale_refunded``; see the module docstring). Returns the number of
    commission lines written."""
    origin_ids = [ln.origin_line_id for ln in refund.lines if ln.origin_line_id]
    if not origin_ids:
        return 0
    if rules.config(session).pools:
        from . import pools

        pools.reverse_refund(session, refund, _day(refund))
    originals: dict[int, list] = {}
    for c in session.execute(select(CommissionLine).where(CommissionLine.sale_line_id.in_(origin_ids),
                                                          CommissionLine.kind == "sale")
                             .order_by(CommissionLine.id).execution_options(**_U)).scalars():
        originals.setdefault(c.sale_line_id, []).append(c)
    if not originals:
        return 0
    ids = [c.id for cs in originals.values() for c in cs]
    before = {oid: (d or ZERO, s or ZERO) for oid, d, s in session.execute(
        select(CommissionLine.origin_id, func.sum(CommissionLine.due), func.sum(CommissionLine.sales_amount))
        .where(CommissionLine.origin_id.in_(ids)).group_by(CommissionLine.origin_id).execution_options(**_U))}
    from .statements import policy

    pol = rules.config(session).policy or policy(session)
    window = pol.clawback_days
    day = _day(refund)
    period = ledger.period_of(day)
    rows = []
    for rline in refund.lines:
        origin = session.get(SaleLine, rline.origin_line_id) if rline.origin_line_id else None
        if origin is None:
            continue
        last = origin.refunded_qty >= origin.qty
        for c in originals.get(origin.id, ()):
            due_before, sales_before = before.get(c.id, (ZERO, ZERO))
            left, sales_left = c.amount + due_before, c.sales_amount + sales_before
            if last:
                due, sales = -left, -sales_left
            else:
                # refund quantities are negative; multiplied before dividing: the exact proportion,
                # rounded once (the what-if replays the same arithmetic in SQL)
                rq, q = Decimal(rline.qty), Decimal(origin.qty)
                due, sales = money(c.amount * rq / q), money(c.sales_amount * rq / q)
                due = max(due, -left) if left >= 0 else min(due, -left)
            settled = c.statement_id is not None
            kind, amount, reason = "reversal", due, None
            if settled:
                kind = "clawback"
                if (day - c.business_date).days > window:
                    kind, amount = "waived", ZERO  # the kind says why; `due` what was not clawed back
            rows.append({"key": f"r:{rline.id}:{c.id}", "employee_id": c.employee_id, "store_id": refund.store_id,
                         "period": period if settled else c.period, "business_date": day, "kind": kind,
                         "level": c.level, "sale_id": refund.id, "sale_line_id": rline.id,
                         "product_id": c.product_id, "origin_id": c.id, "plan_id": c.plan_id, "rule_id": c.rule_id,
                         "basis": c.basis, "rate": c.rate, "share_pct": c.share_pct, "qty": Decimal(rline.qty),
                         "base_amount": ZERO, "sales_amount": sales, "due": due, "amount": amount, "reason": reason})
            before[c.id] = (due_before + due, sales_before + sales)
    return ledger.post(session, rows)
