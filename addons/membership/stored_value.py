"""Stored value: per-issuer buckets of paid and bonus value, balance, top-up rules, top-up,
spend, refund of a spend, manual adjustment (four-eyes above the policy threshold) and history.

Spend consumes paid value first, then bonus value; the spending store's own operating
company's buckets go first. Value of another operating company spent here produces a
clearing entry for its full face value (bonus included: the issuer granted the bonus).
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select

from core.db import ZERO, money
from core.errors import BusinessError, Forbidden, NotFound
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Store

from addons.membership._common import _amount, _reason, _uid, _x
from addons.membership.members import (USABLE, _lock_member, _refuse_blacklisted, find_card, get_policy,
                                       require_member, usable_card)
from addons.membership.models import Card, ClearingEntry, Member, StoredValueEntry, TopupRule


def _buckets(session, member_id: int) -> list[dict]:
    rows = _x(session, select(StoredValueEntry.issuer_store_id, StoredValueEntry.issuer_company_id,
                              func.sum(StoredValueEntry.amount), func.sum(StoredValueEntry.bonus_amount))
              .where(StoredValueEntry.member_id == member_id)
              .group_by(StoredValueEntry.issuer_store_id, StoredValueEntry.issuer_company_id)).all()
    out = []
    for store_id, company_id, amount, bonus in rows:
        amount, bonus = money(amount or 0), money(bonus or 0)
        if amount == 0 and bonus == 0:
            continue
        out.append({"issuer_store_id": store_id, "issuer_company_id": company_id,
                    "paid": amount - bonus, "bonus": bonus, "total": amount})
    return out


def stored_value_balance(session, customer_id: int) -> Decimal:
    """The member's stored-value balance (paid + bonus); ``0.00`` for a non-member."""
    total = _x(session, select(func.coalesce(func.sum(StoredValueEntry.amount), 0))
               .where(StoredValueEntry.member_id == customer_id)).scalar()
    return money(total or 0)


def stored_value_detail(session, customer_id: int) -> dict:
    """{"paid": Decimal, "bonus": Decimal, "total": Decimal}."""
    total, bonus = _x(session, select(func.coalesce(func.sum(StoredValueEntry.amount), 0),
                                      func.coalesce(func.sum(StoredValueEntry.bonus_amount), 0))
                      .where(StoredValueEntry.member_id == customer_id)).one()
    total, bonus = money(total), money(bonus)
    return {"paid": total - bonus, "bonus": bonus, "total": total}


def topup_bonus(session, amount: Decimal, at: datetime | None = None) -> tuple[Decimal, TopupRule | None]:
    """The bonus the best active rule gives for topping up ``amount`` (largest threshold met)."""
    at = at or utcnow()
    rule = _x(session, select(TopupRule).where(
        TopupRule.active.is_(True), TopupRule.min_amount <= amount,
        or_(TopupRule.valid_from.is_(None), TopupRule.valid_from <= at),
        or_(TopupRule.valid_to.is_(None), TopupRule.valid_to > at))
        .order_by(TopupRule.min_amount.desc(), TopupRule.bonus.desc()).limit(1)).scalar()
    return (money(rule.bonus), rule) if rule is not None else (ZERO, None)


def save_topup_rule(session, name: str, min_amount, bonus, valid_from=None, valid_to=None,
                    active: bool = True, rule_id: int | None = None) -> TopupRule:
    """Create (or, with ``rule_id``, change) a top-up rule: topping up at least ``min_amount``
    (money) gives ``bonus`` (money, bonus value) while ``[valid_from, valid_to)`` holds.
    BusinessError ``{"name"}`` when empty, ``{"min_amount"}``/``{"bonus"}`` for a bad amount,
    ``{"valid_to"}`` when not after ``valid_from``."""
    if not (name or "").strip():
        raise BusinessError({"name": _l("A name is required.")})
    min_amount = _amount(min_amount, "min_amount")
    bonus = _amount(bonus, "bonus") if Decimal(str(bonus or 0)) != 0 else ZERO
    if valid_from and valid_to and valid_to <= valid_from:
        raise BusinessError({"valid_to": _l("Must be after the start.")})
    rule = _x(session, select(TopupRule).where(TopupRule.id == rule_id)).scalar() if rule_id else None
    if rule is None:
        rule = TopupRule()
        session.add(rule)
    rule.name, rule.min_amount, rule.bonus = name.strip(), min_amount, bonus
    rule.valid_from, rule.valid_to, rule.active = valid_from, valid_to, bool(active)
    session.flush()
    return rule


