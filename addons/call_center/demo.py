"""Demo data of call_center (``banyan demo``): a Monday-to-Friday calendar with China's
holidays and a chain closing day, a hotline team, SLA policies for every type and priority,
routing rules, tickets of the first customers and their calls."""
from __future__ import annotations

from datetime import date, time, timedelta

from core.mixins import utcnow

from .models import PRIORITIES, TICKET_TYPES, Calendar, Closure, RoutingRule, SlaPolicy, Team
from .services import create_ticket, record_call, set_status

#: business minutes to respond / resolve by priority (complaints get half)
TARGETS = {"low": (480, 2400), "normal": (240, 1440), "high": (120, 480), "urgent": (30, 240)}
SUBJECTS = {
    "inquiry": ["会员积分怎么查询", "门店营业时间", "储值卡余额查询"],
    "complaint": ["收银员态度不好", "商品质量问题要求退换", "积分没有到账"],
    "praise": ["店员服务很热情", "送货很及时"],
    "suggestion": ["希望增加夜间营业", "建议开通微信支付优惠"],
    "requirement": ["企业团购需要开专票", "希望提供上门安装"],
}


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
