"""What a reviewer found looking at the back office as the chain's people use it (Chinese
first, a phone and a desktop), each fault checked as a class:

- a custom page names itself once: Flask-Admin's page title (the view's name) is not drawn
  above a page's own heading that says the same;
- report figures are grouped as the locale writes them (``37,728.90``), not ``37728.9``;
- a list row's phone card shows the row's money when the view names no ``column_card``;
- a record shown in another's column says what it is in words (a commission rule: its basis's
  label and its rate), not its codes and raw numbers.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from core.addons import discover
from core.admin.testing import admin_app, login  # noqa: F401

ADDONS = tuple(sorted(discover()))
HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.S)
TAG = re.compile(r"<[^>]+>")


def _headings(html: str) -> list[str]:
    return [" ".join(TAG.sub(" ", h).split()) for h in HEADING.findall(html)]


@pytest.mark.addons(*ADDONS)
def test_custom_pages_name_themselves_once(admin_app, make, session):
    from core.admin.base import BanyanModelView, BanyanView
    from core.i18n import force_locale

    boss = make.user(username="reviewer", superuser=True, locale="zh_Hans")
    session.commit()
    client = login(admin_app, boss)
    twice, seen = {}, 0
    for admin in admin_app.extensions["admin"]:
        for view in admin._views:
            if not isinstance(view, BanyanView) or isinstance(view, BanyanModelView):
                continue
            resp = client.get(view.url.rstrip("/") + "/")
            if resp.status_code != 200:
                continue
            seen += 1
            with force_locale("zh_Hans"):
                name = str(view.name)
            heads = _headings(resp.get_data(as_text=True))
            if sum(1 for h in heads if h == name) > 1:
                twice[view.url] = heads[:4]
    assert seen > 15
    assert not twice, "\n".join(f"{u}: {h}" for u, h in twice.items())


def _view(app, endpoint):
    for view in app.extensions["banyan_admin"]._views:
        if getattr(view, "endpoint", None) == endpoint:
            return view
    raise AssertionError(endpoint)


@pytest.mark.addons("commissions")
def test_a_phone_card_shows_the_rows_money(admin_app):
    """A commission line's card showed its date, period, employee and store: not what it pays."""
    lines = _view(admin_app, "commissions_lines")
    assert lines.column_card is None
    cols = [(c, c) for c in lines.column_list]
    card = lines.card_columns(cols)
    assert "amount" in card and "base_amount" not in card
    assert card[0] == "business_date" and len(card) == 4
    statements = _view(admin_app, "commissions_statements")  # status and money: both kept
    card = statements.card_columns([(c, c) for c in statements.column_list])
    assert {"state", "total"} <= set(card)
    store = _view(admin_app, "store")  # no money column: unchanged
    assert store.card_columns([(c, c) for c in ("id", "code", "name", "kind", "region")]) == ("name", "code", "kind",
                                                                                              "region")


@pytest.mark.addons("commissions", "call_center", "spare_parts")
def test_a_record_named_in_another_column_says_it_in_words(admin_app):
    """A commission line's rule column read '#5 net_pct 0.5000'; a ticket's SLA 'complaint/high'."""
    from addons.call_center.models import SlaPolicy
    from addons.commissions.models import CommissionAssignment, CommissionPlan, CommissionRule, CommissionTier
    from core.i18n import force_locale
    from core.models.sale import SaleLine

    rule = CommissionRule(id=5, basis="net_pct", rate=Decimal("0.5000"))
    unit = CommissionRule(id=3, basis="per_unit", rate=Decimal("1.5000"))
    tier = CommissionTier(from_pct=Decimal("80.0000"), rate=Decimal("1.5000"))
    plan = CommissionPlan(code="DEMO-MGR", name="Managers")
    assignment = CommissionAssignment(plan=plan, level="store_manager", valid_from=__import__("datetime").date(2026, 1, 1))
    with force_locale("en"):
        assert str(rule) == "#5 % of net line amount: 0.5%"
        assert str(unit) == "#3 Fixed amount per unit: 1.5"
        assert str(tier) == "≥80%: 1.5%"
        assert str(assignment) == "DEMO-MGR Managers · Store manager · 2026-01-01"
        assert str(SaleLine(qty=Decimal("2.000"))).endswith("× 2")
    with force_locale("zh_Hans"):
        assert "net_pct" not in str(rule) and "0.5000" not in str(rule)
        sla = str(SlaPolicy(ticket_type="complaint", priority="high"))
        assert "complaint" not in sla and "high" not in sla, sla


