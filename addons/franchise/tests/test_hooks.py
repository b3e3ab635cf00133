"""The hooks franchise offers: ``franchise_clearing``, netted per pair into the statements
(membership's implementation end to end), and ``franchise_rollup_figures``, added up per
dimension by the performance roll-up (membership's and call_center's implementations are
proven in ``test_rollup.py``)."""
from datetime import date
from decimal import Decimal

import pytest

from core import hookimpl
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
            return [{"owed_by": a, "owed_to": b, "amount": D("100.00"), "label": "Points"},
                    {"owed_by": b, "owed_to": a, "amount": D("30.00"), "label": "Points"},
                    {"owed_by": a, "owed_to": a, "amount": D("5.00"), "label": "Points"}]

    register_plugin(Plugin())
    sts = {st.company_id: st for st in svc.compute_statements(session, 2026, 3)}
    assert seen and seen[0][0] < seen[0][1]
    line_a = [ln for ln in sts[a].lines if ln.kind == "clearing"]
    line_b = [ln for ln in sts[b].lines if ln.kind == "clearing"]
    assert [(ln.counterparty_id, ln.amount, ln.note) for ln in line_a] == [(b, D("70.00"), "Points")]
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
