"""Ten identical requests with one Idempotency-Key at the same time, through real
connections (no shared test transaction): one refund, ten identical answers."""
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.api.testing import build_app
from core.db import transaction
from core.models import IdempotencyRecord, Sale, SaleLine
from core.security.tokens import create_token
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.testing.factories import Factories

# this test commits (``committed`` removes its rows after it)
pytestmark = pytest.mark.addons("giftcard", "membership")


def test_ten_concurrent_duplicates_take_effect_once(rt, committed):
    with rt.session() as s, transaction(s):
        make = Factories(s)
        user = make.user(superuser=True)
        store, product = make.store(), make.product(price="10.00")
        sale = checkout(s, CheckoutRequest(store_id=store.id, lines=[LineRequest(product.id, Decimal("3"))],
                                           payments=[PaymentRequest("cash")]))
        token, _tok = create_token(s, user, "till")
        sale_id, line_id = sale.id, sale.lines[0].id
    app = build_app(rt)
    barrier = threading.Barrier(10)
    answers = []

    def post():
        client = app.test_client()
        barrier.wait()
        r = client.post(f"/api/v1/sales/{sale_id}/refund", json={"lines": [{"line_id": line_id, "qty": "1"}]},
                        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "race-1"})
        answers.append((r.status_code, r.data))

    threads = [threading.Thread(target=post) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == 10
    assert {a[0] for a in answers} == {201}, answers[:2]
    assert len({a[1] for a in answers}) == 1  # byte for byte the same answer
    with rt.session() as s:
        refunds = s.execute(select(func.count()).select_from(Sale).where(Sale.kind == "refund",
                                                                        Sale.origin_id == sale_id)).scalar()
        assert refunds == 1
        assert s.get(SaleLine, line_id).refunded_qty == Decimal("1")
        assert s.execute(select(func.count()).select_from(IdempotencyRecord)).scalar() == 1
