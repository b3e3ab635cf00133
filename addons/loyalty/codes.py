"""Which codes on a ticket are loyalty coupons, and why a coupon did nothing.

The kernel refuses a ticket carrying a code that no addon claims (``claim_codes`` hook,
``core.codes.claim_ticket_codes``). Loyalty claims its coupons: a coupon is accepted when
its promotion gave an adjustment on this ticket, and refused with the reason otherwise
(unknown codes are left for other addons, then refused by the kernel).
"""
from __future__ import annotations

from decimal import Decimal

from core.contrib import CodeClaim
from core.db import ZERO, money
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow

from . import promotions


def claims(session, ticket, codes, adjustments) -> list[CodeClaim]:
    """One ``CodeClaim`` per code of ``codes`` that is a loyalty coupon."""
    out = []
    at = getattr(ticket, "created_at", None) or utcnow()
    used = {a.rule_code for a in adjustments if a.amount != 0}
    for code in codes:
        coupon = promotions.find_coupon(session, code)
        if coupon is None:
            continue  # not ours
        problem = promotions.coupon_problem(session, coupon, ticket.customer_id, ticket.store_id, at)
        if problem is None and promotions.RULE_PREFIX + coupon.promotion.code not in used:
            problem = _why_nothing(ticket, coupon.promotion)
        out.append(CodeClaim(code=code, refused=problem, addon="loyalty",
                             rule_code="" if problem else promotions.RULE_PREFIX + coupon.promotion.code))
    return out


def _why_nothing(ticket, promo):
    """The reason a valid coupon's promotion gave no discount on ``ticket``."""
    tried = getattr(ticket, "_loyalty_promotions", None) or {}
    if promo.code not in tried:  # not a candidate: who may use it, or its limits
        if promo.members_only:
            return _l("This coupon is for members only.")
        if promo.birthday_only:
            return _l("This coupon is only valid in the customer's birthday month.")
        if promo.max_uses is not None or promo.per_customer_limit is not None:
            return _l("This coupon's promotion has no uses left.")
        return _l("This coupon's promotion is not running at this store.")
    gross = sum((Decimal(ln.total) for ln in ticket.lines), ZERO)
    if promo.min_spend is not None and gross < promo.min_spend:
        return _l("Spend at least %(amount)s to use this coupon.", amount=money(promo.min_spend))
    return _l("Nothing on this ticket qualifies for this coupon.")
