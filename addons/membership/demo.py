"""Demo data: tiers, top-up bonuses, a member price list, members for ~60 % of customers."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from core.db import money
from core.localtime import local_midnight, local_today
from core.mixins import utcnow
from core.models import PriceList
from core.services.pricing import list_price, set_price

from addons.membership import services as svc

TIERS = (
    # code, name, rank, min_spend, min_visits, discount, multiplier
    ("normal", "普通会员 Normal", 0, None, None, "0", "1"),
    ("silver", "银卡会员 Silver", 10, "2000", 10, "0.05", "1.2"),
    ("gold", "金卡会员 Gold", 20, "8000", 30, "0.10", "1.5"),
    ("diamond", "钻石会员 Diamond", 30, "20000", 60, "0.20", "2"),
)


def load(session, demo) -> None:
    rng = demo.rng
    if not svc.tiers(session):
        for code, name, rank, spend, visits, rate, mult in TIERS:
            svc.save_tier(session, code, name, rank, min_spend=spend, min_visits=visits, discount_rate=rate,
                          points_multiplier=mult, window_days=365, grace_days=30)
        svc.save_topup_rule(session, "充500送30", "500", "30")
        svc.save_topup_rule(session, "充1000送100", "1000", "100")
    # the member price list (kind "member", declared by this addon): 8 % under the retail
    # price every product starts with, then 5 % under retail on about one product in five
    if demo.products and demo.stores:
        plist = session.execute(select(PriceList).where(PriceList.code == "MEMBER")).scalar()
        if plist is None:
            plist = PriceList(code="MEMBER", name="会员价 Member", kind="member")
            session.add(plist)
            session.flush()
            start = datetime(2000, 1, 1)  # when the kernel's demo prices start
            for product in demo.products:
                retail = list_price(session, product.id, demo.stores[0].id, "retail", start)
                if retail:
                    set_price(session, plist, product, money(Decimal(retail) * Decimal("0.92")), start)
        demo.extra.setdefault("price_lists", {})["member"] = plist
        since = local_midnight(local_today() - timedelta(days=31 * (demo.months + 1)))
        for product in demo.products:
            if rng.random() < 0.2:
                retail = list_price(session, product.id, demo.stores[0].id, "retail", utcnow())
                if retail:
                    set_price(session, plist, product, money(Decimal(retail) * Decimal("0.95")),
                              since)
    stores = demo.stores or [None]
    for customer in demo.customers:
        if rng.random() >= 0.6 or svc.get_member(session, customer.id) is not None:
            continue
        store = next((s for s in stores if s is not None and s.id == customer.home_store_id), None) \
            or rng.choice(stores)
        member = svc.enrol(session, customer.id, store_id=store.id if store else None, channel="demo")
        member.enrolled_at = utcnow() - timedelta(days=rng.randint(0, 31 * demo.months))
        if store is not None and rng.random() < 0.35:
            svc.topup(session, customer.id, rng.choice(["200", "500", "1000", "2000"]), store.id)
    session.flush()
