"""Demo data of franchise (``banyan demo``): an account and a contract per demo franchisee
(the first listing its stores), a chain-wide wholesale price list, a few replenishment orders
(one shipped) and a payment; a store-audit checklist with six months of inspections of every
franchised store and one direct store (the score trend) and a corrective action; last
month's royalty statements as drafts."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from core.localtime import local_today
from core.models import PriceList, PriceListItem

from . import services as svc


def load(session, demo) -> None:
    """Draws every random choice from ``demo.rng`` so runs repeat."""
    franchisees = [c for c in demo.companies if c.kind == "franchisee"]
    today = local_today()
    wholesale = PriceList(code="PL-WHOLESALE", name="加盟批发价", kind="wholesale")
    session.add(wholesale)
    session.flush()
    for p in demo.products[:20]:
        cost = p.cost or Decimal("10.00")
        session.add(PriceListItem(price_list_id=wholesale.id, product_id=p.id,
                                  price=(cost * Decimal("1.15")).quantize(Decimal("0.01"))))
    session.flush()
    direct = [s for s in demo.stores if s.kind == "direct"]
    if direct and demo.products:  # a direct store orders too (it posts nothing to receivables)
        svc.create_order(session, direct[0].id, [(demo.products[0].id, 12)])
    people = [("王建国", "李会计"), ("陈海燕", "赵出纳"), ("刘志强", "孙财务"), ("周婷", "吴会计")]
    for n, company in enumerate(franchisees):
        owner, finance = people[n % len(people)]
        svc.open_account(session, company.id, credit_limit=Decimal(demo.rng.choice((50000, 80000, 120000))),
                         terms=demo.rng.choice(("monthly", "quarterly")), grace_days=demo.rng.choice((10, 15, 30)),
                         owner_name=owner, finance_name=finance)
        stores = [s for s in demo.stores if s.operating_company_id == company.id]
        contract = svc.create_contract(session, f"JM-{today.year}-{n + 1:03d}", company.id,
                                       today - timedelta(days=400), today + timedelta(days=30 + 300 * n),
                                       royalty_rate=Decimal("0.0500"), marketing_rate=Decimal("0.0100"),
                                       minimum_royalty=Decimal("3000.00"), initial_fee=Decimal("50000.00"),
                                       deposit=Decimal("20000.00"), territory=company.name,
                                       store_ids=[st.id for st in stores] if n == 0 else ())
        svc.activate_contract(session, contract.id)
        for store in stores[:2]:
            order = svc.create_order(session, store.id, [(p.id, demo.rng.randint(5, 40)) for p in demo.products[:3]])
            svc.submit(session, order.id)
            if order.state == "submitted":
                svc.approve(session, order.id)
            if order.state == "approved" and demo.rng.random() < 0.7:
                svc.ship(session, order.id)
        svc.record_payment(session, company.id, Decimal("20000.00"), today - timedelta(days=3), "bank",
                           f"BANK-DEMO-{n + 1}")
    _audits(session, demo, today)
    first = today.replace(day=1) - timedelta(days=1)  # last month, computed as drafts
    svc.compute_statements(session, first.year, first.month)


AUDIT_ITEMS = [("cleanliness", "门店地面与柜台整洁", 3), ("service", "顾客进店 10 秒内问候", 2),
               ("brand", "陈列与价签符合品牌标准", 3), ("food_safety", "冷藏温度不高于 4°C", 4)]


def _audits(session, demo, today) -> None:
    """A checklist and an inspection a month over six months of every franchised store and
    the first direct store, scores drawn from ``demo.rng``; the lowest gets a corrective action."""
    checklist = svc.create_checklist(session, "XD-STD", "标准巡店检查表", AUDIT_ITEMS)
    items = [i.id for i in checklist.items]
    stores = [s for s in demo.stores if s.kind == "franchise"] + [s for s in demo.stores if s.kind == "direct"][:1]
    lowest = None
    for store in stores:
        level = demo.rng.randint(65, 90)
        for back in range(5, -1, -1):
            day = today - timedelta(days=30 * back + demo.rng.randint(0, 9))
            scores = {i: max(0, min(100, level + demo.rng.randint(-12, 12))) for i in items}
            insp = svc.record_inspection(session, store.id, checklist.id, scores, inspected_on=day,
                                         note="月度例行巡店")
            level = min(98, level + demo.rng.randint(-2, 5))
            if lowest is None or insp.score < lowest.score:
                lowest = insp
    if lowest is not None:
        worst = min(lowest.scores, key=lambda sc: sc.score)
        svc.add_action(session, lowest.id, "按检查表整改并拍照回传", lowest.inspected_on + timedelta(days=14),
                       worst.item_id)
