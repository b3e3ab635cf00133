"""The tier discount's label ("Gold member discount 10%") is a lazy string: the sale keeps its
msgid and figures, so a sale an English cashier made reads in Chinese to a Chinese manager (the
back office's sale page, the API's ``label_text``, the receipt) and the other way round;
``label`` keeps the text as the cashier's till wrote it. Tier discounts stored before as a
sentence are read back into msgid and figures by the kernel's migration."""
from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.i18n import force_locale
from core.models import SaleAdjustment
from core.testing.migrations import load_migration

from addons.membership import services as svc

pytestmark = pytest.mark.addons("membership")

OTHER = {"en": "zh_Hans", "zh_Hans": "en"}
GOLD = {"en": "Gold member discount 10%", "zh_Hans": "Gold会员折扣 10%"}


@pytest.mark.parametrize("writer", ["en", "zh_Hans"])
def test_a_tier_discount_reads_in_the_readers_language(api, admin_app, session, make, member, tiers, writer):
    reader = OTHER[writer]
    svc.set_tier(session, member.id, "gold", reason="test")
    store, product = make.store(), make.product(price="100.00")
    cashier = make.user(roles=("store_manager",), locale=writer)
    manager = make.user(roles=("store_manager",), locale=reader)
    session.commit()
    r = api.post("/api/v1/sales", user=cashier, headers={"Accept-Language": writer},
                 json={"store_id": store.id, "customer_id": member.id, "lines": [{"product_id": product.id, "qty": "1"}]})
    assert r.status_code == 201, r.json
    assert [(a["label"], a["label_text"]) for a in r.json["adjustments"]] == [(GOLD[writer], GOLD[writer])]
    sale_id = r.json["id"]
    row = session.scalars(select(SaleAdjustment).where(SaleAdjustment.sale_id == sale_id)).one()
    assert (row.label, row.label_msgid, row.label_args) == (
        GOLD[writer], "%(tier)s member discount %(pct)s%%", {"tier": "Gold", "pct": "10"})

    got = api.get(f"/api/v1/sales/{sale_id}", user=manager, headers={"Accept-Language": reader})
    assert got.status_code == 200, got.json
    assert [(a["label"], a["label_text"]) for a in got.json["adjustments"]] == [(GOLD[writer], GOLD[reader])]
    client = login(admin_app, manager)
    page = client.get(f"/admin/sale/details/?id={sale_id}").get_data(as_text=True)
    assert GOLD[reader] in page and GOLD[writer] not in page
    receipt = client.get(f"/admin/till/receipt/{sale_id}").get_data(as_text=True)
    assert GOLD[reader] in receipt and GOLD[writer] not in receipt


def test_a_sale_made_before_reads_in_the_readers_language_after_the_migration(session, make, member, tiers):
    mig = load_migration("core", "*_kernel_adjustment_label_msgids.py")
    sale = make.sale(products=[make.product(price="10.00")])
    conn = session.connection()
    conn.execute(insert(SaleAdjustment), [{"sale_id": sale.id, "amount": -1, "rule_code": "membership.tier.gold",
                                           "label": label} for label in (GOLD["en"], GOLD["zh_Hans"])])
    assert mig.labels_to_msgids(conn) == 2
    session.expire_all()
    rows = session.scalars(select(SaleAdjustment).where(SaleAdjustment.sale_id == sale.id)
                           .order_by(SaleAdjustment.id)).all()
    for lang in ("en", "zh_Hans"):
        with force_locale(lang):
            assert [a.label_text for a in rows] == [GOLD[lang]] * 2
