"""The checkout writes sales with prebuilt statements (core.services.sale_writer): the rows
must match the objects, the objects must be ordinary persistent ones, and a rollback must
leave the session as the unit of work would."""
from decimal import Decimal

import pytest
from sqlalchemy import event, func, inspect, select

from core.contrib import Adjustment
from core.errors import BusinessError
from core.hookspecs import hookimpl
from core.models import Sale, SaleAdjustment, SaleLine, SalePayment
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout


def _req(store, *products, **kw):
    return CheckoutRequest(store.id, [LineRequest(p.id, Decimal(1 + i)) for i, p in enumerate(products)], **kw)


class _Statements:
    def __init__(self, engine):
        self.engine, self.sql = engine, []

    def _log(self, _conn, _cur, statement, *_a):
        self.sql.append(statement)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._log)
        return self.sql

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self._log)


class TicketDiscount:
    """A line discount on the second line and a ticket-level one (spread over the lines)."""

    @hookimpl
    def price_ticket(self, session, ticket):
        return [Adjustment(amount=Decimal("-1.00"), rule_code="t.line", label="line", line=ticket.lines[1]),
                Adjustment(amount=Decimal("-2.00"), rule_code="t.ticket", label="ticket")]


def test_rows_match_objects_and_nothing_is_reloaded(session, make, register_plugin, rt):
    register_plugin(TicketDiscount())
    store = make.store()
    products = [make.product(price=f"{5 + i}.00") for i in range(4)]
    session.commit()
    sale = checkout(session, _req(store, *products))
    session.commit()
    with _Statements(rt.engine) as sql:  # every attribute is loaded: no query
        seen = (sale.number, sale.created_at, sale.total, [(ln.id, ln.qty, ln.refunded_qty, ln.origin_line_id)
                                                            for ln in sale.lines],
                [(a.line_id, a.amount) for a in sale.adjustments], [p.amount for p in sale.payments],
                [ln.sale is sale for ln in sale.lines], sale.payments[0].sale is sale)
    assert sql == [] and all(seen[-2]) and seen[-1]
    assert inspect(sale).persistent and all(inspect(ln).persistent for ln in sale.lines)

    session.expunge_all()
    stored = session.get(Sale, sale.id)
    assert [(ln.product_id, ln.qty, ln.unit_price, ln.total) for ln in stored.lines] == \
        [(ln.product_id, ln.qty, ln.unit_price, ln.total) for ln in sale.lines]
    assert [ln.id for ln in stored.lines] == [ln.id for ln in sale.lines]  # rows in request order
    line_adj = [a for a in stored.adjustments if a.rule_code == "t.line"]
    assert len(line_adj) == 1 and line_adj[0].line_id == sale.lines[1].id
    assert stored.total == sum(ln.total for ln in stored.lines) == sum(p.amount for p in stored.payments)
    assert stored.total == sum(ln.unit_price * ln.qty for ln in stored.lines) - Decimal("3.00")
    assert stored.state == "confirmed"


def test_rollback_expunges_the_sale_and_the_next_one_saves(session, make):
    store, p = make.store(), make.product()
    session.commit()
    first = checkout(session, _req(store, p))
    lines = list(first.lines)
    session.rollback()
    assert first not in session and not any(ln in session for ln in lines)
    assert inspect(first).transient and first.number == f"{store.code}-S000001"  # values kept
    assert session.scalar(select(func.count()).select_from(Sale)) == 0
    # SQLite may hand out the same ids again: the session must not hold the old objects
    second = checkout(session, _req(store, p))
    session.commit()
    assert second.number == f"{store.code}-S000001"  # the number went back with the rollback
    assert session.scalar(select(func.count()).select_from(SaleLine)) == 1


def test_savepoints(session, make):
    store, p = make.store(), make.product()
    session.commit()
    kept = checkout(session, _req(store, p))
    with pytest.raises(BusinessError):
        with session.begin_nested():
            inner = checkout(session, _req(store, p))
            raise BusinessError("refused")
    assert inner not in session and kept in session and inspect(inner.lines[0]).transient
    with session.begin_nested():
        released = checkout(session, _req(store, p))
    assert released in session
    session.rollback()  # the root: everything written in it goes, released savepoint included
    assert kept not in session and released not in session
    assert session.scalar(select(func.count()).select_from(Sale)) == 0


