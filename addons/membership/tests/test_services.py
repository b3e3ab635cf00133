from datetime import timedelta

import pytest
from sqlalchemy import func, select

from addons.membership import services as svc
from addons.membership.models import Card, CardEvent, ClearingEntry, Member, StoredValueEntry, TierChange
from core.errors import BusinessError, Conflict, Forbidden, NotFound
from core.mixins import utcnow
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout
from core.services.customers import merge_customers
from core.services.refund import RefundLineRequest, refund

from .conftest import D

pytestmark = pytest.mark.addons("membership")


# --- enrolment -------------------------------------------------------------------------------

def test_enrol_gives_entry_tier_and_active_card(session, make, tiers):
    store = make.store()
    c = make.customer()
    m = svc.enrol(session, c.id, store_id=store.id)
    assert svc.get_member(session, c.id) is m
    assert svc.tier_of(session, c.id).code == "normal"
    card = svc.usable_card(session, c.id)
    assert card.status == "active" and card.kind == "virtual" and len(card.number) == 16
    assert svc._luhn_digit(card.number[:-1]) == card.number[-1]
    assert [e.action for e in svc.card_history(session, card)] == ["issue", "activate"]
    assert svc.stored_value_balance(session, c.id) == D("0.00")
    with pytest.raises(Conflict):
        svc.enrol(session, c.id)
    assert svc.get_member(session, make.customer().id) is None
    assert svc.tier_of(session, make.customer().id) is None


def test_enrol_scanned_card_number_must_be_unique(session, make, member, tiers):
    other = make.customer()
    with pytest.raises(Conflict) as exc:
        svc.enrol(session, other.id, card_number="CARD-0001")
    assert "card_number" in exc.value.errors
    with pytest.raises(BusinessError):
        svc.enrol(session, other.id, card_number="x")


def test_blacklisted_customer_cannot_enrol_or_buy(session, make, tiers):
    store = make.store()
    c = make.customer()
    svc.add_to_list(session, c.id, "black", "chargeback fraud")
    with pytest.raises(BusinessError) as exc:
        svc.enrol(session, c.id)
    assert "chargeback fraud" in str(exc.value)
    with pytest.raises(BusinessError) as exc:
        make.sale(store=store, customer=c)
    assert "customer_id" in exc.value.errors and "blacklisted" in exc.value.errors["customer_id"][0]
    svc.lift_list_entry(session, c.id, "settled")
    assert svc.list_status(session, c.id) is None
    assert make.sale(store=store, customer=c).state == "confirmed"
    svc.add_to_list(session, c.id, "white", "VIP")
    assert svc.list_status(session, c.id) == "white"
    with pytest.raises(BusinessError):
        svc.add_to_list(session, c.id, "black", " ")


def test_lookup_by_card_or_phone(session, member):
    assert svc.lookup(session, card_number="CARD-0001").customer_id == member.id
    assert svc.lookup(session, phone="138 0013 8000").customer_id == member.id
    with pytest.raises(NotFound):
        svc.lookup(session, card_number="NOPE-0000")


# --- cards -----------------------------------------------------------------------------------

def test_lost_card_is_blocked_at_once(session, make, member):
    store = make.store()
    svc.topup(session, member.id, "100", store.id)
    svc.report_lost(session, "CARD-0001")
    with pytest.raises(BusinessError):
        svc.lookup(session, card_number="CARD-0001")
    with pytest.raises(BusinessError):
        svc.spend(session, member.id, "10", store.id, card_number="CARD-0001")
    with pytest.raises(BusinessError):  # no other active card
        svc.spend(session, member.id, "10", store.id)
    with pytest.raises(BusinessError):
        svc.activate_card(session, "CARD-0001")
    p = make.product(price="10")
    with pytest.raises(BusinessError):
        checkout(session, CheckoutRequest(store.id, [LineRequest(p.id, D(1))], customer_id=member.id,
                                          payments=[PaymentRequest("stored_value", reference="CARD-0001")]))


