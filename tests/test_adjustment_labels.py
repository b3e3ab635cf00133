"""A sale adjustment's label composed by a pricing rule's code is kept as its msgid and
arguments (``SaleAdjustment.label_msgid``/``label_args``), beside the text written in the
cashier's language (``label``): every reader sees ``label_text`` in their own language -- the
back office's sale page, the API (``label_text``; ``label`` stays the text as written), the
receipt. A label given as data (a promotion's name) is stored and shown as typed. The writer's
prebuilt statements (one CTE statement on PostgreSQL) write the new columns without a statement
more, and the migration reads membership's old tier sentences back into msgid and arguments."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, insert, select

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.contrib import Adjustment
from core.hookspecs import hookimpl
from core.i18n import CONTEXT_SEP, force_locale, lazy_gettext, lazy_pgettext, lazy_source, stored_text
from core.models import Sale, SaleAdjustment
from core.services.checkout import CheckoutRequest, LineRequest, checkout
from core.testing.migrations import load_migration

OTHER = {"en": "zh_Hans", "zh_Hans": "en"}
#: the kernel's own msgids (translated in its catalogs), standing in for an addon's sentences
LINE = {"en": "List price 12.50", "zh_Hans": "标价 12.50"}
TICKET = {"en": "Available", "zh_Hans": "可安装"}
DATA = "周末特价 Weekend deal"


class Labels:
    """A sentence on the first line (lazy, with a Decimal argument), a sentence with a
    context on the ticket, and a promotion's name (data) on the second line."""

    @hookimpl
    def price_ticket(self, session, ticket):
        return [Adjustment(Decimal("-1.00"), "t.sentence",
                           lazy_gettext("List price %(price)s", price=Decimal("12.50")),
                           ticket.lines[0]),
                Adjustment(Decimal("-2.00"), "t.context", lazy_pgettext("addon", "Available")),
                Adjustment(Decimal("-0.50"), "t.data", DATA, ticket.lines[1])]


def _rows(session, sale_id) -> dict:
    return {a.rule_code: a for a in session.scalars(select(SaleAdjustment).where(SaleAdjustment.sale_id == sale_id))}


def test_a_lazy_label_gives_its_msgid_and_arguments():
    assert lazy_source(lazy_gettext("List price %(price)s", price=Decimal("12.50"))) == (
        "List price %(price)s", {"price": "12.50"})
    assert lazy_source(lazy_pgettext("addon", "Available")) == (f"addon{CONTEXT_SEP}Available", None)
    assert lazy_source(lazy_gettext("Total", n=2, ok=True, x=None)) == ("Total", {"n": 2, "ok": True, "x": None})
    assert lazy_source(DATA) is None and lazy_source("Member price") is None
    for lang in ("en", "zh_Hans"):
        with force_locale(lang):
            assert stored_text("List price %(price)s", {"price": "12.50"}, "x") == LINE[lang]
            assert stored_text(f"addon{CONTEXT_SEP}Available", None, "x") == TICKET[lang]
            assert stored_text(None, None, DATA) == DATA
            # a stored sentence whose arguments do not fit: the text as written
            assert stored_text("List price %(price)s", {"cost": "1"}, "as written") == "as written"


@pytest.mark.parametrize("writer", ["en", "zh_Hans"])
def test_a_composed_label_reads_in_the_readers_language(api, admin_app, session, make, register_plugin, writer):
    reader = OTHER[writer]
    register_plugin(Labels())
    store = make.store()
    p1, p2 = make.product(price="20.00"), make.product(price="10.00")
    cashier = make.user(roles=("store_manager",), locale=writer)
    manager = make.user(roles=("store_manager",), locale=reader)
    session.commit()
    r = api.post("/api/v1/sales", user=cashier, headers={"Accept-Language": writer},
                 json={"store_id": store.id, "lines": [{"product_id": p1.id, "qty": "1"},
                                                       {"product_id": p2.id, "qty": "1"}]})
    assert r.status_code == 201, r.json
    sale_id = r.json["id"]
    written = {a["rule_code"]: (a["label"], a["label_text"]) for a in r.json["adjustments"]}
    assert written == {"t.sentence": (LINE[writer],) * 2, "t.context": (TICKET[writer],) * 2,
                       "t.data": (DATA, DATA)}
    rows = _rows(session, sale_id)
    assert [(rows[c].label, rows[c].label_msgid, rows[c].label_args) for c in ("t.sentence", "t.context", "t.data")] \
        == [(LINE[writer], "List price %(price)s", {"price": "12.50"}),
            (TICKET[writer], f"addon{CONTEXT_SEP}Available", None), (DATA, None, None)]

    got = api.get(f"/api/v1/sales/{sale_id}", user=manager, headers={"Accept-Language": reader})
    assert got.status_code == 200, got.json
    read = {a["rule_code"]: (a["label"], a["label_text"]) for a in got.json["adjustments"]}
    assert read == {"t.sentence": (LINE[writer], LINE[reader]), "t.context": (TICKET[writer], TICKET[reader]),
                    "t.data": (DATA, DATA)}

    client = login(admin_app, manager)
    page = client.get(f"/admin/sale/details/?id={sale_id}").get_data(as_text=True)
    assert LINE[reader] in page and LINE[writer] not in page and DATA in page
    receipt = client.get(f"/admin/till/receipt/{sale_id}").get_data(as_text=True)
    assert LINE[reader] in receipt and LINE[writer] not in receipt and DATA in receipt


