"""Addon sets the checkout and API benchmarks compare, each configured as a chain would use it.

``kernel``  no addon.
``ml``      membership + loyalty: every customer a member at silver (5 %; gold above it, so each
            sale checks for an upgrade), two active promotions (10 % off the bench category,
            5.00 off from 50.00) and a base earning rule (1 point per yuan).
``seven``   the seven built-in addons: ``ml`` as above, plus
            * commissions: a seller plan for cashiers (2 % of net, 5 % on the bench category,
              1.50 per unit on one product, 20 % of margin on another), a manager per store
              earning 0.5 % under a region manager earning 0.2 %, a 70/30 split at the first
              store (three commission lines per sale line);
            * franchise: an account and an active contract for every franchisee, the contract
              listing the stores it operates (:func:`franchise_some_stores` makes them, on
              every side, so the kernel data is the same);
            * campaign: birthday and lapsed-customer triggered plans approved and running, with
              their email templates;
            * spare_parts: parts fitting the first products, which carry a warranty;
            * call_center: installed (a calendar, a team and a routing rule).

:func:`configure` installs a set on a runtime built by ``bench.datagen`` (or the API bench's
seed) and configures it; it takes the ids the benchmark draws its sales from.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import insert, select, update

from core.db import transaction

SEVEN = ("membership", "loyalty", "franchise", "commissions", "spare_parts", "call_center", "campaign")
SETS = {"kernel": (), "ml": ("membership", "loyalty"), "seven": SEVEN}
LABELS = {"kernel": "kernel only", "ml": "membership + loyalty", "seven": "all seven addons"}


def franchise_some_stores(rt, store_ids, every: int = 4) -> list[int]:
    """Kernel data (apply on every side): one store in ``every`` becomes a franchise store,
    operated by one of two franchisee companies. Returns the franchised store ids."""
    from core.models import Company, Store

    chosen = [sid for n, sid in enumerate(store_ids) if n % every == every - 1]
    if not chosen:
        return []
    with rt.session() as s, transaction(s):
        companies = []
        for n in range(2):
            c = Company(code=f"BFR{n}", name=f"Franchisee {n}", kind="franchisee")
            s.add(c)
            companies.append(c)
        s.flush()
        for n, sid in enumerate(chosen):
            s.execute(update(Store).where(Store.id == sid)
                      .values(kind="franchise", operating_company_id=companies[n % 2].id))
    return chosen


def configure(rt, set_name: str, *, store_ids, product_ids, customer_ids, cashier_by_store) -> None:
    """Install the addons of ``set_name`` and configure them (see the module docstring)."""
    names = SETS[set_name]
    if not names:
        return
    from core.addons.installer import install

    install(rt, list(names), schema="create_all")
    rt.reload()
    _membership_loyalty(rt, product_ids, customer_ids)
    if "commissions" in names:
        _commissions(rt, store_ids, product_ids, cashier_by_store)
    if "franchise" in names:
        _franchise(rt)
    if "spare_parts" in names:
        _spare_parts(rt, product_ids)
    if "call_center" in names:
        _call_center(rt)
    if "campaign" in names:
        _campaign(rt, store_ids)


def _membership_loyalty(rt, product_ids, customer_ids) -> None:
    from addons.loyalty.models import EarningRule, Promotion, PromotionItem
    from addons.membership import services as msvc
    from addons.membership.models import Member
    from core.mixins import utcnow
    from core.models import Product

    with rt.session() as s, transaction(s):
        msvc.save_tier(s, "normal", "Normal", 0)
        silver = msvc.save_tier(s, "silver", "Silver", 10, min_spend="1000", discount_rate="0.05",
                                points_multiplier="1.2")
        msvc.save_tier(s, "gold", "Gold", 20, min_spend="50000", discount_rate="0.10", points_multiplier="1.5")
        s.flush()
        now = utcnow()
        s.execute(insert(Member.__table__), [
            dict(customer_id=c, status="active", tier_id=silver.id, tier_since=now, tier_locked=False,
                 enrolled_at=now, channel="bench", created_at=now, updated_at=now) for c in customer_ids])
        category_id = s.execute(select(Product.category_id).where(Product.id == product_ids[0])).scalar()
        pct = Promotion(code="BENCH10", name="10 % off bench goods", kind="percent", target="lines",
                        percent=Decimal("10"), priority=10)
        pct.items.append(PromotionItem(category_id=category_id))
        s.add(pct)
        s.add(Promotion(code="BENCH5", name="5 off from 50", kind="fixed", target="ticket", amount=Decimal("5"),
                        min_spend=Decimal("50"), priority=20))
        s.add(EarningRule(code="BASE", name="1 point per yuan", kind="base", points_per_unit=Decimal("1")))


def _commissions(rt, store_ids, product_ids, cashier_by_store) -> None:
    from addons.commissions import services as svc
    from core.models import Employee, Product

    start = date(2020, 1, 1)
    with rt.session() as s, transaction(s):
        category_id = s.execute(select(Product.category_id).where(Product.id == product_ids[0])).scalar()
        seller = svc.create_plan(s, "B-SELL", "Seller", rules_=[
            {"basis": "net_pct", "rate": Decimal("2")},
            {"basis": "net_pct", "rate": Decimal("5"), "category_id": category_id},
            {"basis": "per_unit", "rate": Decimal("1.50"), "product_id": product_ids[1]},
            {"basis": "margin_pct", "rate": Decimal("20"), "product_id": product_ids[2]}])
        mgr = svc.create_plan(s, "B-MGR", "Manager", rules_=[{"basis": "net_pct", "rate": Decimal("0.5")}])
        reg = svc.create_plan(s, "B-REG", "Region", rules_=[{"basis": "net_pct", "rate": Decimal("0.2")}])
        svc.assign_plan(s, seller.id, start, role="cashier")
        svc.assign_plan(s, mgr.id, start, level="store_manager")
        svc.assign_plan(s, reg.id, start, level="region_manager")
        boss = Employee(code="BREG", name="Region manager", role="manager")
        s.add(boss)
        s.flush()
        for store_id in store_ids:
            s.add(Employee(code=f"BM{store_id}", name=f"Manager {store_id}", store_id=store_id, role="manager",
                           manager_id=boss.id))
        helper = Employee(code="BHELP", name="Helper", store_id=store_ids[0], role="clerk")
        s.add(helper)
        s.flush()
        svc.create_split(s, store_ids[0], start, [(cashier_by_store[store_ids[0]], 70), (helper.id, 30)])


def _franchise(rt) -> None:
    from addons.franchise import services as svc
    from core.models import Company, Store

    with rt.session() as s, transaction(s):
        companies = s.execute(select(Company.id).where(Company.kind == "franchisee").order_by(Company.id)).scalars().all()
        for n, cid in enumerate(companies):
            stores = s.execute(select(Store.id).where(Store.operating_company_id == cid)).scalars().all()
            svc.open_account(s, cid, credit_limit=Decimal("100000.00"))
            c = svc.create_contract(s, f"BENCH-{n}", cid, date(2026, 1, 1), date(2027, 12, 31),
                                    royalty_rate=Decimal("0.05"), marketing_rate=Decimal("0.01"),
                                    minimum_royalty=Decimal("3000.00"), store_ids=stores)
            svc.activate_contract(s, c.id)


def _spare_parts(rt, product_ids) -> None:
    from addons.spare_parts import services as svc

    with rt.session() as s, transaction(s):
        for n, product_id in enumerate(product_ids[:5]):
            svc.set_product_warranty(s, product_id, 12)
            part = svc.save_part(s, f"BP-{n}", f"Bench part {n}", cost="12.00")
            svc.add_fit(s, part.id, product_id)


def _call_center(rt) -> None:
    from datetime import time

    from addons.call_center.models import Calendar, RoutingRule, Team

    with rt.session() as s, transaction(s):
        cal = Calendar(name="Bench hotline", opens_at=time(9, 0), closes_at=time(18, 0), weekdays="12345",
                       cn_holidays=True)
        s.add(cal)
        s.flush()
        team = Team(name="Bench team", calendar_id=cal.id)
        s.add(team)
        s.flush()
        s.add(RoutingRule(sequence=100, name="all", team_id=team.id))


def _campaign(rt, store_ids) -> None:
    from addons.campaign import services as svc
    from addons.campaign.models import Template
    from core import approvals
    from core.localtime import local_today
    from core.testing.factories import Factories

    with rt.session() as s, transaction(s):
        make = Factories(s)
        owner, approver = make.user(roles=("hq_admin",)), make.user(roles=("hq_admin",))
        for code in ("birthday", "lapsed"):
            s.add(Template(code=code, channel="email", language="en", subject="Hello {{ customer.name }}",
                           body="Dear {{ customer.name }}\nUnsubscribe: {{ unsubscribe_url }}"))
        s.flush()
        for code, trigger, days in (("B-BDAY", "birthday", None), ("B-LAPSED", "lapsed", 90)):
            plan = svc.save_plan(s, {"code": code, "name": code, "date_from": local_today() - timedelta(days=1),
                                     "date_to": local_today() + timedelta(days=365), "channel": "email",
                                     "list_code": "news", "template_code": trigger, "holdout_share": "0.1",
                                     "budget": "1000.00", "expected_cost": "100.00", "trigger": trigger,
                                     **({"trigger_days": days} if days else {})}, owner)
            svc.submit(s, plan, owner)
            approvals.approve(s, plan.approval_id, approver)
            svc.start(s, plan)
