"""What the addon notes on its history rows is a code with its figures (``note_code``,
``note_args``; ``TIER_NOTE``, ``CARD_NOTE``, ``SV_NOTE``), never a sentence in the writer's
language: a merge, a refund that takes back an upgrade, a card replaced or renewed, the
import. Each reader sees it in their own language (member page, ledger list and export, API
history with ``note_label``); ``note`` keeps only what a person typed. A list entry lifted by
a merge says so by a code (``LIFT_REASON``). Old sentences (English or Chinese) are read back
into codes by the migration."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.i18n import force_locale
from core.services.customers import merge_customers
from core.services.refund import refund
from core.testing.migrations import load_migration

from addons.membership import services as svc
from addons.membership.models import (CARD_NOTE, LIFT_REASON, CardEvent, ListEntry, StoredValueEntry,
                                      TierChange)

pytestmark = pytest.mark.addons("membership")


def _in(lang, row) -> str:
    with force_locale(lang):
        return row.note_text


def test_a_merge_notes_codes_not_english(session, make, member, tiers):
    other = make.customer()
    svc.enrol(session, other.id, card_number="CARD-0777")
    svc.set_tier(session, other.id, "gold", reason="vip", lock=False)
    svc.add_to_list(session, member.id, "white", "vip")
    svc.add_to_list(session, other.id, "black", "fraud")
    with force_locale("zh_Hans"):  # the writer's language does not matter
        merge_customers(session, member.id, other.id)
    change = session.scalars(select(TierChange).where(TierChange.member_id == member.id,
                                                      TierChange.reason == "merge")).one()
    assert (change.note, change.note_code, change.note_args) == (None, "merged_from", {"customer": other.id})
    assert _in("en", change) == f"Merged from customer {other.id}"
    events = session.scalars(select(CardEvent).where(CardEvent.member_id == member.id,
                                                     CardEvent.action == "merge")).all()
    assert events and {(e.note, e.note_code) for e in events} == {(None, "merged")}
    assert events[0].note_args == {"removed": other.id, "kept": member.id}
    assert _in("en", events[0]) == f"Customer {other.id} merged into customer {member.id}"
    lifted = session.scalars(select(ListEntry).where(ListEntry.customer_id == member.id,
                                                     ListEntry.active.is_(False))).one()
    assert lifted.lift_reason == "customer_merge"
    with force_locale("en"):
        assert str(LIFT_REASON.label(lifted.lift_reason)) == "Customer merge"
        assert str(LIFT_REASON.label("moved away")) == "moved away"  # a person's words as typed


def test_a_refund_that_takes_back_an_upgrade_notes_the_sale(session, make, member, tiers):
    store, p = make.store(), make.product(price="1200")
    sale = make.sale(store=store, products=[p], customer=member, qty="1")
    assert svc.tier_of(session, member.id).code == "silver"
    with force_locale("en"):
        refund(session, sale.id)
    change = session.scalars(select(TierChange).where(TierChange.member_id == member.id,
                                                      TierChange.reason == "refund")).one()
    assert (change.note, change.note_code, change.note_args) == (None, "refund", {"sale": sale.number})
    assert _in("en", change) == f"Refund of {sale.number}"
    assert _in("zh_Hans", change) == f"{sale.number} 退货"


def test_replace_and_renew_note_codes_each_reader_reads_their_language(session, make, member):
    store = make.store()
    svc.topup(session, member.id, "100", store.id)
    old = svc.find_card(session, "CARD-0001")
    svc.report_lost(session, old)
    with force_locale("zh_Hans"):
        new = svc.replace_card(session, old, new_number="CARD-0002")
    events = {e.action: e for e in svc.card_history(session, new) if e.action in ("replace", "carry_over")}
    assert (events["replace"].note_code, events["replace"].note_args) == ("replaced_by", {"n": "CARD-0002"})
    assert (events["carry_over"].note_code, events["carry_over"].note_args) == ("replaces", {"n": "CARD-0001"})
    assert _in("en", events["replace"]) == "Replaced by CARD-0002"
    assert _in("zh_Hans", events["replace"]) == "已由 CARD-0002 替换"
    moved = session.scalars(select(StoredValueEntry).where(StoredValueEntry.source == "card_replace",
                                                           StoredValueEntry.member_id == member.id)).all()
    assert moved and {(m.note, m.note_code) for m in moved} == {(None, "card_replaced")}
    assert _in("en", moved[0]) == "Card CARD-0001 replaced by CARD-0002"
    svc.renew_card(session, new, months=12, note="asked at the till")
    renew = session.scalars(select(CardEvent).where(CardEvent.card_id == new.id, CardEvent.action == "renew")).one()
    assert renew.note == "asked at the till" and renew.note_code in ("renewed", "renewed_no_expiry")
    assert _in("en", renew).startswith("Valid until ") and _in("en", renew).endswith("; asked at the till")
    if renew.note_code == "renewed":
        assert _in("zh_Hans", renew).startswith("有效期至 ")
    assert set(CARD_NOTE.codes) >= {"merged", "replaced_by", "replaces", "renewed", "renewed_no_expiry"}


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_api_history_answers_code_figures_and_label(api, session, make, member, lang):
    boss = make.user(roles=("hq_admin",), locale=lang)
    old = svc.find_card(session, "CARD-0001")
    svc.report_lost(session, old)
    svc.replace_card(session, old, new_number="CARD-0002")
    r = api.get(f"/api/v1/membership/members/{member.id}/history", user=boss, headers={"Accept-Language": lang})
    assert r.status_code == 200, r.json
    row = next(e for e in r.json["cards"] if e["action"] == "replace")
    assert (row["note"], row["note_code"], row["note_args"]) == (None, "replaced_by", {"n": "CARD-0002"})
    assert row["note_label"] == ("已由 CARD-0002 替换" if lang == "zh_Hans" else "Replaced by CARD-0002")
    enrol = r.json["tiers"][-1]
    assert enrol["reason"] == "enrol" and enrol["note_code"] is None and enrol["note_label"] == ""


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_back_office_shows_the_note_in_the_readers_language(admin_app, session, make, member, lang):
    user = make.user(roles=("hq_admin",), locale=lang)
    old = svc.find_card(session, "CARD-0001")
    svc.topup(session, member.id, "100", make.store().id)
    svc.report_lost(session, old)
    svc.replace_card(session, old, new_number="CARD-0002")
    session.commit()
    client = login(admin_app, user)
    replaced = "已由 CARD-0002 替换" if lang == "zh_Hans" else "Replaced by CARD-0002"
    page = client.get(f"/admin/membership_member_page/?customer_id={member.id}").get_data(as_text=True)
    assert replaced in page and "replaced_by" not in page
    with force_locale(lang):
        moved = _in(lang, session.scalars(select(StoredValueEntry).where(
            StoredValueEntry.source == "card_replace", StoredValueEntry.member_id == member.id)).first())
    csv = client.get("/admin/membership_ledger/export/csv/").get_data(as_text=True)
    assert moved in csv and "card_replaced" not in csv


def _migration():
    return load_migration("membership", "*_membership_coded_notes.py")


def test_the_migration_reads_old_sentences_back_into_codes(session, make, member, tiers):
    mig = _migration()
    card = svc.find_card(session, "CARD-0001")
    mid, cid = member.id, card.id
    changes = [("merge", "customer 12"), ("downgrade", "Grace period of 30 days ended"),
               ("downgrade", "30 天宽限期已结束"), ("refund", "S01-000123 退货"), ("manual", "customer 12"),
               ("refund", "something else")]
    session.execute(insert(TierChange), [{"member_id": mid, "reason": r, "note": n} for r, n in changes])
    events = [("merge", "customer 12 -> 7"), ("replace", "已由 CARD-9 替换"), ("carry_over", "Replaces CARD-8"),
              ("renew", "Valid until 2027-12-31 (was no expiry); asked at the till"),
              ("renew", "有效期至 2027-12-31(原为 2026-12-31)"), ("report_lost", "left on the bus")]
    session.execute(insert(CardEvent), [{"member_id": mid, "card_id": cid, "action": a, "note": n}
                                        for a, n in events])
    session.execute(insert(StoredValueEntry), [
        {"member_id": mid, "kind": "topup", "amount": Decimal("5"), "source": "opening_balance", "note": "import"},
        {"member_id": mid, "kind": "transfer", "amount": Decimal("5"), "source": "card_replace",
         "note": "CARD-8 -> CARD-9"}])
    other = make.customer()
    session.add(ListEntry(customer_id=other.id, kind="black", reason="x", active=False, lift_reason="customer merge"))
    session.flush()
    conn = session.connection()
    assert mig.notes_to_codes(conn) == 12
    session.expire_all()
    got_changes = [(c.note_code, c.note_args, c.note) for c in session.scalars(
        select(TierChange).where(TierChange.member_id == mid, TierChange.reason != "enrol").order_by(TierChange.id))]
    assert got_changes == [("merged_from", {"customer": 12}, None), ("grace_ended", {"days": 30}, None),
                           ("grace_ended", {"days": 30}, None), ("refund", {"sale": "S01-000123"}, None),
                           (None, None, "customer 12"), (None, None, "something else")]
    got_events = [(e.note_code, e.note_args, e.note) for e in session.scalars(
        select(CardEvent).where(CardEvent.card_id == cid, CardEvent.note_code.is_not(None) | CardEvent.note.is_not(None))
        .order_by(CardEvent.id))]
    assert got_events == [("merged", {"removed": 12, "kept": 7}, None), ("replaced_by", {"n": "CARD-9"}, None),
                          ("replaces", {"n": "CARD-8"}, None),
                          ("renewed_no_expiry", {"until": "2027-12-31"}, "asked at the till"),
                          ("renewed", {"until": "2027-12-31", "before": "2026-12-31"}, None),
                          (None, None, "left on the bus")]
    got_sv = [(e.note_code, e.note_args, e.note) for e in session.scalars(
        select(StoredValueEntry).where(StoredValueEntry.member_id == mid).order_by(StoredValueEntry.id))]
    assert got_sv == [("import", None, None), ("card_replaced", {"old": "CARD-8", "new": "CARD-9"}, None)]
    assert session.scalars(select(ListEntry.lift_reason).where(ListEntry.customer_id == other.id)).one() == \
        "customer_merge"
    assert mig.notes_to_codes(conn) == 0
    mig.codes_to_notes(conn)
    session.expire_all()
    back = [c.note for c in session.scalars(select(TierChange).where(TierChange.member_id == mid,
                                                                     TierChange.reason != "enrol")
                                            .order_by(TierChange.id))]
    assert back[:2] == ["customer 12", "Grace period of 30 days ended"] and back[3] == "Refund of S01-000123"
