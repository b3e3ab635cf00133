"""Demo data of call_center (``banyan demo``): a Monday-to-Friday calendar with China's
holidays and a chain closing day, a hotline team, SLA policies for every type and priority,
routing rules, tickets of the first customers and their calls, and a knowledge base (two
levels of categories, published articles and one draft)."""
from __future__ import annotations

from datetime import date, time, timedelta

from core.mixins import utcnow

from .models import PRIORITIES, TICKET_TYPES, ArticleCategory, Calendar, Closure, RoutingRule, SlaPolicy, Team
from .services import create_ticket, record_call, relate_articles, save_article, set_article_status, set_status

#: business minutes to respond / resolve by priority (complaints get half)
TARGETS = {"low": (480, 2400), "normal": (240, 1440), "high": (120, 480), "urgent": (30, 240)}
SUBJECTS = {
    "inquiry": ["会员积分怎么查询", "门店营业时间", "储值卡余额查询"],
    "complaint": ["收银员态度不好", "商品质量问题要求退换", "积分没有到账"],
    "praise": ["店员服务很热情", "送货很及时"],
    "suggestion": ["希望增加夜间营业", "建议开通微信支付优惠"],
    "requirement": ["企业团购需要开专票", "希望提供上门安装"],
}

#: (category, sub-category, title, text, tags, published)
ARTICLES = [
    ("售后服务", "退换货", "如何办理退货", "凭购物小票，七天内到任一门店办理退货；商品需保持完好。", "退货,小票", True),
    ("售后服务", "退换货", "换货流程", "质量问题商品十五天内可换货，门店当场办理。", "换货,质量问题", True),
    ("售后服务", "发票", "如何补开发票", "在购物后三十天内凭小票到门店服务台补开电子发票。", "发票,专票", True),
    ("会员", None, "会员积分怎么查询", "在小程序“我的积分”或门店收银台查询，积分在消费次日到账。", "积分,会员", True),
    ("会员", None, "储值卡余额查询", "拨打客服热线或在小程序查询储值卡余额。", "储值卡,余额", True),
    ("门店", None, "门店营业时间", "各门店每天 9:00 至 22:00 营业，节假日以门店公告为准。", "营业时间", True),
    ("会员", None, "会员等级调整规则（草稿）", "内部草稿：等级评定的细则待审核。", "会员,等级", False),
]


def load(session, demo) -> None:
    """``demo`` is a ``core.contrib.DemoContext``; every random choice comes from ``demo.rng``."""
    cal = Calendar(name="客服中心工作日", opens_at=time(9, 0), closes_at=time(18, 0), weekdays="12345",
                   cn_holidays=True)
    session.add(cal)
    session.flush()
    session.add(Closure(calendar_id=cal.id, day=date(utcnow().year, 12, 31), note="年终盘点"))
    supervisor = demo.users[0] if demo.users else None
    team = Team(name="热线一组", calendar_id=cal.id, supervisor_id=supervisor.id if supervisor else None)
    complaints = Team(name="投诉处理组", calendar_id=cal.id, supervisor_id=supervisor.id if supervisor else None)
    session.add_all([team, complaints])
    session.flush()
    for ttype in TICKET_TYPES:
        for prio in PRIORITIES:
            resp, reso = TARGETS[prio]
            if ttype == "complaint":
                resp, reso = resp // 2, reso // 2
            session.add(SlaPolicy(ticket_type=ttype, priority=prio, response_minutes=resp, resolution_minutes=reso,
                                  warn_minutes=min(60, resp // 2)))
    session.add_all([RoutingRule(sequence=10, name="投诉转投诉组", ticket_type="complaint", team_id=complaints.id),
                     RoutingRule(sequence=100, name="其他进热线", team_id=team.id)])
    session.flush()
    now = utcnow()
    for n, customer in enumerate(demo.customers[: max(3, int(20 * demo.scale))]):
        ttype = demo.rng.choice(TICKET_TYPES)
        at = now - timedelta(hours=demo.rng.randint(1, 24 * 20))
        store_id = getattr(customer, "home_store_id", None)
        ticket = create_ticket(session, subject=demo.rng.choice(SUBJECTS[ttype]), ticket_type=ttype,
                               channel=demo.rng.choice(("phone", "phone", "email", "web", "chat")),
                               priority=demo.rng.choice(PRIORITIES), customer_id=customer.id, store_id=store_id, at=at)
        if customer.phone and ticket.channel == "phone":
            record_call(session, number=customer.phone, customer_id=customer.id, store_id=store_id, started_at=at,
                        outcome="ticket", ticket_id=ticket.id)
        step = n % 3
        if step >= 1:
            set_status(session, ticket.id, "open", at=at + timedelta(minutes=20))
        if step == 2:
            set_status(session, ticket.id, "resolved", at=at + timedelta(hours=3))

    _knowledge_base(session)


def _knowledge_base(session) -> None:
    cats: dict = {}
    by_category: dict = {}
    for top, sub, title, body, tags, published in ARTICLES:
        if top not in cats:
            cats[top] = ArticleCategory(name=top)
            session.add(cats[top])
            session.flush()
        cat = cats[top]
        if sub is not None:
            key = (top, sub)
            if key not in cats:
                cats[key] = ArticleCategory(name=sub, parent_id=cats[top].id)
                session.add(cats[key])
                session.flush()
            cat = cats[key]
        art = save_article(session, title=title, body=body, category_id=cat.id, tags=tags)
        if published:
            set_article_status(session, art.id, "published")
        by_category.setdefault(cat.id, []).append(art.id)
    # articles of one category are related ("see also" on the help page)
    for ids in by_category.values():
        if len(ids) > 1:
            relate_articles(session, ids[0], ids[1:])