def test_replace_moves_balance_and_history(session, make, member):
    store = make.store()
    svc.topup(session, member.id, "100", store.id)
    old = svc.find_card(session, "CARD-0001")
    svc.report_lost(session, old)
    new = svc.replace_card(session, old, new_number="CARD-0002")
    assert old.status == "replaced" and old.replaced_by_id == new.id and new.status == "active"
    per_card = dict(session.execute(select(StoredValueEntry.card_id, func.sum(StoredValueEntry.amount))
                                    .where(StoredValueEntry.member_id == member.id).group_by(StoredValueEntry.card_id)).all())
    assert per_card[old.id] == D("0.00") and per_card[new.id] == D("100.00")
    assert svc.stored_value_balance(session, member.id) == D("100.00")
    actions = [e.action for e in svc.card_history(session, new)]
    assert actions == ["issue", "activate", "report_lost", "issue", "activate", "replace", "carry_over"]
    svc.spend(session, member.id, "30", store.id, card_number="CARD-0002")
    assert svc.stored_value_balance(session, member.id) == D("70.00")


def test_cancel_policy_refund_pays_out_paid_and_forfeits_bonus(session, make, member):
    store = make.store()
    svc.save_topup_rule(session, "1000 gets 100", "1000", "100")
    svc.topup(session, member.id, "1000", store.id)
    svc.cancel_card(session, "CARD-0001", reason="moving abroad", policy="refund")
    kinds = dict(session.execute(select(StoredValueEntry.kind, func.sum(StoredValueEntry.amount))
                                 .where(StoredValueEntry.member_id == member.id)
                                 .group_by(StoredValueEntry.kind)).all())
    assert kinds["refund"] == D("-1000.00") and kinds["forfeit"] == D("-100.00")
    assert svc.stored_value_balance(session, member.id) == 0
    assert svc.liability(session, [store.id])["breakage"] == D("100.00")
    with pytest.raises(BusinessError):
        svc.cancel_card(session, "CARD-0001", reason="again")


def test_cancel_policy_forfeit_and_other_card_keeps_value(session, make, member):
    store = make.store()
    svc.topup(session, member.id, "80", store.id)
    second = svc.issue_card(session, member.id, number="CARD-0009", activate=True)
    svc.cancel_card(session, "CARD-0001", reason="duplicate", policy="forfeit")
    assert svc.stored_value_balance(session, member.id) == D("80.00")  # another usable card
    svc.cancel_card(session, second, reason="closing", policy="forfeit")
    assert svc.stored_value_balance(session, member.id) == 0
    assert svc.liability(session, [store.id])["breakage"] == D("80.00")
    with pytest.raises(BusinessError):
        svc.cancel_card(session, "CARD-0009", reason="")


def test_card_events_record_who(session, make, member):
    user = make.user()
    svc.report_lost(session, "CARD-0001", user=user)
    ev = session.execute(select(CardEvent).where(CardEvent.action == "report_lost",
                                                 CardEvent.member_id == member.id)).scalar()
    assert ev.user_id == user.id and ev.from_status == "active" and ev.to_status == "lost"


# --- tiers -----------------------------------------------------------------------------------

def test_upgrade_as_soon_as_a_sale_crosses_the_threshold(session, make, member, tiers):
    store = make.store()
    p = make.product(price="600")
    make.sale(store=store, products=[p], customer=member)
    assert svc.tier_of(session, member.id).code == "normal"
    make.sale(store=store, products=[p], customer=member)   # 1200 >= 1000
    assert svc.tier_of(session, member.id).code == "silver"
    change = session.execute(select(TierChange).where(TierChange.reason == "upgrade",
                                                      TierChange.member_id == member.id)).scalar()
    assert change.sale_id is not None
    big = make.product(price="4000")
    make.sale(store=store, products=[big], customer=member)
    info = svc.tier_of(session, member.id)
    assert (info.code, info.discount_rate, info.points_multiplier) == ("gold", D("0.10"), D("1.5"))