def _store(session, store_id: int | None) -> Store:
    store = session.get(Store, store_id) if store_id is not None else None
    if store is None:
        raise NotFound({"store_id": _l("No such store.")})
    return store


def _card_for(session, member: Member, card_number: str | None) -> Card:
    if card_number:
        card = find_card(session, card_number)
        if card is None:
            raise NotFound({"card_number": _l("No such card.")})
        if card.member_id != member.customer_id:
            raise BusinessError({"card_number": _l("This card belongs to another member.")})
        if card.status not in USABLE:
            raise BusinessError({"card_number": _("This card is %(state)s and cannot be used.",
                                                  state=_(card.status))})
        return card
    card = usable_card(session, member.customer_id)
    if card is None:
        raise BusinessError({"card_number": _l("The member has no active card.")})
    return card


#: how the member may pay for a top-up at the till, with its label (stored value or points
#: cannot buy stored value)
TOPUP_TENDERS = {"cash": _l("Cash"), "card": _l("Bank card")}


def topup(session, customer_id: int, amount, store_id: int, user=None, card_number: str | None = None,
          note: str | None = None, at: datetime | None = None, tender: str | None = None) -> list[StoredValueEntry]:
    """Top up a member's stored value at ``store_id`` (paid value) plus the bonus of the best
    top-up rule (bonus value). ``tender``: how it was paid, one of :data:`TOPUP_TENDERS`
    (kept on the top-up line; ``BusinessError`` naming ``tender`` otherwise; None when the
    caller does not know, e.g. a migration of old balances). Returns the ledger lines written."""
    if tender is not None and tender not in TOPUP_TENDERS:
        raise BusinessError({"tender": _l("Pay a top-up in cash or by bank card.")})
    amount = _amount(amount)
    store = _store(session, store_id)
    member = _lock_member(session, customer_id)
    if member.status != "active":
        raise BusinessError({"customer_id": _l("The membership is not active.")})
    _refuse_blacklisted(session, customer_id)
    card = _card_for(session, member, card_number)
    at = at or utcnow()
    bonus, rule = topup_bonus(session, amount, at)
    common = dict(member_id=customer_id, card_id=card.id, issuer_store_id=store.id,
                  issuer_company_id=store.operating_company_id, at_store_id=store.id, user_id=_uid(user),
                  posted_at=at)
    entries = [StoredValueEntry(kind="topup", amount=amount, bonus_amount=ZERO, source="topup", note=note,
                                tender=tender, **common)]
    if bonus > 0:
        entries.append(StoredValueEntry(kind="bonus", amount=bonus, bonus_amount=bonus,
                                        source=f"topup_rule:{rule.id}", note=rule.name[:255], **common))
    session.add_all(entries)
    session.flush()
    return entries


