"""A franchisee's user sees its own account, receivables, orders and statements only,
through the kernel's record scope (no per-view check)."""
from datetime import date

import pytest
from sqlalchemy import select

from core.security.scope import scope_session

from addons.franchise import services as svc
from addons.franchise.models import Franchisee, Order, OrderLine, ReceivableEntry, Statement

pytestmark = pytest.mark.addons("franchise")


def test_franchisee_user_sees_only_its_own_rows(rt, session, make, net):
    for side in (net.a, net.b):
        svc.post_debit(session, side.company.id, "fee", "10.00", date(2026, 3, 1))
        order = svc.create_order(session, side.store.id, [(net.p1.id, 1)])
        svc.submit(session, order.id)
        c = svc.create_contract(session, f"SC-{side.company.id}", side.company.id, date(2026, 1, 1),
                                date(2026, 12, 31), royalty_rate="0.05")
        svc.activate_contract(session, c.id)
    svc.compute_statements(session, 2026, 3)
    session.commit()
    user = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=net.a.company.id)
    session.commit()
    with rt.session() as s:
        scope_session(s, user)
        a = net.a.company.id
        for model, col in ((Franchisee, Franchisee.company_id), (ReceivableEntry, ReceivableEntry.company_id),
                           (Order, Order.company_id), (Statement, Statement.company_id)):
            seen = set(s.execute(select(col)).scalars())
            assert seen == {a}, model
        lines = s.execute(select(OrderLine)).scalars().all()
        assert {ln.order.company_id for ln in lines} == {a}
        assert {r["key"] for r in svc.aging(s, date(2026, 6, 1))} == {a}
        # writing for another franchisee's store is refused by the kernel's write check
        from core.errors import BusinessError

        with pytest.raises(BusinessError):
            svc.create_order(s, net.b.store.id, [(net.p1.id, 1)])