def test_upgrade_in_the_sale_counts_each_tier_window_and_the_sale_itself(session, make, member, tiers):
    """Gold looks back 30 days, silver a year: old spend counts for silver only. The sale's
    ledger row and the window sums come back from one statement (a data-modifying CTE on
    PostgreSQL, INSERT ... RETURNING with subqueries on SQLite)."""
    svc.save_tier(session, "silver", "Silver", 10, min_spend="1000", discount_rate="0")
    svc.save_tier(session, "gold", "Gold", 20, min_spend="5000", window_days=30, discount_rate="0.10",
                  points_multiplier="1.5")
    store, p = make.store(), make.product(price="1000")
    now = utcnow()
    for days in (200, 100, 60, 40):  # 4000 spent, all of it outside gold's 30 days
        make.sale(store=store, products=[p], customer=member, at=now - timedelta(days=days))
    assert svc.tier_of(session, member.id).code == "silver"
    make.sale(store=store, products=[p, p, p, p], customer=member, at=now - timedelta(days=1))  # 4000 in 30 days
    assert svc.tier_of(session, member.id).code == "silver"
    make.sale(store=store, products=[p], customer=member, at=now)  # this sale makes 5000 in 30 days
    assert svc.tier_of(session, member.id).code == "gold"
    assert svc.window_stats(session, member.id, 30, now) == (D("5000.00"), 2)


def test_visits_threshold(session, make, member):
    store, p = make.store(), make.product(price="1")
    for _ in range(5):
        make.sale(store=store, products=[p], customer=member)
    assert svc.tier_of(session, member.id).code == "silver"


def test_progress_to_next_tier(session, make, member):
    store, p = make.store(), make.product(price="850")
    make.sale(store=store, products=[p], customer=member)
    prog = svc.progress_to_next_tier(session, member.id)
    assert prog["current"].code == "normal" and prog["next"].code == "silver"
    assert prog["spend"] == D("850.00") and prog["spend_needed"] == D("150.00") and prog["visits_needed"] == 4
    assert prog["ratio"] == D("0.85") and prog["close"] is True
    assert svc.progress_to_next_tier(session, make.customer().id) is None


def test_downgrade_job_with_grace(session, make, member, tiers):
    store, p = make.store(), make.product(price="1200")
    make.sale(store=store, products=[p], customer=member)
    assert svc.tier_of(session, member.id).code == "silver"
    m = svc.get_member(session, member.id)
    later = utcnow() + timedelta(days=400)          # the sale left the 365-day window
    assert svc.run_tier_downgrades(session, later)["grace_started"] == 1
    assert svc.tier_of(session, member.id).code == "silver"   # grace period
    assert m.downgrade_pending_since == later
    assert svc.run_tier_downgrades(session, later + timedelta(days=10))["downgraded"] == 0
    res = svc.run_tier_downgrades(session, later + timedelta(days=30))
    assert res["downgraded"] == 1 and svc.tier_of(session, member.id).code == "normal"
    assert session.execute(select(TierChange.reason).where(TierChange.member_id == member.id)
                           .order_by(TierChange.id.desc())).scalars().first() == "downgrade"


def test_downgrade_grace_cleared_when_member_qualifies_again(session, make, member, tiers):
    from addons.membership.jobs import tier_downgrade

    store, p = make.store(), make.product(price="1200")
    make.sale(store=store, products=[p], customer=member)
    m = svc.get_member(session, member.id)
    m.downgrade_pending_since = utcnow() - timedelta(days=5)
    assert tier_downgrade(session)["grace_cleared"] == 1
    assert m.downgrade_pending_since is None and svc.tier_of(session, member.id).code == "silver"


def test_manual_override_with_reason_is_locked(session, make, member, tiers):
    with pytest.raises(BusinessError):
        svc.set_tier(session, member.id, "gold", reason="")
    svc.set_tier(session, member.id, "gold", reason="key account", user=make.user())
    assert svc.tier_of(session, member.id).code == "gold"
    assert svc.run_tier_downgrades(session, utcnow() + timedelta(days=900))["checked"] == 0
    assert svc.tier_of(session, member.id).code == "gold"
    svc.unlock_tier(session, member.id)
    assert svc.get_member(session, member.id).tier_locked is False


def test_family_child_spending_counts_toward_parent(session, make, member, tiers):
    store, p = make.store(), make.product(price="1000")
    child = make.customer()
    svc.enrol(session, child.id, parent_customer_id=member.id)
    make.sale(store=store, products=[p], customer=child)
    assert svc.tier_of(session, member.id).code == "silver"
    assert svc.tier_of(session, child.id).code == "silver"     # enjoys the parent's tier
    assert svc.tier_spend_total(session, member.id) == D("1000.00")
    with pytest.raises(BusinessError):
        svc.set_parent(session, member.id, child.id)