def open_stored_value(session, customer_id: int, amount, store_id: int, user=None, note: str | None = None,
                      at: datetime | None = None, note_code: str | None = None) -> StoredValueEntry:
    """Post a member's opening stored value, carried over from a former system (bulk import):
    paid value (no top-up bonus) issued by ``store_id``'s operating company, on the member's
    usable card, ledger kind ``topup`` with source ``opening_balance``. ``amount`` > 0 with
    at most two decimals (``core.validation.money_input``). Raises BusinessError/NotFound as
    :func:`topup` does. ``note`` is a person's words; ``note_code`` what the caller notes itself
    (``SV_NOTE``: ``import``), shown in the reader's language."""
    amount = _amount(amount, "opening_stored_value")
    store = _store(session, store_id)
    member = _lock_member(session, customer_id)
    if member.status != "active":
        raise BusinessError({"customer_id": _l("The membership is not active.")})
    card = _card_for(session, member, None)
    entry = StoredValueEntry(member_id=customer_id, card_id=card.id, kind="topup", amount=amount, bonus_amount=ZERO,
                             issuer_store_id=store.id, issuer_company_id=store.operating_company_id,
                             at_store_id=store.id, user_id=_uid(user), posted_at=at or utcnow(),
                             source="opening_balance", note=(note or "")[:255] or None, note_code=note_code)
    session.add(entry)
    session.flush()
    return entry


def _allocate(buckets: list[dict], amount: Decimal, company_id: int | None) -> list[dict]:
    """Take ``amount`` from the buckets: paid value first, then bonus; the spending store's own
    company's buckets first, then the others in a stable order."""
    ordered = sorted(buckets, key=lambda b: (b["issuer_company_id"] != company_id,
                                              b["issuer_company_id"] or 0, b["issuer_store_id"] or 0))
    takes = {id(b): {"bucket": b, "paid": ZERO, "bonus": ZERO} for b in ordered}
    left = amount
    for part in ("paid", "bonus"):
        for b in ordered:
            if left <= 0:
                break
            avail = b[part] - takes[id(b)][part]
            if avail <= 0:
                continue
            take = min(avail, left)
            takes[id(b)][part] += take
            left -= take
    if left > 0:
        raise AssertionError("allocation beyond balance")
    return [t for t in takes.values() if t["paid"] + t["bonus"] > 0]


def _consume(session, member: Member, amount: Decimal, *, kind: str, store: Store | None, card: Card | None,
             user=None, sale_id=None, source=None, note=None, at=None, field="amount") -> list[StoredValueEntry]:
    """Write the negative lines taking ``amount`` from the member's value (caller holds the lock)."""
    buckets = _buckets(session, member.customer_id)
    available = sum((b["total"] for b in buckets), ZERO)
    if amount > available:
        raise BusinessError({field: _l("Insufficient stored value: the balance is %(balance)s.",
                                       balance=f"{available:.2f}")})
    company_id = store.operating_company_id if store is not None else None
    entries = []
    for take in _allocate(buckets, amount, company_id):
        b = take["bucket"]
        total = take["paid"] + take["bonus"]
        entry = StoredValueEntry(member_id=member.customer_id, card_id=card.id if card else None, kind=kind,
                                 amount=-total, bonus_amount=-take["bonus"], issuer_store_id=b["issuer_store_id"],
                                 issuer_company_id=b["issuer_company_id"],
                                 at_store_id=store.id if store else None, sale_id=sale_id, user_id=_uid(user),
                                 posted_at=at or utcnow(), source=source, note=note)
        session.add(entry)
        entries.append(entry)
    session.flush()
    if kind == "spend" and store is not None:
        for e in entries:
            if e.issuer_company_id is not None and e.issuer_company_id != store.operating_company_id:
                session.add(ClearingEntry(from_company_id=e.issuer_company_id, to_company_id=store.operating_company_id,
                                          amount=-e.amount, sale_id=sale_id, entry_id=e.id,
                                          member_id=member.customer_id, posted_at=e.posted_at))
        session.flush()
    return entries


