"""Demo data of commissions (``banyan demo``): a chain plan (2% of net sales, 5% on a chosen
category, 1.50 per unit on one product, 20% of margin on another), a store-manager override
plan (0.5%), a region plan (0.2%), targets with marginal tiers for the clerks, a 60/40 split,
a team pool (0.3% shared equally by the first store's clerks) and the commission lines of the sales the kernel's demo already made (posted as the checkout
would have)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from core.localtime import local_today
from core.models import Employee, Sale

from .attribution import post_sale
from .config import assign_plan, create_plan, create_split
from .ledger import period_of
from .statements import set_target


def load(session, demo) -> None:
    """``demo`` is a ``core.contrib.DemoContext``; every random choice comes from ``demo.rng``."""
    start = date(2020, 1, 1)
    products = list(demo.products)
    category_id = next((p.category_id for p in products if p.category_id), None)
    rules_ = [{"basis": "net_pct", "rate": Decimal("2.0")}]
    if category_id:
        rules_.append({"basis": "net_pct", "rate": Decimal("5.0"), "category_id": category_id})
    if products:
        rules_.append({"basis": "per_unit", "rate": Decimal("1.50"), "product_id": products[0].id})
    if len(products) > 1:
        rules_.append({"basis": "margin_pct", "rate": Decimal("20"), "product_id": products[1].id})
    seller = create_plan(session, "DEMO-SELL", "导购提成方案", tier_mode="marginal", rules_=rules_,
                         tiers=[{"from_pct": Decimal("100"), "rate": Decimal("1.0")},
                                {"from_pct": Decimal("120"), "rate": Decimal("2.0")}])
    manager = create_plan(session, "DEMO-MGR", "店长提成方案", rules_=[{"basis": "net_pct", "rate": Decimal("0.5")}])
    region = create_plan(session, "DEMO-REG", "区域经理提成方案", rules_=[{"basis": "net_pct", "rate": Decimal("0.2")}])
    for role in ("clerk", "cashier"):
        assign_plan(session, seller.id, start, level="seller", role=role)
    assign_plan(session, manager.id, start, level="store_manager")
    assign_plan(session, region.id, start, level="region_manager")
    employees = list(demo.employees) or list(session.execute(select(Employee).limit(50)).scalars())
    period = period_of(local_today())
    by_store: dict = {}
    for e in employees:
        if e.store_id and e.role in ("clerk", "cashier"):
            by_store.setdefault(e.store_id, []).append(e)
            set_target(session, e.id, period, Decimal(demo.rng.choice((20000, 30000, 50000))))
    for store_id, staff in by_store.items():
        if len(staff) >= 2:
            create_split(session, store_id, start, [(staff[0].id, 60), (staff[1].id, 40)], note="柜组合作")
            break
    if by_store:
        from .pools import create_pool

        team = create_plan(session, "DEMO-TEAM", "柜组公佣", rules_=[{"basis": "net_pct", "rate": Decimal("0.3")}])
        store_id, staff = next(iter(by_store.items()))
        create_pool(session, "DEMO-POOL", "一楼柜组", store_id, team.id, "equal", start, [(e.id, None) for e in staff])
    sales = session.execute(select(Sale).where(Sale.kind == "sale", Sale.state == "confirmed").order_by(Sale.id)
                            .limit(max(50, int(2000 * demo.scale)))).scalars()
    for sale in sales:
        post_sale(session, sale)