def test_refund_reverses_tier_ledger_and_upgrade(session, make, member, tiers):
    store, p = make.store(), make.product(price="1200")
    sale = make.sale(store=store, products=[p], customer=member, qty="2")
    assert svc.tier_of(session, member.id).code == "silver"
    refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, D(1))])
    assert svc.tier_spend_total(session, member.id) == D("1200.00")   # normal tier: no discount yet
    assert svc.tier_of(session, member.id).code == "silver"           # still qualifies
    refund(session, sale.id)
    assert svc.tier_spend_total(session, member.id) == 0
    assert svc.window_stats(session, member.id, 365) == (D("0.00"), 0)
    assert svc.tier_of(session, member.id).code == "normal"


# --- stored value ------------------------------------------------------------------------------

def test_topup_bonus_rules(session, make, member):
    store = make.store()
    svc.save_topup_rule(session, "500 gets 30", "500", "30")
    svc.save_topup_rule(session, "1000 gets 100", "1000", "100")
    entries = svc.topup(session, member.id, "1000", store.id)
    assert [(e.kind, e.amount, e.bonus_amount) for e in entries] == [("topup", D("1000.00"), D("0.00")),
                                                                     ("bonus", D("100.00"), D("100.00"))]
    svc.topup(session, member.id, "999.99", store.id)
    svc.topup(session, member.id, "100", store.id)
    assert svc.stored_value_detail(session, member.id) == {"paid": D("2099.99"), "bonus": D("130.00"),
                                                           "total": D("2229.99")}
    with pytest.raises(BusinessError):
        svc.topup(session, member.id, "-5", store.id)
    with pytest.raises(BusinessError):
        svc.topup(session, member.id, "1.234", store.id)


def test_spend_paid_first_then_bonus_and_never_negative(session, make, member):
    store = make.store()
    svc.save_topup_rule(session, "1000 gets 100", "1000", "100")
    svc.topup(session, member.id, "1000", store.id)
    svc.spend(session, member.id, "1050", store.id)
    assert svc.stored_value_detail(session, member.id) == {"paid": D("0.00"), "bonus": D("50.00"),
                                                           "total": D("50.00")}
    with pytest.raises(BusinessError) as exc:
        svc.spend(session, member.id, "50.01", store.id)
    assert "50.00" in str(exc.value)
    assert svc.stored_value_balance(session, member.id) == D("50.00")


def test_adjust_needs_reason_and_second_person_when_large(session, make, member):
    store = make.store()
    clerk, boss = make.user(), make.user()
    with pytest.raises(BusinessError):
        svc.adjust(session, member.id, "10", reason="")
    svc.adjust(session, member.id, "10", reason="goodwill", user=clerk, store_id=store.id)
    with pytest.raises(Forbidden):
        svc.adjust(session, member.id, "600", reason="migration", user=clerk)
    with pytest.raises(Forbidden):
        svc.adjust(session, member.id, "600", reason="migration", user=clerk, approved_by=clerk)
    svc.adjust(session, member.id, "600", reason="migration", user=clerk, approved_by=boss)
    with pytest.raises(BusinessError):
        svc.adjust(session, member.id, "-700", reason="too much", user=clerk, approved_by=boss)
    svc.adjust(session, member.id, "-10", reason="fix", user=clerk)
    assert svc.stored_value_balance(session, member.id) == D("600.00")


