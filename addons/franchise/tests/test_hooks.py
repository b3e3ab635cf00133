"""The hooks franchise offers: ``franchise_clearing``, netted per pair into the statements
(membership's implementation end to end), and ``franchise_rollup_figures``, added up per
dimension by the performance roll-up (membership's and call_center's implementations are
proven in ``test_rollup.py``)."""
from datetime import date
from decimal import Decimal

import pytest

from core import hookimpl
from core.api.testing import api, api_app  # noqa: F401
from core.localtime import local_today

from addons.franchise import services as svc

pytestmark = pytest.mark.addons("franchise", "membership")
D = Decimal


def _contracts(session, net, start):
    for side in (net.a, net.b):
        c = svc.create_contract(session, f"CL-{side.company.id}", side.company.id, start, date(2099, 12, 31),
                                royalty_rate="0.05")
        svc.activate_contract(session, c.id)


def test_hook_franchise_clearing(session, net, register_plugin):
    """A plugin's clearing amounts become netted clearing lines on both statements."""
    a, b = net.a.company.id, net.b.company.id
    _contracts(session, net, date(2026, 1, 1))
    seen = []

    class Plugin:
        @hookimpl
        def franchise_clearing(self, session, date_from, date_to):
            seen.append((date_from, date_to))
            return [{"owed_by": a, "owed_to": b, "amount": D("100.00"), "code": "gift_cards"},
                    {"owed_by": b, "owed_to": a, "amount": D("30.00"), "code": "gift_cards"},
                    {"owed_by": a, "owed_to": a, "amount": D("5.00"), "code": "gift_cards"}]

        @hookimpl
        def franchise_clearing_kinds(self):
            return [("gift_cards", "Gift cards")]

    register_plugin(Plugin())
    sts = {st.company_id: st for st in svc.compute_statements(session, 2026, 3)}
    assert seen and seen[0][0] < seen[0][1]
    line_a = [ln for ln in sts[a].lines if ln.kind == "clearing"]
    line_b = [ln for ln in sts[b].lines if ln.kind == "clearing"]
    assert [(ln.counterparty_id, ln.amount, ln.note, ln.note_code, ln.note_args) for ln in line_a] == [
        (b, D("70.00"), None, "clearing", {"what": "gift_cards"})]
    assert [(ln.counterparty_id, ln.amount) for ln in line_b] == [(a, D("-70.00"))]
    assert sts[a].total - sts[b].total == D("140.00")  # no sales: the minimum is 0, only clearing


def test_membership_stored_value_clearing_reaches_the_statements(session, make, net):
    from addons.membership import services as membership

    a, b = net.a.company.id, net.b.company.id
    today = local_today()
    _contracts(session, net, date(today.year, 1, 1))
    buyer = make.customer(home_store_id=net.a.store.id)
    membership.enrol(session, buyer.id, store_id=net.a.store.id, card_number="CLEAR-0001")
    membership.topup(session, buyer.id, "200", net.a.store.id)  # sold by A
    membership.spend(session, buyer.id, "80", net.b.store.id)  # spent at B: A owes B
    sts = {st.company_id: st for st in svc.compute_statements(session, today.year, today.month)}
    (la,) = [ln for ln in sts[a].lines if ln.kind == "clearing"]
    (lb,) = [ln for ln in sts[b].lines if ln.kind == "clearing"]
    assert (la.counterparty_id, la.amount) == (b, D("80.00"))
    assert (lb.counterparty_id, lb.amount) == (a, D("-80.00"))


def test_hook_franchise_clearing_kinds(api_app, session, register_plugin):
    """The codes the clearing addons declare, with their labels, label the clearing lines:
    membership's own and a plugin's; a code nobody declares shows as itself."""
    from core.i18n import force_locale

    from addons.franchise.models import CLEARING_KIND, STATEMENT_NOTE

    class Plugin:
        @hookimpl
        def franchise_clearing_kinds(self):
            return [("gift_cards", "Gift cards")]

    register_plugin(Plugin())
    with api_app.app_context(), force_locale("zh_Hans"):
        assert {c: str(label) for c, label in CLEARING_KIND.choices()} == {"stored_value": "储值",
                                                                            "gift_cards": "Gift cards"}
        assert "Gift cards" in STATEMENT_NOTE.text("clearing", {"what": "gift_cards"})
        assert "储值" in STATEMENT_NOTE.text("clearing", {"what": "stored_value"})
        assert "vouchers" in STATEMENT_NOTE.text("clearing", {"what": "vouchers"})