def spend(session, customer_id: int, amount, store_id: int, user=None, card_number: str | None = None,
          sale_id: int | None = None, note: str | None = None) -> list[StoredValueEntry]:
    """Pay ``amount`` with stored value at ``store_id``; refused (nothing written) when the
    balance is short. The member row is locked first, so concurrent spends never overdraw."""
    amount = _amount(amount)
    store = _store(session, store_id)
    member = _lock_member(session, customer_id)
    if member.status != "active":
        raise BusinessError({"customer_id": _l("The membership is not active.")})
    card = _card_for(session, member, card_number)
    return _consume(session, member, amount, kind="spend", store=store, card=card, user=user, sale_id=sale_id,
                    source="sale" if sale_id else "spend", note=note)


def refund_spend(session, sale_id: int, amount, refund_sale_id: int | None = None, user=None,
                 store_id: int | None = None) -> list[StoredValueEntry]:
    """Give ``amount`` back to the card(s) that paid sale ``sale_id`` with stored value.

    Each spend line is reversed into the same issuer bucket and with the same paid/bonus
    split (pro rata for a partial refund; what is left exactly on the last one), and its
    clearing entry is reversed in proportion."""
    amount = _amount(amount)
    spends = _x(session, select(StoredValueEntry).where(StoredValueEntry.sale_id == sale_id,
                                                        StoredValueEntry.kind == "spend")
                .order_by(StoredValueEntry.id)).scalars().all()
    if not spends:
        raise BusinessError({"sale_id": _l("This sale was not paid with stored value.")})
    member = _lock_member(session, spends[0].member_id)
    back = dict(_x(session, select(StoredValueEntry.reverses_id, func.sum(StoredValueEntry.amount))
                   .where(StoredValueEntry.reverses_id.in_([s.id for s in spends]))
                   .group_by(StoredValueEntry.reverses_id)).all())
    back_bonus = dict(_x(session, select(StoredValueEntry.reverses_id, func.sum(StoredValueEntry.bonus_amount))
                         .where(StoredValueEntry.reverses_id.in_([s.id for s in spends]))
                         .group_by(StoredValueEntry.reverses_id)).all())
    open_ = []
    for s in spends:
        rem = -s.amount - money(back.get(s.id) or 0)
        rem_bonus = -s.bonus_amount - money(back_bonus.get(s.id) or 0)
        if rem > 0:
            open_.append((s, rem, rem_bonus))
    pool = sum((r for _, r, _b in open_), ZERO)
    if amount > pool:
        raise BusinessError({"amount": _l("More than was paid with stored value on this sale.")})
    card = None
    entries = []
    left = amount
    for idx, (s, rem, rem_bonus) in enumerate(open_):
        share = left if idx == len(open_) - 1 else min(money(amount * rem / pool), left)
        if share <= 0:
            continue
        bonus = rem_bonus if share == rem else min(money(rem_bonus * share / rem), share)
        c = s.card if (s.card is not None and s.card.status in USABLE) else None
        if c is None:
            card = card or usable_card(session, member.customer_id)
            c = card
        e = StoredValueEntry(member_id=member.customer_id, card_id=c.id if c else s.card_id, kind="refund",
                             amount=share, bonus_amount=bonus, issuer_store_id=s.issuer_store_id,
                             issuer_company_id=s.issuer_company_id, at_store_id=store_id or s.at_store_id,
                             sale_id=refund_sale_id, reverses_id=s.id, user_id=_uid(user), posted_at=utcnow(),
                             source="sale_refund")
        session.add(e)
        entries.append(e)
        left -= share
    session.flush()
    for e in entries:
        orig = next(s for s, _r, _b in open_ if s.id == e.reverses_id)
        clearing = _x(session, select(ClearingEntry).where(ClearingEntry.entry_id == orig.id)).scalar()
        if clearing is not None:
            session.add(ClearingEntry(from_company_id=clearing.from_company_id, to_company_id=clearing.to_company_id,
                                      amount=-e.amount, sale_id=refund_sale_id, entry_id=e.id,
                                      member_id=member.customer_id, posted_at=e.posted_at))
    session.flush()
    return entries


