"""What the addon notes on a points entry is a code with its figures (``note_code``,
``note_args``; ``ENTRY_NOTE``): points paid back by a refund, points a refund could not take
back because they were spent, an opening balance. Each reader sees it in their language
(API history ``note_label``, the ledger list and export, the member points page); ``note``
keeps a person's words. The English notes stored before are read back by the migration."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.i18n import force_locale
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.services.refund import refund

from addons.loyalty import services
from addons.loyalty.models import ENTRY_KIND, ENTRY_NOTE, LoyaltyEntry
from core.testing.migrations import load_migration

pytestmark = pytest.mark.addons("loyalty")


def _sale(session, store, customer, items, payments=None):
    return checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(q)) for p, q in items],
                                             payments=payments or [PaymentRequest("cash")], customer_id=customer.id))


def _in(lang, entry) -> str:
    with force_locale(lang):
        return entry.note_text


def _paid_with_points_then_refunded(session, make, member):
    store, p, cheap = make.store(), make.product(price="100.00"), make.product(price="10.00")
    c = member()
    _sale(session, store, c, [(p, 2)])
    sale = _sale(session, store, c, [(cheap, 1)], payments=[PaymentRequest("points", Decimal("1.50")),
                                                            PaymentRequest("cash")])
    with force_locale("zh_Hans"):  # the writer's language does not matter
        doc = refund(session, sale.id)
    back = session.scalars(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == c.id,
                                                      LoyaltyEntry.note_code == "refund")).one()
    return c, doc, back


def test_points_paid_back_by_a_refund_note_the_refund(session, make, member, base_rule):
    _c, doc, back = _paid_with_points_then_refunded(session, make, member)
    assert (back.note, back.note_args) == (None, {"refund": doc.number})
    assert _in("en", back) == f"Paid back by refund {doc.number}"


def test_points_already_spent_are_a_code_with_the_points(session, make, member, base_rule):
    store, p = make.store(), make.product(price="10.00")
    c, other = member(), member()
    sale = _sale(session, store, c, [(p, 3)])
    services.transfer(session, c.id, other.id, 25, note="gift to my mother")
    refund(session, sale.id)
    short = session.scalars(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == c.id,
                                                       LoyaltyEntry.note_code.is_not(None))).one()
    assert (short.points, short.note, short.note_code, short.note_args) == (-5, None, "already_spent", {"points": 25})
    assert _in("en", short) == "25 points already spent: not taken back"
    gift = session.scalars(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == other.id)).one()
    assert (gift.note, gift.note_code, _in("en", gift)) == ("gift to my mother", None, "gift to my mother")


def test_an_opening_balance_reads_in_each_language(session, make, member):
    c = member()
    entry = services.adjust(session, c.id, 10, "x")
    entry.note, entry.note_code = None, "opening_balance"
    assert _in("en", entry) == "Opening balance" and _in("zh_Hans", entry) == "期初余额"
    assert set(ENTRY_NOTE.codes) == {"refund", "already_spent", "opening_balance", "owed_repaid"}


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_api_history_and_back_office_show_the_note(api, admin_app, session, make, member, base_rule, lang):
    c, doc, back = _paid_with_points_then_refunded(session, make, member)
    user = make.user(roles=("hq_admin",), locale=lang)
    with force_locale(lang):
        want = back.note_text
        kind = str(ENTRY_KIND.label(back.kind))
    r = api.get(f"/api/v1/loyalty/customers/{c.id}/history", user=user, headers={"Accept-Language": lang})
    assert r.status_code == 200, r.json
    row = next(e for e in r.json if e["id"] == back.id)
    assert (row["note"], row["note_code"], row["note_args"], row["note_label"]) == (
        None, "refund", {"refund": doc.number}, want)
    assert (row["kind"], row["kind_label"]) == (back.kind, kind)
    session.commit()
    client = login(admin_app, user)
    csv = client.get("/admin/loyalty_ledger/export/csv/").get_data(as_text=True)
    assert want in csv
    page = client.get(f"/admin/loyalty_member_points/?customer_id={c.id}").get_data(as_text=True)
    assert want in page


def _migration():
    return load_migration("loyalty", "*_loyalty_coded_notes.py")


def test_the_migration_reads_old_english_notes_back_into_codes(session, make, member, base_rule):
    mig = _migration()
    c, doc, _back = _paid_with_points_then_refunded(session, make, member)
    rows = [("reverse:1", f"refund {doc.id}"), ("line:1", "25 points already spent"),
            ("opening_balance", "opening balance"), ("opening_balance", "from POS 1"), ("manual", "refund later")]
    session.execute(insert(LoyaltyEntry), [{"customer_id": c.id, "kind": "adjust", "points": 1, "source": src,
                                            "note": note, "idempotency_key": f"mig-{n}"}
                                           for n, (src, note) in enumerate(rows)])
    session.flush()
    conn = session.connection()
    assert mig.notes_to_codes(conn) == 4
    session.expire_all()
    got = [(e.note_code, e.note_args, e.note) for e in session.scalars(
        select(LoyaltyEntry).where(LoyaltyEntry.idempotency_key.like("mig-%")).order_by(LoyaltyEntry.id))]
    assert got == [("refund", {"refund": doc.number}, None), ("already_spent", {"points": 25}, None),
                   ("opening_balance", None, None), ("opening_balance", None, "from POS 1"),
                   (None, None, "refund later")]
    assert mig.notes_to_codes(conn) == 0
    mig.codes_to_notes(conn)
    session.expire_all()
    back = [e.note for e in session.scalars(
        select(LoyaltyEntry).where(LoyaltyEntry.idempotency_key.like("mig-%")).order_by(LoyaltyEntry.id))]
    assert back == [f"refund {doc.number}", "25 points already spent", "opening balance", "from POS 1",
                    "refund later"]


# --- where an entry comes from (``source``: a key, read as a label) -------------------------------

def test_a_source_reads_as_a_label_and_stays_a_key():
    from addons.loyalty.models import ENTRY_SOURCE, source_text

    with force_locale("en"):
        assert [source_text(s) for s in ("reverse:12", "line:34", "sale:5", "transfer-to:7", "transfer-from:8",
                                         "reward:MUG", "lot:9", "opening_balance", "campaign:x", None)] == [
            "Reversal of entry 12", "Sale line 34", "Sale 5", "Transfer to customer 7", "Transfer from customer 8",
            "Reward MUG", "Expiry of points lot 9", "Opening balance", "campaign:x", ""]
    with force_locale("zh_Hans"):
        assert source_text("reverse:12") == ENTRY_SOURCE.text("reverse", {"ref": "12"}) != "reverse:12"
        assert source_text("opening_balance") == "期初余额"


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_api_back_office_and_member_page_show_the_source_label(api, admin_app, session, make, member, base_rule,
                                                                   lang):
    c, _doc, back = _paid_with_points_then_refunded(session, make, member)
    assert back.source.startswith("reverse:")  # the key the ledger queries by is unchanged
    user = make.user(roles=("hq_admin",), locale=lang)
    with force_locale(lang):
        want = back.source_text
    if lang == "en":
        assert want == f"Reversal of entry {back.source[8:]}"
    r = api.get(f"/api/v1/loyalty/customers/{c.id}/history", user=user, headers={"Accept-Language": lang})
    row = next(e for e in r.json if e["id"] == back.id)
    assert (row["source"], row["source_label"]) == (back.source, want)
    session.commit()
    client = login(admin_app, user)
    for page in (client.get("/admin/loyalty_ledger/").get_data(as_text=True),
                 client.get("/admin/loyalty_ledger/export/csv/").get_data(as_text=True),
                 client.get(f"/admin/loyalty_member_points/?customer_id={c.id}").get_data(as_text=True)):
        assert want in page and back.source not in page
