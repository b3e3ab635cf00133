"""Demo data of spare_parts (``banyan demo``): a coffee-machine and appliance service chain.

Parts with Chinese names (a pump superseded twice, heaters, boards, seals), warranty months
for the demo products, stock at the HQ warehouse and the stores' back rooms with safety
levels, a technician and a parts keeper, registered items, and work orders in every state
with replacement requests (one waiting for HQ approval, one shipped, one closed). Every
random choice comes from ``demo.rng``; everything goes through the services.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from core.localtime import local_today, to_utc
from core.models import Role, User, Warehouse

from . import services as svc
from .models import StockLevel

PARTS = (
    ("PUMP-V1", "水泵 V1 Water pump", "180.00"), ("PUMP-V2", "水泵 V2 Water pump", "195.00"),
    ("PUMP-V3", "水泵 V3 Water pump", "210.00"), ("HEAT-01", "加热管 Heating element", "120.00"),
    ("MB-220", "主控板 Main board", "360.00"), ("LCD-35", "显示屏 Display 3.5\"", "240.00"),
    ("SEAL-08", "密封圈 Gasket", "6.50"), ("GRIND-2", "研磨器 Grinder burr", "88.00"),
    ("BAT-3000", "电池 Battery 3000mAh", "95.00"), ("FAN-12", "散热风扇 Cooling fan", "32.00"),
)
SYMPTOMS = ("不出水 No water flows", "加热慢 Heats slowly", "开机无显示 Blank display", "噪音大 Loud noise",
            "漏水 Leaking", "无法开机 Does not power on")
FAULTS = ("leak", "overheat", "display", "noise", "leak", "no_power")


def _user(session, username: str, role: str, scope_kind: str = "all", ref=None, demo=None) -> User:
    """The demo login ``username`` (made once, password ``DEMO_PASSWORD``), listed in
    ``demo.users`` so that ``banyan demo`` names it with the others."""
    from core.security.passwords import hash_password

    from core.demo import DEMO_PASSWORD

    u = session.execute(select(User).where(User.username == username)).scalar()
    if u is None:
        u = User(username=username, password_hash=hash_password(DEMO_PASSWORD), scope_kind=scope_kind,
                 scope_ref_id=ref, locale="zh_Hans")
        r = session.get(Role, role)
        u.roles = [r] if r is not None else []
        session.add(u)
        session.flush()
        if demo is not None:
            demo.users.append(u)
    return u


def _warehouses(session, demo) -> tuple[Warehouse, dict]:
    whs = session.execute(select(Warehouse).order_by(Warehouse.id)).scalars().all()
    hq = next((w for w in whs if w.store_id is None), None)
    company = demo.companies[0]
    if hq is None:
        hq = Warehouse(code="SP-WH-HQ", name="备件总仓 Parts HQ warehouse", company_id=company.id)
        session.add(hq)
    by_store = {w.store_id: w for w in whs if w.store_id is not None}
    for s in demo.stores:
        if s.id not in by_store:
            by_store[s.id] = Warehouse(code=f"SP-WH-{s.code}", name=f"{s.code} 后仓 back room",
                                       company_id=s.operating_company_id, store_id=s.id)
            session.add(by_store[s.id])
    session.flush()
    return hq, by_store


def load(session, demo) -> None:
    """``demo`` is a ``core.contrib.DemoContext`` (chain, customers, products, users built)."""
    rng = demo.rng
    if not demo.stores or not demo.products:
        return
    hq_wh, store_wh = _warehouses(session, demo)
    parts = {}
    for number, name, cost in PARTS:
        parts[number] = svc.find_part(session, number) or svc.save_part(
            session, number, name, cost=cost, warranty_covered=number != "SEAL-08",
            product_id=rng.choice(demo.products).id)
    svc.supersede(session, parts["PUMP-V1"].id, parts["PUMP-V2"].id)
    svc.supersede(session, parts["PUMP-V2"].id, parts["PUMP-V3"].id)
    machines = demo.products[: max(2, min(6, len(demo.products)))]
    for i, product in enumerate(machines):
        svc.set_product_warranty(session, product.id, 24 if i % 3 == 0 else 12)
        # the pump and heater every machine has (the work orders below ask for them), plus
        # other distinct parts drawn at random
        fitted = {"PUMP-V3", "HEAT-01"} | set(rng.sample(sorted(parts), 4))
        for number in sorted(fitted):
            svc.add_fit(session, parts[number].id, product.id)
    keeper = _user(session, "parts_keeper", "parts_keeper", demo=demo)
    store0 = demo.stores[0]
    tech = _user(session, f"tech_{store0.code.lower()}", "technician", "store", store0.id, demo=demo)
    admin = next((u for u in demo.users if u.is_superuser), None) or _user(session, "sp_admin", "hq_admin")
    approver = _user(session, "service_hq", "hq_admin", demo=demo)
    for number, part in parts.items():
        svc.receive(session, part.id, hq_wh.id, rng.randrange(20, 80), user=keeper, reason="采购入库 purchase")
        session.add(StockLevel(part_id=part.id, warehouse_id=hq_wh.id, safety_stock=Decimal(15),
                               reorder_qty=Decimal(50)))
    for s in demo.stores[:6]:
        wh = store_wh[s.id]
        for number in rng.sample(sorted(parts), 4):
            svc.transfer(session, parts[number].id, hq_wh.id, wh.id, rng.randrange(1, 4), user=keeper)
            session.add(StockLevel(part_id=parts[number].id, warehouse_id=wh.id, safety_stock=Decimal(2),
                                   reorder_qty=Decimal(4)))
    session.flush()
    # registered items, bought over the last two years
    today = local_today()
    serials = []
    for n, customer in enumerate(demo.customers[: max(6, int(40 * demo.scale))], start=1):
        product = rng.choice(machines)
        bought = today - timedelta(days=rng.randrange(10, 720))
        w = svc.register_warranty(session, f"SN{bought:%y%m}{n:05d}", product.id, customer.home_store_id or store0.id,
                                  bought, customer_id=customer.id, extended_months=rng.choice((0, 0, 0, 12)))
        serials.append(w)
    # work orders at the first store, in every state
    at = to_utc(datetime.combine(today, time(10)))
    orders = []
    for i, w in enumerate(serials[:6]):
        wo = svc.create_work_order(session, store0.id, SYMPTOMS[i % len(SYMPTOMS)], serial=w.serial,
                                   fault_code=FAULTS[i % len(FAULTS)], technician_id=tech.id,
                                   appointment_at=at + timedelta(hours=i), user=admin)
        orders.append(wo)
    if len(orders) >= 4:
        svc.start_work_order(session, orders[0].id, user=tech)
        svc.log_hours(session, orders[0].id, "1.5", user=tech)
        svc.start_work_order(session, orders[1].id, user=tech)
        svc.raise_request(session, orders[1].id, parts["PUMP-V1"].id, "leak", "水泵漏水 Pump leaks",
                          supply_part_id=svc.supply_options(session, parts["PUMP-V1"].id)[0].id, user=tech)
        svc.start_work_order(session, orders[2].id, user=tech)
        req = svc.raise_request(session, orders[2].id, parts["HEAT-01"].id, "overheat", "加热管烧毁 Heater burnt",
                                user=tech)
        if req.in_warranty:
            svc.approve_request(session, req.id, approver, "同意 approved")
        elif req.status == "submitted" and demo.customers:
            svc.cancel_request(session, req.id, user=admin)
        if req.status in ("approved",):
            svc.ship_request(session, req.id, user=keeper)
        svc.start_work_order(session, orders[3].id, user=tech)
        svc.finish_work_order(session, orders[3].id, hours="2", user=tech)
        svc.close_work_order(session, orders[3].id, user=admin)
        if len(orders) >= 6:
            svc.cancel_work_order(session, orders[5].id, "客户取消 Customer cancelled", user=admin)
    _stock_take(session, store_wh.get(store0.id), keeper)
    svc.run_stock_alerts(session)
    session.flush()


def _stock_take(session, wh, keeper) -> None:
    """A stock take of the first back room: counted, one part short, waiting for approval."""
    from sqlalchemy import select

    from .models import ACTIVE_COUNT_STATES, StockCount

    if wh is None or session.execute(select(StockCount.id).where(
            StockCount.warehouse_id == wh.id, StockCount.status.in_(ACTIVE_COUNT_STATES))).first() is not None:
        return
    count = svc.start_count(session, wh.id, note="月度盘点 monthly count", user=keeper)
    if not count.lines:
        return
    entries = [(ln.part_id, ln.snapshot) for ln in count.lines]
    entries[0] = (entries[0][0], max(entries[0][1] - 1, Decimal(0)))
    svc.record_counts(session, count.id, entries, user=keeper)
    svc.submit_count(session, count.id, user=keeper)