def test_the_sale_answer_and_the_schema_agree_on_the_label(session, make, register_plugin):
    """``sale_json`` (the checkout's answer) and ``SaleSchema`` give ``label`` as written and
    ``label_text`` in the current language."""
    from flask import json

    from core.api.resources.sales import sale_json
    from core.api.schemas import SaleSchema

    register_plugin(Labels())
    with force_locale("en"):
        sale = make.sale(products=[make.product(price="20.00"), make.product(price="10.00")])
    session.expire_all()
    sale = session.get(Sale, sale.id)
    for lang in ("en", "zh_Hans"):
        with force_locale(lang):
            out = sale_json(sale)
            assert out == SaleSchema().dump(sale)
            assert json.dumps(out) == json.dumps(SaleSchema().dump(sale))
            by_rule = {a["rule_code"]: (a["label"], a["label_text"]) for a in out["adjustments"]}
            assert by_rule["t.sentence"] == (LINE["en"], LINE[lang]) and by_rule["t.data"] == (DATA, DATA)


def test_the_writer_keeps_the_labels_without_a_statement_more(session, make, register_plugin, rt):
    """Every sale is written by the same statements as before (one on PostgreSQL); the rows
    read back equal what the objects hold."""
    store, products = make.store(), [make.product(price="20.00"), make.product(price="10.00")]
    session.commit()

    def statements():
        seen = []
        listener = lambda *a: seen.append(a[2])  # noqa: E731
        event.listen(rt.engine, "before_cursor_execute", listener)
        try:
            sale = checkout(session, CheckoutRequest(store.id, [LineRequest(p.id, Decimal(1)) for p in products]))
        finally:
            event.remove(rt.engine, "before_cursor_execute", listener)
        session.commit()
        return sale, seen

    class Switch(Labels):
        plain = True

        @hookimpl
        def price_ticket(self, session, ticket):
            if not self.plain:
                return super().price_ticket(session, ticket)
            return [Adjustment(Decimal("-1.00"), "t.sentence", "plain", ticket.lines[0]),
                    Adjustment(Decimal("-2.00"), "t.context", "plain"),
                    Adjustment(Decimal("-0.50"), "t.data", DATA, ticket.lines[1])]

    switch = Switch()
    register_plugin(switch)
    statements()  # the store's first sale makes its counter
    _, before = statements()
    switch.plain = False
    sale, after = statements()
    assert len(after) == len(before)
    held = {a.rule_code: (a.label, a.label_msgid, a.label_args) for a in sale.adjustments}
    session.expunge_all()
    assert {c: (a.label, a.label_msgid, a.label_args) for c, a in _rows(session, sale.id).items()} == held
    assert held["t.sentence"][2] == {"price": "12.50"} and held["t.data"][1:] == (None, None)


def test_the_migration_reads_old_tier_sentences_back_into_msgids(session, make):
    mig = load_migration("core", "*_kernel_adjustment_label_msgids.py")
    conn = session.connection()
    sale = make.sale(products=[make.product(price="10.00")])
    labels = [("membership.tier.gold", "Gold member discount 10%"), ("membership.tier.gold", "Gold member discount 10%"),
              ("membership.tier.jin", "金卡会员折扣 5.5%"), ("membership.tier.gold", "Gold会员折扣 10%"),
              ("membership.tier.odd", "Odd member discount lots%"), ("loyalty.promo.x", "Gold member discount 10%"),
              ("membership.tier.gold", "VIP day")]
    conn.execute(insert(SaleAdjustment), [{"sale_id": sale.id, "amount": Decimal("-1.00"), "rule_code": code,
                                           "label": label} for code, label in labels])
    assert mig.labels_to_msgids(conn) == 4
    assert mig.labels_to_msgids(conn) == 0
    session.expire_all()
    rows = session.scalars(select(SaleAdjustment).where(SaleAdjustment.sale_id == sale.id)
                           .order_by(SaleAdjustment.id)).all()
    assert [(a.label, a.label_msgid, a.label_args) for a in rows] == [
        ("Gold member discount 10%", mig.TIER_MSGID, {"tier": "Gold", "pct": "10"}),
        ("Gold member discount 10%", mig.TIER_MSGID, {"tier": "Gold", "pct": "10"}),
        ("金卡会员折扣 5.5%", mig.TIER_MSGID, {"tier": "金卡", "pct": "5.5"}),
        ("Gold会员折扣 10%", mig.TIER_MSGID, {"tier": "Gold", "pct": "10"}),
        ("Odd member discount lots%", None, None),  # not the rule's figures: as written
        ("Gold member discount 10%", None, None),  # another rule's label is data
        ("VIP day", None, None)]
