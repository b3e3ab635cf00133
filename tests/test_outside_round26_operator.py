"""Round 26, tried as a new chain operator and a cashier on a phone (the demo chain, the
addons' operator pages followed literally): a sale rung at the till that belongs to nobody,
a receipt printing the points ledger's own link as if it were a card, labels joined to their
value with an English colon in Chinese, and help texts naming a page the menu calls
otherwise. Each test asserts what an operator expects; the docstring names the class of
fault it stands for."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401

pytestmark = pytest.mark.addons("membership", "loyalty", "franchise", "commissions", "spare_parts", "call_center",
                                "campaign")

from tests.outside_world import w  # noqa: F401,E402

ROOT = Path(__file__).resolve().parents[1]


def _sale(api, user, store, product, key, **extra):
    body = {"store_id": store.id, "lines": [{"product_id": product.id, "qty": "1"}], **extra}
    return api.post("/api/v1/sales", user=user, json=body, headers={"Idempotency-Key": key})


# ======================================================= the till: whose sale is it ===

def test_r26_a_sale_rung_by_a_cashier_is_the_cashiers(api, session, w, make):
    """Class: a sale without a cashier. The till (and any POS whose login is an employee's)
    sends no ``cashier_id``: every sale rung at the till had an empty *Cashier* on its page
    and its lines no clerk, so the seller's commission plan paid nothing for them. Expected:
    the checkout records the signed-in user's own employee as the cashier and the lines'
    clerk, when none is named; a named cashier wins; a retry under the same key replays."""
    from core.models import Sale, SaleLine

    cashier = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=w.a.store.id, employee_id=w.a.clerk.id)
    session.commit()
    r = _sale(api, cashier, w.a.store, w.product, "r26-own")
    assert r.status_code == 201, r.json
    sale = session.get(Sale, r.json["id"])
    assert sale.cashier_id == w.a.clerk.id
    clerks = session.execute(select(SaleLine.clerk_id).where(SaleLine.sale_id == sale.id)).scalars().all()
    assert clerks == [w.a.clerk.id]
    again = _sale(api, cashier, w.a.store, w.product, "r26-own")  # the same request: the same sale
    assert again.status_code in (200, 201) and again.json["id"] == sale.id, again.json

    other = make.employee(store=w.a.store, role="clerk", name="Other clerk")
    session.commit()
    r = _sale(api, cashier, w.a.store, w.product, "r26-named", cashier_id=other.id)
    assert r.status_code == 201, r.json
    assert session.get(Sale, r.json["id"]).cashier_id == other.id


def test_r26_a_user_whose_employee_is_out_of_scope_still_sells(api, session, w, make):
    """Class: the default that breaks the request. A user whose own employee record is not
    in their record scope (an employee of store B, a login scoped to store A) rings a sale:
    the default cashier is dropped, never a 422 on a ``cashier_id`` the request did not
    send."""
    from core.models import Sale

    cashier = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=w.a.store.id, employee_id=w.b.clerk.id)
    session.commit()
    r = _sale(api, cashier, w.a.store, w.product, "r26-out")
    assert r.status_code == 201, r.json
    assert session.get(Sale, r.json["id"]).cashier_id is None


# ======================================================= receipts: references ===

def test_r26_receipt_prints_no_points_ledger_link(api, session, w, make):
    """Class: an addon's internal reference printed for the customer. Paying part of a
    ticket with points stored ``points:<ledger entry id>`` as the payment's reference, and
    the receipt masked it like a card number: ``poi****2500``. Expected: the receipt shows
    no reference for a method declaring ``receipt_reference=False`` (loyalty's points), a
    card's reference still masked to its last four, and the sale's page keeps the link."""
    from addons.loyalty import accounts
    from core.models import User
    from core.services.till import receipt

    accounts.adjust(session, w.a.cust.id, 5000, "opening balance")
    session.commit()
    r = _sale(api, w.hq, w.a.store, w.product, "r26-points", customer_id=w.a.cust.id,
              payments=[{"method": "points", "amount": "10.00"},
                        {"method": "card", "reference": "6222020200112233", "amount": "90.00"}])
    assert r.status_code == 201, r.json
    refs = {p["method"]: p["reference"] for p in receipt(session, r.json["id"], session.get(User, w.hq.id))["payments"]}
    assert refs["points"] is None
    assert refs["card"] and refs["card"].endswith("2233") and "020200" not in refs["card"]
    from core.models import SalePayment

    stored = session.execute(select(SalePayment.reference).where(SalePayment.sale_id == r.json["id"],
                                                                 SalePayment.method == "points")).scalar()
    assert stored.startswith("points:")


# ======================================================= a label and its value ===

@pytest.mark.parametrize("lang, colon", [("zh_Hans", "："), ("en", ": ")])
def test_r26_till_script_joins_labels_with_the_languages_colon(admin_app, session, w, make, lang, colon):
    """Class: a label joined to its value by an English colon outside the catalog. The
    till's script wrote ``本单可得积分: 21`` (points to earn), ``无价格`` and a refused
    code's reason the same way. Expected: the page hands the script the colon of its
    language (the templates' ``colon`` filter), and the script has no ``': '`` of its own."""
    cashier = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=w.a.store.id)
    session.commit()
    client = login(admin_app, cashier, password="secret-pass-1")
    html = client.get(f"/admin/till/?lang={lang}").get_data(as_text=True)
    texts = json.loads(re.search(r'id="till-texts">(.*?)</script>', html, re.S).group(1))
    assert texts["colon"] == colon
    script = (ROOT / "core/admin/static/till.js").read_text()
    assert "+ ': ' +" not in script and "+ ': '" not in script


def test_r26_templates_put_no_english_colon_after_a_translated_label():
    """Class: the same, in the back office's templates: ``{{ _('Store') }}:`` printed
    ``门店:`` on the store audit form, the import page and the sales-target card. Expected:
    no template writes a colon right after a gettext call (``|colon`` does it)."""
    bad = []
    pattern = re.compile(r"_\('[^']*'[^}]*\)\s*\}\}\s*(?:</strong>)?:")
    for path in list((ROOT / "core").rglob("*.html")) + list((ROOT / "addons").rglob("*.html")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{n}")
    assert bad == []


def test_r26_receipt_email_text_uses_the_languages_colon(session, w):
    """The receipt sent by email: ``收银员：``, not ``收银员:``."""
    from flask_babel import force_locale

    from core.services.till import receipt_text

    data = {"store": {"name": "店"}, "number": "N1", "at": "2026-01-01 10:00", "cashier": "ann",
            "customer": "王*", "lines": [], "discounts": [], "total": "1.00", "payments": [], "panels": []}
    from flask import Flask

    app = Flask(__name__)
    from flask_babel import Babel

    Babel(app)
    with app.test_request_context(), force_locale("zh_Hans"):
        text = receipt_text(data)
    assert "ann" in text and ": ann" not in text and "：ann" in text


# ======================================================= help texts naming a page ===

def test_r26_help_text_names_the_page_as_the_menu_does(admin_app, session, w, make):
    """Class: a help text naming another page in words of its own translation. The segment
    builder said the matrix lines are set in 发送规则 (the menu says 消息规则, *Messaging
    rules*); the member page sent the cashier to the 客户列表 (the menu says 顾客). Expected:
    the text names the page by its view's own name (``page_link``), linked when the user may
    open it, so the words are the menu's in every language."""
    from core.models import User

    hq = session.get(User, w.hq.id)
    client = login(admin_app, hq, password="secret-pass-1")
    html = client.get("/admin/campaign_builder/?lang=en").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" data-page="campaign_policy">([^<]+)</a>', html)
    assert link and link.group(1).startswith("/admin/campaign_policy/") and link.group(2) == "Messaging rules"
    zh = client.get("/admin/campaign_builder/?lang=zh_Hans").get_data(as_text=True)
    assert re.search(r'data-page="campaign_policy">消息规则</a>', zh)
    html = client.get("/admin/membership_member_page/?lang=zh_Hans").get_data(as_text=True)
    assert re.search(r'data-page="customer">顾客</a>', html)


# ======================================================= a coded value typed in a form ===

def test_r26_a_typed_code_offers_its_codes(admin_app, session, w):
    """Class: a form field checked against a set of codes but drawn as a bare text box. A
    marketer creating a plan typed 短信 as the channel and was told "请从列表中选择一个值"
    under a box that showed no list (the codes come from the ``campaign_channels`` hook, so no
    select was built); opt-outs, consents and templates the same. Expected: the box offers the codes
    the installed addons give now (a ``<datalist>`` with their labels), and still refuses
    others."""
    from core.models import User

    client = login(admin_app, session.get(User, w.hq.id), password="secret-pass-1")
    html = client.get("/admin/campaign_plan/new/?lang=zh_Hans").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="channel"[^>]*>', html).group(0)
    assert 'list="channel-codes"' in box
    listed = re.search(r'<datalist id="channel-codes">(.*?)</datalist>', html, re.S).group(1)
    assert '<option value="email">电子邮件</option>' in listed
    html = client.get("/admin/campaign_optout/new/?lang=en").get_data(as_text=True)  # every form of a channel
    listed = re.search(r'<datalist id="channel-codes">(.*?)</datalist>', html, re.S).group(1)
    assert '<option value="email">Email</option>' in listed


def test_r26_a_refused_action_names_the_field_by_its_label(admin_app, session, w):
    """Class: a refusal flashed with the raw field code. Submitting a plan whose template
    does not exist flashed ``template_code: 渠道 email 没有模板 xmas。`` (one without a segment
    ``segment: ...``) (campaign and
    commissions put the code before the message; call center, membership and spare parts
    dropped the field altogether). Expected: the field's label in the reader's language and
    colon (the kernel's ``flash_error``), never the code."""
    from datetime import date

    from addons.campaign.models import Plan
    from core.models import User

    plan = Plan(code="R26", name="Plan", date_from=date(2026, 1, 1), date_to=date(2099, 12, 31), channel="email",
                list_code="news", template_code="nothing-here")
    session.add(plan)
    session.commit()
    client = login(admin_app, session.get(User, w.hq.id), password="secret-pass-1")
    page = "/admin/campaign_plan/?lang=zh_Hans"
    from core.admin.testing import post_form

    post_form(client, "/admin/campaign_plan/action/", {"action": "submit", "rowid": str(plan.id)}, page=page)
    html = client.get(page).get_data(as_text=True)
    alert = re.search(r'alert-danger[^>]*>(.*?)</div>', html, re.S).group(1)
    # a plan without a segment is refused first, on ``segment``: its label, the colon, the message
    assert "segment" not in alert and "template_code" not in alert
    assert "客户分群：请选择客户分群。" in alert


def test_r26_one_thing_one_word_on_the_plan_and_ticket_pages(admin_app, session, w):
    """Class: one thing shown under two words, or a word standing for two things. The plan
    form called a segment 客群 where the menu says 客户分群; its dates were a bare 从 and 截至
    (the period picker's words); the tickets' action *Open* (a verb: move them to open) read
    as the state 未完成. Expected: the plan's segment is the menu's 客户分群, its dates say
    what they bound (开始日期, 结束日期), the action says what it does (设为处理中)."""
    from core.models import User

    client = login(admin_app, session.get(User, w.hq.id), password="secret-pass-1")
    form = client.get("/admin/campaign_plan/new/?lang=zh_Hans").get_data(as_text=True)
    labels = {k: v.replace("&nbsp;", "").strip()
              for k, v in re.findall(r'<label[^>]*for="(\w+)"[^>]*>\s*([^<]+?)\s*(?:<|$)', form)}
    assert labels.get("segment") == "客户分群", labels
    assert (labels.get("date_from"), labels.get("date_to")) == ("开始日期", "结束日期"), labels
    tickets = client.get("/admin/call_center_ticket/?lang=zh_Hans").get_data(as_text=True)
    assert re.search(r"""data-action="open"[^>]*>\s*设为处理中|submitAction\('open'[^)]*\)[^>]*>\s*设为处理中|>设为处理中<""",
                     tickets), "the ticket action 'open' is a verb"
