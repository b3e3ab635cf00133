"""``banyan demo``: a small chain with six months of trading, built through the services.

The kernel builds the organisation (HQ, two regions, eight stores of which three are
franchised, warehouses), customers (valid mainland mobile numbers, key accounts with
contacts, a few deliberate duplicates), fifty products with retail prices (and one price
change scheduled in the future; membership adds member prices), a grid of favourites on every
store's till, employees and users. Then
every installed addon adds its part through ``load_demo_data(session, demo)`` and, last, months of sales
and some refunds are rung up through the checkout and refund services, so every addon
reacts to them exactly as in production. Sales are committed in batches; each one runs in
a savepoint so an addon refusing a ticket (a blacklisted customer...) skips only that one.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from core.contrib import DemoContext
from core.db import money, transaction
from core.errors import BusinessError
from core.localtime import business_date, local_midnight, local_today, to_utc
from core.mixins import utcnow
from core.models import (Company, Customer, CustomerContact, Employee, PriceList, Product, ProductCategory,
                         Region, Role, Store, Tag, User, Warehouse)
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.services.pricing import set_price
from core.services.refund import RefundLineRequest, refund

#: demo logins printed at the end of ``banyan demo``
ADMIN_LOGIN = ("admin", "admin")
DEMO_PASSWORD = "demo-pass-1"

SALES_PER_MONTH = 500   # at scale 1: ~3,000 sales over six months
REFUND_RATE = 0.03
BATCH = 200

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆琳雪晨欣怡"
MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "157",
                   "158", "159", "186", "187", "188", "189", "177", "199")

CATEGORIES = (
    ("DRINK", "饮品 Drinks", [("矿泉水 Mineral water 550ml", "2.00"), ("绿茶 Green tea 500ml", "3.50"),
                              ("可乐 Cola 330ml", "3.00"), ("橙汁 Orange juice 1L", "12.80"),
                              ("拿铁 Latte", "18.00"), ("美式咖啡 Americano", "15.00"),
                              ("酸奶 Yoghurt 200g", "6.50"), ("豆浆 Soy milk 250ml", "4.00"),
                              ("苏打水 Soda water", "4.50"), ("啤酒 Beer 500ml", "8.00")]),
    ("SNACK", "零食 Snacks", [("薯片 Potato chips", "7.90"), ("坚果礼盒 Nut gift box", "98.00"),
                              ("巧克力 Chocolate bar", "9.90"), ("饼干 Biscuits", "6.80"),
                              ("牛肉干 Beef jerky", "29.90"), ("瓜子 Sunflower seeds", "12.00"),
                              ("果冻 Jelly cups", "10.50"), ("海苔 Seaweed snack", "8.50"),
                              ("糖果 Candy mix", "15.00"), ("蛋卷 Egg rolls", "19.90")]),
    ("BAKERY", "烘焙 Bakery", [("全麦面包 Wholemeal bread", "12.00"), ("牛角包 Croissant", "8.00"),
                               ("芝士蛋糕 Cheesecake", "28.00"), ("月饼 Mooncake", "16.00"),
                               ("蛋挞 Egg tart", "7.00"), ("吐司 Toast loaf", "10.00"),
                               ("肉松面包 Pork floss bun", "9.00"), ("生日蛋糕 Birthday cake", "168.00"),
                               ("曲奇 Cookies", "22.00"), ("瑞士卷 Swiss roll", "18.00")]),
    ("HOME", "日用品 Household", [("纸巾 Tissues 10 pack", "19.90"), ("洗衣液 Laundry liquid 2L", "39.90"),
                                  ("牙膏 Toothpaste", "15.80"), ("洗发水 Shampoo", "45.00"),
                                  ("电池 AA batteries", "24.00"), ("保温杯 Thermos cup", "129.00"),
                                  ("雨伞 Umbrella", "59.00"), ("毛巾 Towel", "25.00"),
                                  ("垃圾袋 Bin bags", "9.90"), ("洗洁精 Dish soap", "12.50")]),
    ("FRESH", "生鲜 Fresh", [("苹果 Apples 1kg", "15.80"), ("香蕉 Bananas 1kg", "8.90"),
                             ("鸡蛋 Eggs 10", "13.50"), ("牛奶 Fresh milk 1L", "16.00"),
                             ("草莓 Strawberries 500g", "39.00"), ("西红柿 Tomatoes 1kg", "9.80"),
                             ("鸡胸肉 Chicken breast 500g", "18.00"), ("三文鱼 Salmon 200g", "58.00"),
                             ("葡萄 Grapes 1kg", "22.00"), ("生菜 Lettuce", "5.50")]),
)

REGIONS = (("EAST", "华东区 East"), ("SOUTH", "华南区 South"))
# code, name, region, kind, format, franchisee (index into FRANCHISEES)
STORES = (
    ("SH01", "上海南京路店 Shanghai Nanjing Rd", "EAST", "direct", "street", None),
    ("SH02", "上海徐家汇店 Shanghai Xujiahui", "EAST", "direct", "mall_counter", None),
    ("HZ01", "杭州西湖店 Hangzhou West Lake", "EAST", "franchise", "street", 0),
    ("SZ01", "苏州观前店 Suzhou Guanqian", "EAST", "franchise", "shop_in_shop", 0),
    ("GZ01", "广州天河店 Guangzhou Tianhe", "SOUTH", "direct", "mall_counter", None),
    ("GZ02", "广州北京路店 Guangzhou Beijing Rd", "SOUTH", "direct", "street", None),
    ("SZ02", "深圳南山店 Shenzhen Nanshan", "SOUTH", "direct", "street", None),
    ("FS01", "佛山祖庙店 Foshan Zumiao", "SOUTH", "franchise", "street", 1),
)
FRANCHISEES = (("FR-JX", "江浙鑫盛商贸有限公司 Jiangzhe Xinsheng Trading"),
               ("FR-FS", "佛山顺德佳和零售有限公司 Foshan Jiahe Retail"))
KEY_ACCOUNTS = ("阿里巴巴行政部 Alibaba Admin Dept", "招商银行深圳分行 CMB Shenzhen", "华为员工福利 Huawei Staff",
                "万科物业 Vanke Property", "携程差旅 Trip.com Travel", "腾讯行政 Tencent Admin",
                "比亚迪工会 BYD Union", "网易餐饮 NetEase Catering")


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _mobile(rng: random.Random, used: set) -> str:
    while True:
        raw = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"
        if raw not in used:
            used.add(raw)
            return raw


def already_loaded(session) -> bool:
    return session.execute(select(Company.id).where(Company.code == "HQ")).first() is not None


def build_chain(session, demo: DemoContext) -> None:
    """Organisation, catalogue, prices, people; flushed, not committed."""
    rng = demo.rng
    hq = Company(code="HQ", name="榕树连锁总部 Banyan Chain HQ", kind="hq")
    session.add(hq)
    session.flush()
    franchisees = [Company(code=c, name=n, kind="franchisee", parent_id=hq.id) for c, n in FRANCHISEES]
    session.add_all(franchisees)
    regions = {code: Region(code=code, name=name, company_id=hq.id) for code, name in REGIONS}
    session.add_all(regions.values())
    session.flush()
    demo.companies = [hq, *franchisees]
    demo.regions = list(regions.values())
    opened = local_today() - timedelta(days=900)
    for code, name, region, kind, fmt, fr in STORES:
        demo.stores.append(Store(code=code, name=name, region_id=regions[region].id, kind=kind, format=fmt,
                                 operating_company_id=(franchisees[fr] if fr is not None else hq).id,
                                 phone=f"021{rng.randrange(10 ** 8):08d}", address=name.split(" ")[0],
                                 opened_on=opened + timedelta(days=rng.randrange(600))))
    session.add_all(demo.stores)
    session.flush()
    warehouses = [Warehouse(code="WH-HQ", name="总仓 HQ warehouse", company_id=hq.id)]
    warehouses += [Warehouse(code=f"WH-{s.code}", name=f"{s.code} 后仓 back room",
                             company_id=s.operating_company_id, store_id=s.id) for s in demo.stores]
    session.add_all(warehouses)
    demo.extra["warehouses"] = warehouses

    # catalogue and prices
    retail = PriceList(code="RETAIL", name="零售价 Retail", kind="retail")
    mall = PriceList(code="RETAIL-SH02", name="徐家汇商场价 Xujiahui mall prices", kind="retail",
                     store_id=demo.stores[1].id)
    session.add_all([retail, mall])
    since = datetime(2000, 1, 1)
    sku = 0
    for code, cat_name, items in CATEGORIES:
        cat = ProductCategory(code=code, name=cat_name)
        session.add(cat)
        session.flush()
        for name, price in items:
            sku += 1
            price = Decimal(price)
            p = Product(sku=f"P{sku:04d}", barcode=f"69{rng.randrange(10 ** 11):011d}", name=name,
                        category_id=cat.id, cost=money(price * Decimal(rng.uniform(0.45, 0.7))))
            session.add(p)
            session.flush()
            set_price(session, retail, p, price, since)
            if sku % 7 == 0:
                set_price(session, mall, p, money(price * Decimal("1.15")), since)
            demo.products.append(p)
    # a price change scheduled two weeks ahead (takes effect then, not before)
    future = local_midnight(local_today() + timedelta(days=14))  # local midnight, two weeks on
    set_price(session, retail, demo.products[4], Decimal("19.00"), future)
    demo.extra["price_lists"] = {"retail": retail, "mall": mall}  # membership adds "member"
    demo.extra["scheduled_price_change"] = (demo.products[4], future)
    # every till opens with a grid of favourites (a store manager changes them at the till)
    from core.services.till import set_favourites

    picks = [p.id for p in demo.products[::6]][:9]
    for s in demo.stores:
        set_favourites(session, s.id, picks)

    # people
    n = 0
    by_store = {}
    for s in demo.stores:
        staff = []
        for role, count in (("manager", 1), ("cashier", 2), ("clerk", 2)):
            for _ in range(count):
                n += 1
                staff.append(Employee(code=f"E{n:04d}", name=_name(rng), store_id=s.id, role=role))
        session.add_all(staff)
        session.flush()
        for e in staff[1:]:
            e.manager_id = staff[0].id
        by_store[s.id] = staff
        demo.employees.extend(staff)
    hq_staff = [Employee(code="E9001", name=_name(rng), role="manager"),
                Employee(code="E9002", name=_name(rng), role="marketer"),
                Employee(code="E9003", name=_name(rng), role="agent")]
    session.add_all(hq_staff)
    demo.employees.extend(hq_staff)
    demo.extra["staff_by_store"] = by_store
    session.flush()

    from core.security.passwords import hash_password

    roles = {r.code: r for r in session.execute(select(Role)).scalars()}

    def user(username, password, role, scope_kind="all", ref=None, employee=None, superuser=False):
        u = User(username=username, password_hash=hash_password(password), scope_kind=scope_kind,
                 scope_ref_id=ref, is_superuser=superuser, employee_id=employee.id if employee else None,
                 locale="zh_Hans")
        u.roles = [roles[role]] if role in roles else []
        session.add(u)
        return u

    east = regions["EAST"]
    first_cashier = by_store[demo.stores[0].id][1]
    demo.users = [
        user(ADMIN_LOGIN[0], ADMIN_LOGIN[1], "hq_admin", superuser=True, employee=hq_staff[0]),
        user("east_manager", DEMO_PASSWORD, "region_manager", "region", east.id),
        user("franchisee_jx", DEMO_PASSWORD, "franchisee", "company", franchisees[0].id),
        user("cashier_sh01", DEMO_PASSWORD, "cashier", "store", demo.stores[0].id, employee=first_cashier),
        user("marketer", DEMO_PASSWORD, "marketer", employee=hq_staff[1]),
        user("agent", DEMO_PASSWORD, "agent", employee=hq_staff[2]),
    ]

    # customers
    vip, kac = Tag(name="VIP"), Tag(name="大客户 key account")
    tags = [vip, kac, Tag(name="新客 new"), Tag(name="老客 regular")]
    session.add_all(tags)
    used: set = set()
    count = max(20, int(200 * demo.scale))
    today = local_today()
    for i in range(count):
        home = rng.choice(demo.stores)
        c = Customer(kind="person", name=_name(rng), phone=_mobile(rng, used), home_store_id=home.id,
                     gender=rng.choice("MF"),
                     birthday=date(rng.randrange(1960, 2005), rng.randrange(1, 13), rng.randrange(1, 29)),
                     language=rng.choice(("zh_Hans", "zh_Hans", "zh_Hans", "en")),
                     consent_sms=rng.random() < 0.7, consent_email=rng.random() < 0.4,
                     consent_wechat=rng.random() < 0.6, created_at=to_utc(datetime.combine(
                         today - timedelta(days=rng.randrange(30, 720)), time(3))))
        if rng.random() < 0.4:
            c.email = f"user{i + 1}@example.com"
        if rng.random() < 0.1:
            c.tags.append(vip)
        c.tags.append(rng.choice(tags[2:]))
        demo.customers.append(c)
    for i, name in enumerate(KEY_ACCOUNTS[: max(3, int(len(KEY_ACCOUNTS) * min(demo.scale, 1)))]):
        home = rng.choice(demo.stores)
        c = Customer(kind="company", name=name, phone=_mobile(rng, used), home_store_id=home.id,
                     email=f"purchasing{i + 1}@corp.example.com", consent_email=True)
        c.tags.extend([kac, vip])
        c.contacts = [
            CustomerContact(name=_name(rng), title="采购经理 Purchasing manager", phone=_mobile(rng, used),
                            is_decision_maker=True),
            CustomerContact(name=_name(rng), title="行政助理 Admin assistant", phone=_mobile(rng, used)),
        ]
        demo.customers.append(c)
    # deliberate duplicates: the same person entered twice at another store
    dups = []
    for original in rng.sample([c for c in demo.customers if c.kind == "person"], 4):
        twin = Customer(kind="person", name=original.name, birthday=original.birthday,
                        home_store_id=rng.choice(demo.stores).id)
        if len(dups) % 2 == 0:
            twin.phone = original.phone  # same phone, typed again
        dups.append(twin)
    demo.customers.extend(dups)
    demo.extra["duplicates"] = dups
    session.add_all(demo.customers)
    session.flush()


def _local_to_utc(day: date, minute_of_day: int) -> datetime:
    return to_utc(datetime.combine(day, time()) + timedelta(minutes=minute_of_day))


def sale_plan(demo: DemoContext, now: datetime) -> list[datetime]:
    """Instants (naive UTC, ascending) of the sales to ring up: business hours (local time,
    ``[locale] timezone``) on the local days before today, busier weekends."""
    rng = demo.rng
    total = max(1, int(SALES_PER_MONTH * demo.months * demo.scale))
    start = business_date(now - timedelta(days=30 * demo.months))
    days = [start + timedelta(days=i) for i in range((business_date(now) - start).days)]
    weights = [1.4 if d.weekday() >= 5 else 1.0 for d in days]
    picked = rng.choices(days, weights=weights, k=total)
    out = []
    for d in picked:
        minute = int(min(max(rng.gauss(15 * 60, 3 * 60), 8 * 60), 21 * 60 + 59))  # 08:00-22:00 local
        out.append(_local_to_utc(d, minute))
    out.sort()
    return [t for t in out if t < now]


def ring_up_sales(rt, session, demo: DemoContext, progress: bool = True) -> dict:
    """Months of sales (and some refunds) through ``checkout`` and ``refund``."""
    from tqdm import tqdm

    rng = demo.rng
    now = utcnow()
    plan = sale_plan(demo, now)
    staff = demo.extra["staff_by_store"]
    store_weights = [1.6 if s.kind == "direct" else 1.0 for s in demo.stores]
    customers = [c for c in demo.customers if c.active and c not in demo.extra.get("duplicates", ())]
    by_home = {}
    for c in customers:
        by_home.setdefault(c.home_store_id, []).append(c)
    product_ids = [p.id for p in demo.products]
    popular = [1.0 / (1 + i % 17) for i in range(len(product_ids))]
    done = refunded = skipped = 0
    pending = 0
    bar = tqdm(total=len(plan), desc="sales", unit="sale", disable=not progress, leave=True)
    try:
        for at in plan:
            store = rng.choices(demo.stores, weights=store_weights)[0]
            people = staff[store.id]
            cashier = rng.choice([e for e in people if e.role == "cashier"])
            clerks = [e for e in people if e.role == "clerk"]
            customer = None
            r = rng.random()
            if r < 0.55:
                customer = rng.choice(by_home.get(store.id) or customers)
            elif r < 0.65:
                customer = rng.choice(customers)
            lines = []
            for pid in set(rng.choices(product_ids, weights=popular, k=rng.choice((1, 1, 2, 2, 3, 4)))):
                qty = Decimal(rng.choice((1, 1, 1, 2, 2, 3)))
                lines.append(LineRequest(pid, qty, clerk_id=rng.choice(clerks).id if rng.random() < 0.3 else None))
            req = CheckoutRequest(store_id=store.id, lines=lines,
                                  payments=[PaymentRequest(rng.choice(("cash", "card", "card")))],
                                  customer_id=customer.id if customer else None, cashier_id=cashier.id, at=at)
            try:
                with session.begin_nested():
                    sale = checkout(session, req)
                done += 1
                demo.sales.append(sale.id)
            except BusinessError:
                skipped += 1
                sale = None
            if sale is not None and rng.random() < REFUND_RATE:
                when = min(at + timedelta(hours=rng.randrange(1, 96)), now)
                partial = len(sale.lines) > 1 and rng.random() < 0.5
                req_lines = [RefundLineRequest(sale.lines[0].id, sale.lines[0].qty)] if partial else None
                try:
                    with session.begin_nested():
                        refund(session, sale.id, req_lines, reason="顾客退货 customer return", at=when)
                    refunded += 1
                except BusinessError:
                    skipped += 1
            pending += 1
            if pending >= BATCH:
                session.commit()
                session.expunge_all()  # keep the identity map (and flush bookkeeping) small
                pending = 0
            bar.update(1)
        session.commit()
    finally:
        bar.close()
    return {"sales": done, "refunds": refunded, "skipped": skipped}


def build_demo(rt, scale: float = 1.0, months: int = 6, seed: int = 42, progress: bool = True) -> DemoContext:
    """Build the whole demo in the runtime's database (kernel and addons must be installed)."""
    if scale <= 0:
        raise BusinessError({"scale": "must be greater than zero"})
    if months < 1:
        raise BusinessError({"months": "must be at least 1"})
    demo = DemoContext(rng=random.Random(seed), scale=scale, months=months)
    with rt.session() as session:
        if already_loaded(session):
            raise BusinessError("the demo data is already in this database (use a fresh one)")
        with transaction(session):
            build_chain(session, demo)
        with transaction(session):
            rt.hook.load_demo_data(session=session, demo=demo)
        demo.extra["result"] = ring_up_sales(rt, session, demo, progress=progress)
    return demo