def adjust(session, customer_id: int, amount, reason: str, user=None, store_id: int | None = None,
           bonus: bool = False, approved_by=None) -> list[StoredValueEntry]:
    """Manual correction of stored value (signed ``amount``) with a reason. At or above the
    policy's ``large_adjust_threshold`` a second person (``approved_by``, not ``user``) must
    approve. Never takes the balance below zero."""
    amount = _amount(amount, allow_negative=True)
    reason = _reason(reason)
    policy = get_policy(session)
    if abs(amount) >= policy.large_adjust_threshold:
        if approved_by is None or (_uid(approved_by) is not None and _uid(approved_by) == _uid(user)):
            raise Forbidden({"amount": _("Adjustments of %(threshold)s or more need the approval of a second person.",
                                         threshold=f"{policy.large_adjust_threshold:.2f}")})
    store = _store(session, store_id) if store_id is not None else None
    member = _lock_member(session, customer_id)
    card = usable_card(session, customer_id)
    note = reason if approved_by is None else f"{reason} (approved by #{_uid(approved_by)})"[:255]
    if amount < 0:
        return _consume(session, member, -amount, kind="adjust", store=store, card=card, user=user,
                        source="manual", note=note)
    entry = StoredValueEntry(member_id=customer_id, card_id=card.id if card else None, kind="adjust", amount=amount,
                             bonus_amount=amount if bonus else ZERO,
                             issuer_store_id=store.id if store else None,
                             issuer_company_id=store.operating_company_id if store else None,
                             at_store_id=store.id if store else None, user_id=_uid(user), posted_at=utcnow(),
                             source="manual", note=note)
    session.add(entry)
    session.flush()
    return [entry]


def stored_value_history(session, customer_id: int, limit: int = 200) -> list[StoredValueEntry]:
    """The member's stored-value ledger lines, newest first, at most ``limit``."""
    return list(_x(session, select(StoredValueEntry).where(StoredValueEntry.member_id == customer_id)
                   .order_by(StoredValueEntry.posted_at.desc(), StoredValueEntry.id.desc()).limit(limit)).scalars())


# ---------------------------------------------------------------------------------------
# four-eyes approval of large adjustments (core.approvals)
# ---------------------------------------------------------------------------------------

ADJUST_ACTION = "membership.stored_value.adjust"


def adjust_or_request(session, customer_id: int, amount, reason: str, user, store_id: int | None = None,
                      bonus: bool = False):
    """Adjust now, or, at or above the policy threshold, file a four-eyes approval request
    (``core.approvals``) that performs the adjustment once approved.
    Returns ``("done", [entries])`` or ``("pending", ApprovalRequest)``."""
    value = _amount(amount, allow_negative=True)
    reason = _reason(reason)
    require_member(session, customer_id)
    if abs(value) < get_policy(session).large_adjust_threshold:
        return "done", adjust(session, customer_id, value, reason, user=user, store_id=store_id, bonus=bonus)
    from core.approvals import request_approval

    req = request_approval(session, ADJUST_ACTION,
                           {"customer_id": customer_id, "amount": str(value), "reason": reason,
                            "store_id": store_id, "bonus": bool(bonus)},
                           abs(value), user, store_id=store_id,
                           subject=f"#{customer_id} {value:.2f}")
    return "pending", req


def _execute_adjust(session, req, user):
    from core.models import User

    p = req.payload
    requester = session.get(User, req.requested_by_id) if req.requested_by_id else None
    entries = adjust(session, int(p["customer_id"]), Decimal(p["amount"]), p["reason"], user=requester,
                     store_id=p.get("store_id"), bonus=bool(p.get("bonus")), approved_by=user)
    return f"{len(entries)} entries"


def _register_executor() -> None:
    try:
        from core.approvals import register_executor
    except ImportError:  # approvals not part of this kernel
        return
    register_executor(ADJUST_ACTION, _execute_adjust)


_register_executor()