def test_clearing_entry_across_operating_companies(session, make, member):
    franchise_a = make.store(kind="franchise")
    franchise_b = make.store(kind="franchise")
    svc.topup(session, member.id, "100", franchise_a.id)
    p = make.product(price="40")
    sale = make.sale(store=franchise_b, products=[p], customer=member,
                     payments=[PaymentRequest("stored_value")])
    clearing = session.execute(select(ClearingEntry).where(ClearingEntry.member_id == member.id)).scalars().all()
    assert len(clearing) == 1
    c = clearing[0]
    assert (c.from_company_id, c.to_company_id, c.amount, c.sale_id) == (
        franchise_a.operating_company_id, franchise_b.operating_company_id, D("40.00"), sale.id)
    # spending where it was sold produces none
    make.sale(store=franchise_a, products=[p], customer=member, payments=[PaymentRequest("stored_value")])
    assert session.scalar(select(func.count()).select_from(ClearingEntry)
                          .where(ClearingEntry.member_id == member.id)) == 1
    liab = svc.liability(session, [franchise_a.id, franchise_b.id])
    assert liab["total"] == D("20.00")
    assert {r["company_id"]: r["total"] for r in liab["by_company"]} == {franchise_a.operating_company_id: D("20.00")}
    refund(session, sale.id)
    assert svc.clearing_balance(session, franchise_a.operating_company_id, franchise_b.operating_company_id) == 0


def test_spend_prefers_value_of_own_company(session, make, member):
    a, b = make.store(kind="franchise"), make.store(kind="franchise")
    svc.topup(session, member.id, "50", a.id)
    svc.topup(session, member.id, "50", b.id)
    svc.spend(session, member.id, "60", b.id)
    c = session.execute(select(ClearingEntry).where(ClearingEntry.member_id == member.id)).scalar()
    assert (c.from_company_id, c.to_company_id, c.amount) == (a.operating_company_id, b.operating_company_id, D("10.00"))


def test_merge_moves_cards_and_ledgers(session, make, member, tiers):
    store = make.store()
    other = make.customer()
    svc.enrol(session, other.id, card_number="CARD-0777")
    svc.topup(session, member.id, "30", store.id)
    svc.topup(session, other.id, "20", store.id)
    svc.set_tier(session, other.id, "gold", reason="vip", lock=False)
    merge_customers(session, member.id, other.id)
    assert svc.get_member(session, other.id) is None
    assert svc.stored_value_balance(session, member.id) == D("50.00")
    assert svc.tier_of(session, member.id).code == "gold"
    numbers = {c.number for c in session.execute(select(Card).where(Card.member_id == member.id)).scalars()}
    assert numbers == {"CARD-0001", "CARD-0777"}
    assert svc.lookup(session, card_number="CARD-0777").customer_id == member.id


def test_merge_into_non_member_keeps_the_membership(session, make, member):
    store = make.store()
    svc.topup(session, member.id, "30", store.id)
    kept = make.customer()
    merge_customers(session, kept.id, member.id)
    assert svc.get_member(session, member.id) is None
    assert svc.get_member(session, kept.id) is not None
    assert svc.stored_value_balance(session, kept.id) == D("30.00")
    assert session.scalar(select(func.count()).select_from(Member)
                          .where(Member.customer_id.in_([kept.id, member.id]))) == 1


def test_auto_enrol_policy(session, make, tiers):
    store, c = make.store(), make.customer()
    make.sale(store=store, customer=c)
    assert svc.get_member(session, c.id) is None
    svc.set_policy(session, auto_enrol=True)
    make.sale(store=store, customer=c)
    m = svc.get_member(session, c.id)
    assert m is not None and m.channel == "checkout" and svc.tier_spend_total(session, c.id) == D("10.00")
    with pytest.raises(BusinessError):
        svc.set_policy(session, cancel_policy="keep")


def test_invariants_hold(session, make, member):
    store = make.store()
    svc.topup(session, member.id, "100", store.id)
    svc.spend(session, member.id, "40", store.id)
    assert svc.invariant_breaches(session) == []
    session.add(StoredValueEntry(member_id=member.id, kind="spend", amount=D("-500"), bonus_amount=D(0),
                                 issuer_store_id=store.id))
    session.flush()
    assert [b[0] for b in svc.invariant_breaches(session)] == ["membership.stored_value_not_negative"]


