from decimal import Decimal

from sqlalchemy import text, update

from core.contrib import Breach
from core.hookspecs import hookimpl
from core.models import Customer, Sale, SaleLine
from core.services.check import run_checks
from core.services.refund import refund


def _checks(session, name):
    return [b for b in run_checks(session) if b.check == name]


def test_clean_database_has_no_breach(session, make):
    store = make.store()
    sale = make.sale(store=store, products=[make.product(), make.product()], qty="2")
    refund(session, sale.id)
    assert run_checks(session) == []


def test_orphan_sale_line_is_reported(session, make, db_is_postgres):
    sale = make.sale()
    session.flush()
    if db_is_postgres:
        session.execute(text("SET LOCAL session_replication_role = replica"))  # FK triggers off
    else:
        session.execute(text("PRAGMA defer_foreign_keys = ON"))  # checked at commit; we roll back
    line_id = sale.lines[0].id
    session.execute(update(SaleLine).where(SaleLine.id == line_id).values(sale_id=999999))
    found = _checks(session, "core.orphan_rows")
    assert any("core_sale_line" in b.message and f"core_sale_line:{line_id}" in b.records for b in found)
    session.rollback()


def test_refund_whose_origin_is_not_a_sale(session, make):
    store = make.store()
    sale = make.sale(store=store)
    doc = refund(session, sale.id)
    other = make.sale(store=store)
    other2 = make.sale(store=store)
    # a refund pointing at another refund, and a sale carrying an origin
    doc2 = refund(session, other.id)
    session.execute(update(Sale).where(Sale.id == doc2.id).values(origin_id=doc.id))
    session.execute(update(Sale).where(Sale.id == other2.id).values(origin_id=sale.id))
    session.expire_all()
    found = _checks(session, "core.refund_origin")
    records = {r for b in found for r in b.records}
    assert f"core_sale:{doc2.id}" in records
    assert f"core_sale:{other2.id}" in records
    assert f"core_sale:{doc.id}" not in records


def test_refunded_qty_mismatch(session, make):
    sale = make.sale(qty="3")
    line = sale.lines[0]
    session.execute(update(SaleLine).where(SaleLine.id == line.id).values(refunded_qty=Decimal("1")))
    found = _checks(session, "core.refunded_qty")
    assert found and f"core_sale_line:{line.id}" in found[0].records


def test_merged_customer_still_active(session, make):
    a, b = make.customer(), make.customer()
    session.execute(update(Customer).where(Customer.id == b.id).values(merged_into_id=a.id))
    found = _checks(session, "core.customer_merge")
    assert found and found[0].records == (f"core_customer:{b.id}",)


def test_sale_totals_from_kernel_hook(session, make):
    sale = make.sale()
    session.execute(update(Sale).where(Sale.id == sale.id).values(total=Decimal("999.00")))
    found = _checks(session, "core.sale_totals")
    assert found and found[0].records == (f"core_sale:{sale.id}",)


def test_addon_breaches_and_crashing_checks_are_reported(session, make, register_plugin):
    class Good:
        @hookimpl
        def check_invariants(self, session):
            return [Breach("demo.balance", "card 7 balance 10 != ledger 12", ("demo_card:7",))]

    class Broken:
        @hookimpl
        def check_invariants(self, session):
            session.execute(text("SELECT * FROM no_such_table"))

    register_plugin(Good(), name="good")
    register_plugin(Broken(), name="broken")
    make.sale()
    breaches = run_checks(session)
    names = {b.check for b in breaches}
    assert "demo.balance" in names and "broken.check_failed" in names
    # the session is still usable after the crash (savepoint rolled back)
    assert session.query(Sale).count() == 1