@pytest.mark.addons("spare_parts")
def test_an_approvals_figures_name_records_and_drop_trailing_zeros(session):
    """A stock-take adjustment's lines read '备件 2 | 2.00 | -1.00' (the part's id, raw quantities);
    a replacement request's work order '派工单 2'."""
    from addons.spare_parts.models import Part, PartRequest, StockCount
    from core.approvals import _figure_text, figure_rows
    from core.i18n import force_locale
    from core.models.approval import ApprovalRequest

    part = Part(number="PUMP-V3", name="Pump")
    session.add(part)
    session.flush()
    req = ApprovalRequest(action="spare_parts.stock_take", payload={"seen": {
        "lines": [[part.id, "2.00", "-1.00"]]}})
    with force_locale("en"):
        rows = {r["name"]: r for r in figure_rows(session, req)}
    assert rows["lines"]["cells"] == [[str(part), "2", "-1"]]
    # a figure named like a foreign key of the action's model needs no declaration
    assert _figure_text(session, PartRequest, frozenset(), "part_id", part.id) == str(part)
    assert _figure_text(session, StockCount, frozenset(), "counted", "00123") == "00123"  # not a decimal: as filed


def test_report_figures_are_grouped_as_the_locale_writes_them(admin_app):
    """The loyalty reports read '37728.93', the benchmark '3578.85', the stored-value liability
    '30760.00' where the home page reads '34,337.19'."""
    from flask import render_template_string

    from core.i18n import force_locale, format_number

    with force_locale("zh_Hans"):
        assert format_number(Decimal("37728.9")) == "37,728.90"
        assert format_number(12598) == "12,598"
        assert format_number(None) == "" and format_number(Decimal("1.5"), places=0) == "2"
    with admin_app.test_request_context("/"), force_locale("en"):
        assert render_template_string("{{ v|number }} {{ v|money }}", v=Decimal("3578.85")) == "3,578.85 CN¥3,578.85"
    # the class: no back-office template formats a figure with '%.2f' (no grouping) any more
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    raw = [str(p.relative_to(root)) for p in [*root.glob("core/templates/**/*.html"), *root.glob("addons/*/templates/**/*.html")]
           if "'%.2f'|format" in p.read_text(encoding="utf-8") and "refund" not in p.name]
    assert not raw, raw


def test_the_home_pages_top_products_show_quantities_without_trailing_zeros(session, make):
    """Top products read '65.000' (a Decimal's ':g' keeps its places)."""
    from core.defaults.kernel import dashboard_widgets
    from core.i18n import force_locale, format_quantity

    tea = make.product(name="Tea", price="10.00")
    make.sale(products=[tea], qty="65")
    session.flush()
    with force_locale("zh_Hans"):
        top = next(w for w in dashboard_widgets(session, None, None) if w.key == "core.top_products")
        assert top.data["rows"][0][1] == "65"
        assert format_quantity(Decimal("1250.500")) == "1,250.5" and format_quantity(None) == ""


@pytest.mark.addons("membership", "call_center")
def test_a_ledger_source_and_a_ticket_assignment_read_as_names(session, make):
    """The stored-value ledger's source read 'topup_rule:2'; a ticket's history 'team:2' and
    an agent's user id."""
    from addons.call_center.admin import assignee_text
    from addons.call_center.models import Team
    from addons.membership.admin import source_text
    from core.i18n import force_locale

    with force_locale("en"):
        assert source_text("topup_rule:2") == "Top-up bonus rule #2"
        assert source_text("sale") == "Sale" and source_text(None) == ""
    with force_locale("zh_Hans"):
        assert "topup_rule" not in source_text("topup_rule:2")
    team = Team(name="Front desk")
    agent = make.user(username="agent_li")
    session.add(team)
    session.flush()
    assert assignee_text(session, f"team:{team.id}") == "Front desk"
    assert assignee_text(session, str(agent.id)) == "agent_li"
    assert assignee_text(session, "team:999999") == "team:999999"  # gone: as recorded


@pytest.mark.addons("commissions", "franchise")
def test_a_month_column_shows_the_month(admin_app):
    """Commission lines read '期间 202611', a franchise statement '月份 2026-10-01'."""
    from datetime import date

    from addons.commissions.models import CommissionLine
    from addons.franchise.models import Statement
    from core.admin.base import month_text

    assert month_text(202611) == "2026-11" and month_text(date(2026, 10, 1)) == "2026-10"
    assert month_text(None) == "" and month_text("x") == "x"
    for endpoint, model in (("commissions_lines", CommissionLine(period=202611)),
                            ("franchise_statements", Statement(period=date(2026, 10, 1)))):
        view = _view(admin_app, endpoint)
        for formatters in (view.column_formatters, view.column_formatters_detail):
            assert formatters["period"](view, None, model, "period") in ("2026-11", "2026-10"), endpoint