def test_bad_payment_writes_nothing(session, make, rt):
    store, p = make.store(), make.product(price="10.00")
    session.commit()
    with _Statements(rt.engine) as sql, pytest.raises(BusinessError) as exc:
        checkout(session, _req(store, p, payments=[PaymentRequest("cash", Decimal("4.00"))]))
    assert "payments" in exc.value.errors
    assert not [s for s in sql if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]


def test_capture_sees_the_written_sale(session, make, register_plugin):
    from core.contrib import PaymentMethod

    seen = []

    def capture(session, sale, amount, reference):
        seen.append((sale.id, session.get(Sale, sale.id) is sale, amount))
        return "cap-1"

    class Wallet:
        @hookimpl
        def payment_methods(self, session, ticket, user):
            return [PaymentMethod(code="wallet", label="Wallet", capture=capture)]

    register_plugin(Wallet())
    store, p = make.store(), make.product(price="10.00")
    session.commit()
    sale = checkout(session, _req(store, p, payments=[PaymentRequest("wallet", Decimal("4.00")),
                                                       PaymentRequest("cash")]))
    session.commit()
    assert seen == [(sale.id, True, Decimal("4.00"))]
    rows = session.execute(select(SalePayment.method, SalePayment.amount, SalePayment.reference)
                           .where(SalePayment.sale_id == sale.id).order_by(SalePayment.id)).all()
    assert rows == [("wallet", Decimal("4.00"), "cap-1"), ("cash", Decimal("6.00"), None)]
    assert [p.method for p in sale.payments] == ["wallet", "cash"]


def test_later_changes_go_through_the_orm(session, make):
    from core.models import AuditLog

    store, p = make.store(), make.product()
    sale = checkout(session, _req(store, p))
    session.commit()
    sale.note = "corrected"
    sale.lines[0].refunded_qty = Decimal("1")
    session.commit()
    session.expunge_all()
    assert session.get(Sale, sale.id).note == "corrected"
    assert session.get(SaleLine, sale.lines[0].id).refunded_qty == Decimal("1")
    audit = session.scalars(select(AuditLog).where(AuditLog.model == "core_sale")).all()
    assert [a.action for a in audit] == ["update"] and audit[0].changes["note"] == [None, "corrected"]
    assert session.scalar(select(func.count()).select_from(SaleAdjustment)) == 0


@pytest.mark.parametrize("start, expected", [(None, "S000001"), (999_999, "S999999"), (1_000_000, "S1000000")])
def test_number_taken_with_the_write(session, make, start, expected):
    """The sale is numbered as it is written (on PostgreSQL inside the same statement): the
    store's first sale creates its counter, and the number reads as ``next_number`` makes it."""
    from core.models import DocumentSequence
    from core.services.numbering import next_number

    store, other, p = make.store(), make.store(), make.product()
    if start is not None:
        session.add(DocumentSequence(store_id=store.id, code="sale", next_value=start))
    session.commit()
    sale = checkout(session, _req(store, p))
    assert sale.number == f"{store.code}-{expected}"
    after = checkout(session, _req(store, p, payments=[PaymentRequest("cash", Decimal("1.00")),
                                                       PaymentRequest("card")]))  # the other path
    session.commit()
    assert after.number == f"{store.code}-S{(start or 1) + 1:06d}"
    assert next_number(session, other, "sale") == f"{other.code}-S000001"
    session.rollback()
    assert session.get(DocumentSequence, (store.id, "sale")).next_value == (start or 1) + 2


def test_adjustments_on_a_sale_in_a_session_go_through_the_orm(session, make):
    """``apply_adjustments`` sets a new ticket's collection without ORM events (the writer
    inserts the rows); on a sale already in a session it must append through the ORM, or
    the unit of work would never insert them."""
    from core.services.checkout import apply_adjustments

    store, p = make.store(), make.product(price="10.00")
    sale = checkout(session, _req(store, p))
    apply_adjustments(sale, [Adjustment(amount=Decimal("-1.00"), rule_code="late", label="late", line=sale.lines[0])])
    session.commit()
    rows = session.execute(select(SaleAdjustment.rule_code, SaleAdjustment.amount, SaleAdjustment.line_id)
                           .where(SaleAdjustment.sale_id == sale.id)).all()
    assert rows == [("late", Decimal("-1.00"), sale.lines[0].id)]
