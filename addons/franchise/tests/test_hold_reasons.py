"""Why an order is held is stored as a code with its figures (``Order.hold_reason``,
``hold_args``; ``HOLD_REASON``) and put together in the reader's language on every surface:
the back office list and export, the dashboard, the API (code, figures and label) and the
release request the approvers read. The bank file import's note is a code too. Sentences
stored before (English or Chinese) are read back into codes by the migration."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select

from core import approvals
from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.i18n import force_locale
from core.models.approval import ApprovalRequest

from addons.franchise import services as svc
from addons.franchise.models import ENTRY_NOTE, HOLD_REASON, Order, ReceivableEntry
from core.testing.migrations import load_migration
from core.localtime import local_today

pytestmark = pytest.mark.addons("franchise")

ZH_OVER = "超出信用额度"
EN_OVER = "Over the credit limit: "


def _held(session, net, qty=5):
    svc.post_debit(session, net.a.company.id, "fee", "9800.00", local_today())
    order = svc.create_order(session, net.a.store.id, [(net.p1.id, qty)])
    return svc.submit(session, order.id)


def test_the_hold_is_a_code_with_its_figures_read_in_each_language(session, net):
    order = _held(session, net)
    assert (order.state, order.hold_reason, order.hold_note) == ("held", "over_limit", None)
    assert order.hold_args["over"] == "100.00"
    with force_locale("en"):
        english = order.hold_text
    with force_locale("zh_Hans"):
        chinese = order.hold_text
    assert english.startswith(EN_OVER) and "10,000.00" in english and "100.00" in english
    assert chinese.startswith(ZH_OVER) and "10,000.00" in chinese and ZH_OVER not in english
    # the writer's language does not matter: a Chinese user's submit stores the same code
    with force_locale("zh_Hans"):
        other = svc.submit(session, svc.create_order(session, net.a.store.id, [(net.p1.id, 5)]).id)
    assert (other.hold_reason, other.hold_args["limit"]) == ("over_limit", "10000.00")
    assert set(HOLD_REASON.codes) == {"overdue", "over_limit"}


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_api_answers_code_figures_and_label_in_the_readers_language(api, session, make, net, lang):
    hq = make.user(roles=("hq_admin",), locale=lang)
    order = _held(session, net)
    r = api.get(f"/api/v1/franchise/orders/{order.id}", user=hq, headers={"Accept-Language": lang})
    assert r.status_code == 200, r.json
    assert r.json["hold_reason"] == "over_limit" and r.json["hold_args"]["value"] == "300.00"
    label = r.json["hold_reason_label"]
    assert label.startswith(ZH_OVER if lang == "zh_Hans" else EN_OVER) and "10,000.00" in label


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_back_office_list_and_export_show_the_sentence(admin_app, session, make, net, lang):
    hq = make.user(roles=("hq_admin",), locale=lang)
    _held(session, net)
    session.commit()
    client = login(admin_app, hq)
    want, other = (ZH_OVER, EN_OVER) if lang == "zh_Hans" else (EN_OVER, ZH_OVER)
    html = client.get("/admin/franchise_orders/").get_data(as_text=True)
    assert want in html and other not in html and ">over_limit<" not in html
    csv = client.get("/admin/franchise_orders/export/csv/").get_data(as_text=True)
    assert want in csv and "over_limit" not in csv


def test_the_release_request_carries_the_code_each_approver_reads_it_in_their_language(session, make, net):
    order = _held(session, net)
    with force_locale("zh_Hans"):  # filed by a Chinese user
        req = svc.request_release(session, order.id, make.user(roles=("hq_admin",)))
    assert req.payload["hold_reason"] == {"code": "over_limit", "args": order.hold_args}
    for lang, want in (("en", EN_OVER), ("zh_Hans", ZH_OVER)):
        with force_locale(lang):
            rows = {row["name"]: row for row in approvals.figure_rows(session, req, part="payload")}
        assert rows["hold_reason"]["text"].startswith(want)


def test_the_dashboard_widget_shows_the_sentence(session, net):
    from addons.franchise.reports import widgets

    _held(session, net)
    with force_locale("en"):
        widget = next(w for w in widgets(session) if w.key == "franchise.orders_waiting")
    assert any(str(row[2]).startswith(EN_OVER) for row in widget.data["rows"])


def test_the_bank_import_note_is_a_code(session, net):
    p = svc.record_payment(session, net.a.company.id, "10.00", local_today(), bank_reference="IMP-1",
                           note_code="import")
    entry = session.get(ReceivableEntry, p.entry_id)
    assert (entry.note, entry.note_code) == (None, "import")
    with force_locale("en"):
        assert entry.note_text == "Imported from a bank file" == str(ENTRY_NOTE.label("import"))


def _migration():
    return load_migration("franchise", "*_franchise_coded_hold_reason.py")


def test_the_migration_reads_stored_sentences_back_into_codes(session, make, net):
    """English and Chinese sentences become code and figures (the order and its release
    request); any other text is kept as written in ``hold_note``; the import note becomes its
    code; a second run changes nothing; the way back writes English sentences."""
    mig = _migration()
    texts = {
        "EN-1": ("Over the credit limit: 10000.00, owed 9800.00, open orders 0.00, this order 300.00 (100.00 over).",
                 ("over_limit", {"limit": "10000.00", "balance": "9800.00", "orders": "0.00", "value": "300.00",
                                 "over": "100.00"}, None)),
        "ZH-1": ("已超过 10 天宽限期逾期：未付 1.00，自 2026-11-01 起到期。",
                 ("overdue", {"days": 10, "amount": "1.00", "due": "2026-11-01"}, None)),
        "OT-1": ("Held by hand: call the owner", (None, None, "Held by hand: call the owner")),
    }
    session.execute(insert(Order), [{"number": f"MIG-{k}", "store_id": net.a.store.id, "state": "held",
                                     "value": 300, "hold_reason": text} for k, (text, _w) in texts.items()])
    req = ApprovalRequest(action=mig.RELEASE_ACTION, label="Release order MIG", required=2,
                          payload={"order_id": 1, "reason": texts["ZH-1"][0], "note": None})
    session.add(req)
    svc.post_debit(session, net.a.company.id, "fee", "50.00", local_today())
    p = svc.record_payment(session, net.a.company.id, "10.00", local_today(), bank_reference="OLD-1", note="import")
    session.flush()
    conn = session.connection()
    assert mig.sentences_to_codes(conn) >= 5
    session.expire_all()
    got = {o.number[4:]: (o.hold_reason, o.hold_args, o.hold_note)
           for o in session.scalars(select(Order).where(Order.number.like("MIG-%")))}
    assert got == {k: want for k, (_t, want) in texts.items()}
    payload = session.get(ApprovalRequest, req.id).payload
    assert "reason" not in payload and payload["hold_reason"] == {"code": "overdue", "args": texts["ZH-1"][1][1]}
    entry = session.get(ReceivableEntry, p.entry_id)
    assert (entry.note, entry.note_code) == (None, "import")
    assert mig.sentences_to_codes(conn) == 0
    mig.codes_to_sentences(conn)
    session.expire_all()
    back = {o.number[4:]: o.hold_reason for o in session.scalars(select(Order).where(Order.number.like("MIG-%")))}
    assert back["EN-1"] == texts["EN-1"][0] and back["OT-1"] == texts["OT-1"][0]
    assert back["ZH-1"].startswith("Overdue past the 10 grace days")


def test_the_migration_reads_statement_line_sentences_back_into_codes(session, net):
    """The statement computation's sentences (English or Chinese) become STATEMENT_NOTE codes;
    a clearing line's text stays."""
    from addons.franchise.models import STATEMENT_NOTE, Statement, StatementLine

    mig = _migration()
    c = svc.create_contract(session, "MIG-C", net.a.company.id, date(2026, 1, 1), date(2026, 12, 31),
                            royalty_rate="0.05", minimum_royalty="10.00")
    svc.activate_contract(session, c.id)
    (st,) = svc.compute_statements(session, 2026, 3, [net.a.company.id])
    session.execute(insert(StatementLine), [
        {"statement_id": st.id, "kind": "minimum", "amount": 1, "base": 0, "note": "每月最低使用费 10.00"},
        {"statement_id": st.id, "kind": "correction", "amount": 1, "base": 0,
         "note": "Refunds of sales of earlier, posted months"},
        {"statement_id": st.id, "kind": "clearing", "amount": 1, "base": 0, "note": "Points"}])
    session.flush()
    assert mig.sentences_to_codes(session.connection()) == 2
    session.expire_all()
    got = [(ln.note_code, ln.note_args, ln.note) for ln in session.get(Statement, st.id).lines if ln.amount == 1]
    assert got == [("minimum", {"amount": "10.00"}, None), ("late_refunds", None, None), (None, None, "Points")]
    # the codes the migration knows sentences of; late_minimum came after it (always stored coded)
    assert set(STATEMENT_NOTE.codes) == {"minimum", "late_refunds", "late_marketing", "clearing", "late_minimum"}