@pytest.mark.addons("call_center")
def test_a_history_rows_created_is_the_event_not_the_time_column(admin_app):
    """A ticket's history and the audit log read '类型 创建时间' (creation time) for the event
    'Created': the event has its own context (``pgettext("event", "Created")``)."""
    from addons.call_center.models import EVENT_KIND
    from core.i18n import force_locale, gettext
    from core.labels import AUDIT_ACTION

    with force_locale("en"):
        assert str(EVENT_KIND.label("created")) == str(AUDIT_ACTION.label("create")) == "Created"
    with force_locale("zh_Hans"):
        column = gettext("Created")  # the creation-time column's label
        assert str(EVENT_KIND.label("created")) != column
        assert str(AUDIT_ACTION.label("create")) != column


@pytest.mark.addons("call_center")
def test_a_ticket_history_card_says_what_changed(admin_app):
    view = _view(admin_app, "call_center_ticket_event")
    card = view.card_columns([(c, c) for c in view.column_list])
    assert {"from_value", "to_value"} <= set(card) and card[0] == "ticket"


@pytest.mark.addons("campaign")
def test_a_segments_rfm_class_shows_its_label(admin_app, make, session):
    """The segments list read 'RFM 分类 important_winback'."""
    from addons.campaign.models import Segment
    from core.i18n import force_locale

    session.add(Segment(name="Win back", kind="rfm", rfm_class="important_winback"))
    boss = make.user(username="marketer_x", superuser=True, locale="zh_Hans")
    session.commit()
    html = login(admin_app, boss).get("/admin/campaign_segment/").get_data(as_text=True)
    with force_locale("zh_Hans"):
        from addons.campaign.models import RFM_CLASS

        label = str(RFM_CLASS.label("important_winback"))
    assert ">important_winback<" not in html.replace("\n", "").replace(" ", "")
    assert label in html


@pytest.mark.addons("spare_parts")
def test_a_stock_moves_card_says_how_many_and_where(admin_app):
    """A stock move's card showed its time, kind, part and unit cost: not the quantity or warehouse."""
    view = _view(admin_app, "spare_parts_move")
    card = view.card_columns([(c, c) for c in view.column_list])
    assert {"qty", "warehouse", "part"} <= set(card) and "unit_cost" not in card


def test_a_label_before_its_value_takes_the_languages_colon(admin_app):
    """Chinese pages read '期间: 2026-11-01', '小票数: 476', '工时: 1.50': an ASCII colon after
    Chinese (the style is full-width) and hours with trailing zeros."""
    from pathlib import Path

    from flask import render_template_string

    from core.i18n import force_locale

    tpl = "{{ 'Period'|colon }}{{ v|quantity }}"
    with admin_app.test_request_context("/"):
        with force_locale("zh_Hans"):
            assert render_template_string(tpl, v=Decimal("1.50")) == "Period：1.5"
        with force_locale("en"):
            assert render_template_string(tpl, v=Decimal("1.50")) == "Period: 1.5"
    root = Path(__file__).resolve().parents[1]
    raw = [str(p.relative_to(root)) for p in [*root.glob("core/templates/**/*.html"), *root.glob("addons/*/templates/**/*.html")]
           if re.search(r"""['"]\) \}\}: """, p.read_text(encoding="utf-8"))]
    assert not raw, raw


def test_a_horizontal_bar_chart_gives_each_label_its_row():
    """The commission desk's payroll chart drew 30 employees' names over each other (320 units
    for 30 rows) on a phone."""
    from core.charts import HBAR_ROW, Chart, Series, render

    names = [f"员工{i:02d}" for i in range(30)]
    chart = Chart(names, [Series("Total", [i + 1 for i in range(30)])], kind="hbar", money=False)
    for width in (800, 420):
        svg = str(render(chart, width))
        height = float(re.search(r'viewBox="0 0 [\d.]+ ([\d.]+)"', svg).group(1))
        assert height >= HBAR_ROW * 30, (width, height)
        assert 'style="max-height: none"' in svg
    few = str(render(Chart(["A", "B"], [Series("x", [1, 2])], kind="hbar"), 800))
    assert 'viewBox="0 0 800 320"' in few and "max-height" not in few  # a short chart is unchanged
