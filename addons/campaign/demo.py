"""Demo data of campaign (``banyan demo``): templates in both languages, an RFM segment,
customers' monthly incomes and two value/income segments, a birthday segment and a draft plan."""
from __future__ import annotations

from core.localtime import local_today
from core.mixins import utcnow

from .models import Template


def load(session, demo) -> None:
    """``demo`` is a ``core.contrib.DemoContext``; nothing random is drawn here."""
    from datetime import timedelta

    from .audience import save_segment
    from .plans import save_plan

    session.add_all([
        Template(code="birthday", channel="email", language="zh_Hans", subject="{{ customer.name }}，生日快乐！",
                 body="亲爱的{{ customer.name }}：\n{{ store.name }}祝您生日快乐，本月到店消费享双倍积分。\n"
                      "退订：{{ unsubscribe_url }}"),
        Template(code="birthday", channel="email", language="en", subject="Happy birthday, {{ customer.name }}!",
                 body="Dear {{ customer.name }},\n{{ store.name }} wishes you a happy birthday: double points "
                      "all month.\nUnsubscribe: {{ unsubscribe_url }}"),
    ])
    session.flush()
    save_segment(session, name="重要挽留客户", rfm_class="important_winback")
    # monthly incomes for the value/income matrix: three in four demo customers answered the
    # survey; the amount follows the customer id (2,000 to 21,000 in steps of 1,000)
    from sqlalchemy import Numeric, cast, insert, literal, select

    from core.models import Customer

    from .models import Income

    src = (select(Customer.id, cast((Customer.id * 7 % 20) * 1000 + 2000, Numeric(14, 2)), literal("survey"),
                  literal(utcnow()))
           .where(Customer.id % 4 != 0, ~select(Income.customer_id).where(Income.customer_id == Customer.id).exists()))
    session.execute(insert(Income).from_select(["customer_id", "monthly_income", "source", "updated_at"], src))
    save_segment(session, name="核心客户", matrix_class="core")
    save_segment(session, name="重点发展客户", matrix_class="develop")
    month = local_today().month
    seg = save_segment(session, name="本月生日", rules={"op": "and", "rules": [
        {"field": "core.birthday_month", "operator": "eq", "value": month}]})
    save_plan(session, {"code": "BDAY-DEMO", "name": "本月生日关怀", "date_from": local_today(),
                        "date_to": local_today() + timedelta(days=30), "budget": "2000.00",
                        "expected_cost": "500.00", "channel": "email", "list_code": "birthday",
                        "segment_id": seg.id, "template_code": "birthday"})