def test_demo_data(rt, session, make):
    import random

    from core.contrib import DemoContext
    from core.models import PriceList

    demo = DemoContext(rng=random.Random(3), months=2)
    demo.stores = [make.store() for _ in range(2)]
    demo.customers = [make.customer(home_store_id=demo.stores[i % 2].id) for i in range(20)]
    demo.products = [make.product(price=f"{10 + i}.00") for i in range(10)]
    rt.hook.load_demo_data(session=session, demo=demo)
    members = [c for c in demo.customers if svc.get_member(session, c.id) is not None]
    assert 6 <= len(members) <= 18
    assert [t.code for t in svc.tiers(session)] == ["normal", "silver", "gold", "diamond"]
    assert all(svc.usable_card(session, c.id) is not None for c in members)
    assert session.execute(select(PriceList).where(PriceList.kind == "member")).scalar() is not None
    assert svc.liability(session, [s.id for s in demo.stores])["total"] > 0


def test_hooks_summary_widgets_jobs(rt, session, make, member):
    store = make.store()
    svc.topup(session, member.id, "25", store.id)
    panels = [p for group in rt.hook.customer_summary(session=session, customer=member, user=None) for p in group]
    mine = next(p for p in panels if p.addon == "membership")
    values = {str(k): str(v) for k, v in mine.fields}
    assert values["Tier"] == "Normal" and values["Stored value"] == "25.00" and "CARD-0001" in values["Card"]
    widgets = {w.key: w for group in rt.hook.dashboard_widgets(session=session, user=None, store_ids=[store.id])
               for w in group}
    assert widgets["membership.liability"].data["value"] == "25.00"
    home = {w.key: w for group in rt.hook.dashboard_widgets(session=session, user=None,
                                                            store_ids=[member.home_store_id]) for w in group}
    assert home["membership.members_by_tier"].data == {"labels": ["Normal"], "values": [1]}
    assert sum(home["membership.new_members"].data["values"]) == 1
    jobs = [j for group in rt.hook.register_jobs() for j in group]
    assert any(j.name == "membership.tier_downgrade" and j.schedule for j in jobs)
    assert any(a.name == "membership.stored_value.adjust" for g in rt.hook.register_sensitive_actions() for a in g)


def test_record_rules_scope_members_by_home_store(rt, session, make, member):

    other_store = make.store()
    outsider = make.customer(home_store_id=other_store.id)
    svc.enrol(session, outsider.id)
    user = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=member.home_store_id)
    outsider_card = svc.usable_card(session, outsider.id).number
    session.commit()
    scoped = rt.session(user=user, scoped=True)
    try:
        ids = scoped.execute(select(Member.customer_id)).scalars().all()
        assert member.id in ids and outsider.id not in ids
        cards = scoped.execute(select(Card.number)).scalars().all()
        assert "CARD-0001" in cards and outsider_card not in cards
        # business rules stay chain-wide: the outsider's tier is still known at any till
        assert svc.get_member(scoped, outsider.id) is not None
    finally:
        scoped.close()


def test_downgrade_job_runs_through_the_job_runner(rt, session, make, member, tiers):
    from core.jobs import run_job_now

    svc.set_tier(session, member.id, "silver", reason="trial", lock=False)
    session.commit()
    result = run_job_now(rt, "membership.tier_downgrade")
    assert result["grace_started"] >= 1
    session.expire_all()
    assert svc.get_member(session, member.id).downgrade_pending_since is not None


def test_merge_combines_spend_toward_the_tier(session, make, member, tiers):
    store, p = make.store(), make.product(price="600")
    other = make.customer()
    svc.enrol(session, other.id)
    make.sale(store=store, products=[p], customer=member)
    make.sale(store=store, products=[p], customer=other)
    assert svc.tier_of(session, member.id).code == "normal"
    merge_customers(session, member.id, other.id)
    assert svc.tier_spend_total(session, member.id) == D("1200.00")
    assert svc.tier_of(session, member.id).code == "silver"


def test_merge_keeps_one_list_entry_black_wins(session, make):
    a, b = make.customer(), make.customer()
    svc.add_to_list(session, a.id, "white", "vip")
    svc.add_to_list(session, b.id, "black", "fraud")
    merge_customers(session, a.id, b.id)
    assert svc.list_status(session, a.id) == "black"
    from addons.membership.models import ListEntry

    assert session.scalar(select(func.count()).select_from(ListEntry)
                          .where(ListEntry.customer_id == a.id, ListEntry.active.is_(True))) == 1
