"""Demo data of franchise (``banyan demo``): an account and a contract per demo franchisee,
a chain-wide wholesale price list, a few replenishment orders (one shipped) and a payment."""
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
        contract = svc.create_contract(session, f"JM-{today.year}-{n + 1:03d}", company.id,
                                       today - timedelta(days=400), today + timedelta(days=30 + 300 * n),
                                       royalty_rate=Decimal("0.0500"), marketing_rate=Decimal("0.0100"),
                                       minimum_royalty=Decimal("3000.00"), initial_fee=Decimal("50000.00"),
                                       deposit=Decimal("20000.00"), territory=company.name)
        svc.activate_contract(session, contract.id)
        stores = [s for s in demo.stores if s.operating_company_id == company.id]
        for store in stores[:2]:
            order = svc.create_order(session, store.id, [(p.id, demo.rng.randint(5, 40)) for p in demo.products[:3]])
            svc.submit(session, order.id)
            if order.state == "submitted":
                svc.approve(session, order.id)
            if order.state == "approved" and demo.rng.random() < 0.7:
                svc.ship(session, order.id)
        svc.record_payment(session, company.id, Decimal("20000.00"), today - timedelta(days=3), "bank",
                           f"BANK-DEMO-{n + 1}")