@pytest.mark.parametrize("writer", ["en", "zh_Hans"])
def test_a_clearing_line_reads_in_the_readers_language(api_app, api, session, make, net, writer):
    """The statement keeps what it clears as a code (``note_args["what"]``), never the hook's
    label in the language of the user who computed it: each reader sees the label in theirs."""
    from core.i18n import force_locale

    from addons.franchise.models import StatementLine
    from addons.membership import services as membership

    words = {"en": "Stored value", "zh_Hans": "储值"}
    reader = {"en": "zh_Hans", "zh_Hans": "en"}[writer]
    a, b = net.a.company.id, net.b.company.id
    today = local_today()
    _contracts(session, net, date(today.year, 1, 1))
    buyer = make.customer(home_store_id=net.a.store.id)
    membership.enrol(session, buyer.id, store_id=net.a.store.id, card_number="CLEAR-0002")
    membership.topup(session, buyer.id, "200", net.a.store.id)
    membership.spend(session, buyer.id, "80", net.b.store.id)
    with force_locale(writer):
        sts = {st.company_id: st for st in svc.compute_statements(session, today.year, today.month)}
    (la,) = [ln for ln in sts[a].lines if ln.kind == "clearing"]
    assert (la.note, la.note_code, la.note_args) == (None, "clearing", {"what": "stored_value"})
    with api_app.app_context(), force_locale(reader):
        assert words[reader] in la.note_text and words[writer] not in la.note_text
    hq = make.user(roles=("hq_admin",), locale=reader)
    rows = api.get("/api/v1/franchise/statements", user=hq, headers={"Accept-Language": reader}).json
    (line,) = [ln for st in rows if st["company_id"] == a for ln in st["lines"] if ln["kind"] == "clearing"]
    assert (line["note"], line["note_code"], line["note_args"]) == (None, "clearing", {"what": "stored_value"})
    assert words[reader] in line["note_label"] and words[writer] not in line["note_label"]
    assert session.get(StatementLine, la.id).note is None


def test_the_migration_reads_stored_clearing_labels_back_into_codes(session, net):
    from sqlalchemy import insert, select

    from core.testing.migrations import load_migration

    from addons.franchise.models import StatementLine

    mig = load_migration("franchise", "*_franchise_coded_clearing_lines.py")
    _contracts(session, net, date(2026, 1, 1))
    (st, *_rest) = svc.compute_statements(session, 2026, 3)
    notes = ["Stored value", "储值", "Points", "积分", "Gift cards", None]
    session.execute(insert(StatementLine), [{"statement_id": st.id, "kind": "clearing", "amount": D(n + 1) / 100,
                                             "base": 0, "note": note} for n, note in enumerate(notes)]
                    + [{"statement_id": st.id, "kind": "royalty", "amount": D("0.5"), "base": 0, "note": "Points"}])
    session.flush()
    conn = session.connection()
    assert mig.labels_to_codes(conn) == 5
    assert mig.labels_to_codes(conn) == 0
    session.expire_all()
    rows = session.execute(select(StatementLine.note, StatementLine.note_code, StatementLine.note_args)
                           .where(StatementLine.statement_id == st.id, StatementLine.amount < 1)
                           .order_by(StatementLine.amount)).all()
    what = [{"what": w} for w in ("stored_value", "stored_value", "points", "points", "Gift cards")]
    assert [tuple(r) for r in rows] == [(None, "clearing", w) for w in what] + [(None, None, None), ("Points", None, None)]
    mig.codes_to_labels(conn)
    session.expire_all()
    back = session.execute(select(StatementLine.note).where(StatementLine.statement_id == st.id,
                                                            StatementLine.amount < D("0.055"))
                           .order_by(StatementLine.amount)).scalars().all()
    assert back == ["Stored value", "Stored value", "Points", "Points", "Gift cards"]


def test_hook_franchise_rollup_figures(session, net, register_plugin):
    """A plugin's counts per store are added up per franchisee, for the stores asked for."""
    from datetime import datetime

    from core.reporting import Period

    from addons.franchise.rollup import rollup

    MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
    seen = []

    class Plugin:
        @hookimpl
        def franchise_rollup_figures(self, session, period_start, period_end, store_ids):
            seen.append((period_start, period_end, store_ids))
            n = 3 if period_start < datetime(2026, 3, 15) and period_end > datetime(2026, 3, 15) else 1
            return [{"key": "visits", "label": "Visits", "counts": {net.a.store.id: n, net.b.store.id: 2}}]

    register_plugin(Plugin())
    data = rollup(session, "franchisee", MARCH, store_ids=[net.a.store.id])
    assert len(seen) == 3 and all(s == [net.a.store.id] for *_t, s in seen)
    assert "visits" in [k for k, _l, _m in data["figures"]]
    (row,) = data["rows"]  # B's store is not among the stores asked for
    visits = row["figures"]["visits"]
    assert row["key"] == net.a.company.id and (visits.current, visits.previous, visits.last_year) == (3, 1, 1)
    assert data["total"]["visits"].current == 3
