"""Promotions and coupons at checkout.

How promotions combine (also in docs/addons/loyalty.md):
1. Candidates: active, inside their validity, for this store (or chain-wide), with uses left
   (``max_uses``, ``per_customer_limit``), members only / birthday month when so flagged, and
   -- when ``requires_coupon`` -- unlocked by a valid code on the ticket.
2. They are tried in ascending ``priority`` (then id), the automatic ones first and then
   those a coupon unlocks: a coupon is priced on what the promotions left.
3. A line gets at most ONE line promotion (special price, buy N get M, percentage or fixed
   off products/categories, gift): the first that applies to it.
4. Ticket promotions (percentage or fixed off the whole ticket, vouchers) stack, each computed
   on what is left after the promotions before it.
5. An ``exclusive`` promotion only applies alone: it is skipped when a promotion applied
   before it, and when it applies no later promotion does.
6. Nothing goes below zero; minimum spend is measured on what is left to pay at that point.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from core.cache import cached, snapshot
from core.codes import normalize_code
from core.contrib import Adjustment
from core.db import ZERO, money
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.localtime import local_month
from core.mixins import utcnow

from .models import Coupon, Promotion, PromotionItem, PromotionUse

RULE_PREFIX = "loyalty.promo."


@dataclass
class Applied:
    promotion: Promotion
    coupon: Coupon | None
    adjustments: list = field(default_factory=list)

    @property
    def discount(self) -> Decimal:
        return sum((a.amount for a in self.adjustments), ZERO)


def normalise(code: str) -> str:
    """The canonical form of a typed coupon code (the kernel's rule, ``core.codes``)."""
    return normalize_code(code) or ""


def _uses(session, *, promotion_id=None, coupon_id=None, customer_id=None) -> int:
    """Uses counted against a promotion's or coupon's limits: across the chain, whichever
    store's user rings up the sale (a use is otherwise seen with its sale)."""
    stmt = (select(func.count(PromotionUse.id)).where(PromotionUse.released.is_(False))
            .execution_options(banyan_unscoped=True))
    if promotion_id is not None:
        stmt = stmt.where(PromotionUse.promotion_id == promotion_id)
    if coupon_id is not None:
        stmt = stmt.where(PromotionUse.coupon_id == coupon_id)
    if customer_id is not None:
        stmt = stmt.where(PromotionUse.customer_id == customer_id)
    return int(session.execute(stmt).scalar() or 0)


def coupon_problem(session, coupon: Coupon | None, customer_id, store_id, at):
    """Why ``coupon`` cannot be used now (a translatable message), or None when it can."""
    if coupon is None:
        return _l("Unknown coupon code.")
    promo = coupon.promotion
    if not coupon.active or not promo.active:
        return _l("This coupon is not active.")
    if (coupon.valid_from and at < coupon.valid_from) or (promo.valid_from and at < promo.valid_from):
        return _l("This coupon is not valid yet.")
    if (coupon.valid_to and at >= coupon.valid_to) or (promo.valid_to and at >= promo.valid_to):
        return _l("This coupon has expired.")
    if promo.store_id is not None and promo.store_id != store_id:
        return _l("This coupon is not valid at this store.")
    if coupon.customer_id is not None and coupon.customer_id != customer_id:
        return _l("This coupon belongs to another customer.")
    if coupon.max_uses is not None and _uses(session, coupon_id=coupon.id) >= coupon.max_uses:
        return _l("This coupon has been used up.")
    if coupon.per_customer_limit is not None:
        if customer_id is None:
            return _l("This coupon needs a customer on the ticket.")
        if _uses(session, coupon_id=coupon.id, customer_id=customer_id) >= coupon.per_customer_limit:
            return _l("This customer has used this coupon as often as allowed.")
    return None


def find_coupon(session, code: str) -> Coupon | None:
    return session.execute(select(Coupon).where(Coupon.code == normalise(code))).scalar()


def validate_coupon(session, code: str, customer_id=None, store_id=None, at=None) -> Coupon:
    """The usable coupon for ``code``; raises BusinessError({"code": reason}) otherwise."""
    coupon = find_coupon(session, code)
    problem = coupon_problem(session, coupon, customer_id, store_id, at or utcnow())
    if problem is not None:
        raise BusinessError({"code": [problem]})
    return coupon


def _is_member(session, customer_id) -> bool:
    from addons.membership import services as membership

    return customer_id is not None and membership.get_member(session, customer_id) is not None


@cached("loyalty.promotions", watch_models=(Promotion, PromotionItem))
def active_promotions(session) -> tuple:
    """Every active promotion with its ``items``, in the order they are tried, as read-only
    snapshots cached per process (``core.cache``); validity and store are checked per ticket."""
    rows = session.execute(select(Promotion).where(Promotion.active.is_(True))
                           .options(selectinload(Promotion.items)).order_by(Promotion.priority, Promotion.id)
                           .execution_options(banyan_unscoped=True)).scalars()
    return tuple(snapshot(p, items=tuple(snapshot(it) for it in p.items)) for p in rows)


def live_promotions(session, store_id, at) -> list:
    """The active promotions in force at store ``store_id`` at instant ``at``."""
    return [p for p in active_promotions(session)
            if (p.valid_from is None or p.valid_from <= at) and (p.valid_to is None or p.valid_to > at)
            and (p.store_id is None or p.store_id == store_id)]


def candidates(session, ticket, at, codes, whatif_used=None) -> list[tuple[Promotion, Coupon | None]]:
    """Promotions that may apply to ``ticket``, in the order they are tried. With
    ``whatif_used`` (codes of promotions a past sale got) usage limits are ignored and coupon
    promotions count as unlocked when the sale used them (what-if re-runs)."""
    store_id, customer_id = ticket.store_id, ticket.customer_id
    coupons: dict[int, Coupon] = {}
    for code in codes:
        coupon = find_coupon(session, code)
        if coupon is None:
            continue  # not a loyalty code (another addon may own it)
        if coupon_problem(session, coupon, customer_id, store_id, at) is not None:
            # it unlocks nothing; claim_codes (codes.claims) refuses it with the reason, so the
            # ticket is still refused (422 on codes) and a till's preview can say which code
            continue
        coupons.setdefault(coupon.promotion_id, coupon)
    promos = live_promotions(session, store_id, at)
    out = []
    member = None
    for p in promos:
        coupon = coupons.get(p.id)
        if whatif_used is not None:
            if p.requires_coupon and p.code not in whatif_used:
                continue
        elif p.requires_coupon and coupon is None:
            continue
        if p.members_only:
            if member is None:
                member = _is_member(session, customer_id)
            if not member:
                continue
        if p.birthday_only:
            birthday = getattr(getattr(ticket, "customer", None), "birthday", None)
            if birthday is None or birthday.month != local_month(at):
                continue
        if whatif_used is not None:
            out.append((p, coupon))
            continue
        if p.max_uses is not None and _uses(session, promotion_id=p.id) >= p.max_uses:
            continue
        if p.per_customer_limit is not None and (
                customer_id is None or _uses(session, promotion_id=p.id, customer_id=customer_id)
                >= p.per_customer_limit):
            continue
        out.append((p, coupon))
    # automatic promotions first, then those a coupon unlocks: a coupon is priced on what the
    # promotions left, whatever its priority (each group keeps its priority order)
    out.sort(key=lambda pc: bool(pc[0].requires_coupon))
    return out


def _matches(items, line) -> PromotionItem | None:
    category_id = getattr(getattr(line, "product", None), "category_id", None)
    for it in items:
        if it.product_id is not None and it.product_id == line.product_id:
            return it
    for it in items:
        if it.category_id is not None and it.category_id == category_id:
            return it
    return None


def evaluate(session, ticket, at=None, codes=None, promotions=None) -> list[Applied]:
    """The promotions ``ticket`` gets (pure: nothing is written). ``ticket`` needs store_id,
    customer_id, customer and lines (product_id, product, qty, unit_price, total)."""
    at = at or getattr(ticket, "created_at", None) or utcnow()
    codes = [normalise(c) for c in (codes if codes is not None else getattr(ticket, "codes", None) or [])]
    if promotions is None:
        cands = candidates(session, ticket, at, codes)
        try:  # the confirmed sale records its uses from these same rows (see record_uses)
            ticket._loyalty_promotions = {p.code: p for p, _c in cands}
        except AttributeError:  # a read-only ticket object
            pass
    else:
        cands = promotions
    lines = [ln for ln in ticket.lines if ln.qty > 0]
    left = {id(ln): Decimal(ln.total) for ln in lines}
    touched: set[int] = set()
    applied: list[Applied] = []
    for promo, coupon in cands:
        if promo.exclusive and applied:
            continue
        label = promo.name if coupon is None else f"{promo.name} ({coupon.code})"
        code = RULE_PREFIX + promo.code
        prio = promo.priority
        adjs = []
        ticket_left = sum(left.values(), ZERO)
        if promo.target == "ticket" and promo.kind in ("percent", "fixed"):
            if promo.min_spend is not None and ticket_left < promo.min_spend:
                continue
            if promo.kind == "percent":
                amount = money(ticket_left * Decimal(promo.percent or 0) / 100)
            else:
                amount = min(Decimal((coupon.amount if coupon and coupon.amount is not None else promo.amount) or 0),
                             ticket_left)
            if amount > 0:
                adjs.append(Adjustment(-amount, code, label, None, prio))
                for ln in lines:  # spread for later promotions' arithmetic, as the kernel does
                    if ticket_left:
                        left[id(ln)] -= left[id(ln)] * amount / ticket_left
        elif promo.kind == "spend_gift":
            gift = next((ln for ln in lines if ln.product_id == promo.gift_product_id and id(ln) not in touched), None)
            if gift is None:
                continue
            spend = sum((v for k, v in left.items() if k != id(gift)), ZERO)
            if promo.min_spend is not None and spend < promo.min_spend:
                continue
            # one unit free, at what is left of its price (after the tier discount, say)
            amount = min(money(left[id(gift)] / Decimal(gift.qty)), left[id(gift)])
            if amount > 0:
                adjs.append(Adjustment(-amount, code, label, gift, prio))
                left[id(gift)] -= amount
                touched.add(id(gift))
        else:
            eligible = [(ln, it) for ln in lines if id(ln) not in touched
                        for it in [_matches(promo.items, ln)] if it is not None]
            if not eligible:
                continue
            if promo.min_spend is not None and sum((left[id(ln)] for ln, _ in eligible), ZERO) < promo.min_spend:
                continue
            free = _free_units(promo, eligible) if promo.kind == "buy_n_get_m" else {}
            for ln, it in eligible:
                rest = left[id(ln)]
                qty = Decimal(ln.qty)
                if promo.kind == "special_price":
                    if it.special_price is None:
                        continue
                    # the special price is what the customer pays: measured on what is left
                    amount = rest - money(Decimal(it.special_price) * qty)
                elif promo.kind == "buy_n_get_m":
                    units = free.get(id(ln), ZERO)
                    if units <= 0:
                        continue
                    amount = rest if units == qty else money(rest * units / qty)
                elif promo.kind == "percent":
                    amount = money(rest * Decimal(promo.percent or 0) / 100)
                elif promo.kind == "fixed":
                    amount = money(Decimal(promo.amount or 0) * qty)
                else:
                    continue
                amount = min(amount, rest)
                if amount <= 0:
                    continue
                adjs.append(Adjustment(-amount, code, label, ln, prio))
                left[id(ln)] -= amount
                touched.add(id(ln))
        if adjs:
            applied.append(Applied(promo, coupon, adjs))
            if promo.exclusive:
                break
    return applied


def _free_units(promo, eligible) -> dict[int, Decimal]:
    """Buy N get M: the free units of each line, ``{id(line): units}``. Units are counted
    together across the ticket's lines: those of the same product at the same unit price
    for a product item (three scans of one item under "buy 2 get 1" are one group of three,
    as one line of 3 would be), and every product of the category for a category item (buy
    any 2 of the category, get 1). Each complete group of ``N + M`` units gives ``M`` free,
    the cheapest units first (among equal prices, those scanned last). Weighed goods count
    whole units only."""
    n, m = promo.buy_qty or 0, promo.get_qty or 0
    if n <= 0 or m <= 0:
        return {}
    groups: dict[tuple, list] = {}
    for ln, it in eligible:
        key = ("category", it.category_id) if it.product_id is None else ("product", ln.product_id,
                                                                         Decimal(ln.unit_price))
        groups.setdefault(key, []).append(ln)
    out: dict[int, Decimal] = {}
    for lines in groups.values():
        qty = sum((Decimal(ln.qty).to_integral_value(rounding=ROUND_DOWN) for ln in lines), ZERO)
        to_give = (qty / (n + m)).to_integral_value(rounding=ROUND_DOWN) * m
        cheapest_first = sorted(range(len(lines)), key=lambda i: (Decimal(lines[i].unit_price), -i))
        for i in cheapest_first:
            if to_give <= 0:
                break
            ln = lines[i]
            units = min(Decimal(ln.qty).to_integral_value(rounding=ROUND_DOWN), to_give)
            if units > 0:
                out[id(ln)] = units
                to_give -= units
    return out


def adjustments(session, ticket) -> list[Adjustment]:
    return [a for ap in evaluate(session, ticket) for a in ap.adjustments]


def record_uses(session, sale) -> None:
    """On confirm: one PromotionUse per promotion on the sale; limits re-checked under lock,
    so two tills cannot both take the last use of a coupon or a quantity-limited offer."""
    write_uses(session, use_rows(session, sale))


def write_uses(session, rows: list[dict]) -> None:
    """Insert the ``loyalty_promotion_use`` rows of :func:`use_rows` (one executemany)."""
    from .ledger import write_promotion_uses

    write_promotion_uses(session, rows)  # each promotion appears once: use_rows keys them by code


def use_rows(session, sale) -> list[dict]:
    """The ``loyalty_promotion_use`` rows of a confirmed sale, its limits re-checked under
    lock (BusinessError naming ``codes`` when one is used up), not yet inserted: the sale's
    points statement inserts them on PostgreSQL (``ledger.credit_many``), else
    :func:`write_uses`."""
    by_code: dict[str, Decimal] = {}
    for adj in sale.adjustments:
        if adj.rule_code.startswith(RULE_PREFIX):
            code = adj.rule_code[len(RULE_PREFIX):]
            by_code[code] = by_code.get(code, ZERO) + adj.amount
    if not by_code:
        return []
    coupons = {}
    for code in getattr(sale, "codes", None) or []:
        c = find_coupon(session, code)
        if c is not None:
            coupons.setdefault(c.promotion_id, c)
    priced = getattr(sale, "_loyalty_promotions", None) or {}
    if all(code in priced for code in by_code):  # loaded by price_ticket in this transaction
        promos = {code: priced[code] for code in by_code}
    else:
        promos = {p.code: p for p in session.execute(select(Promotion).where(Promotion.code.in_(list(by_code))))
                  .scalars()}
    # only promotions with a limit (or used with a coupon) are locked: re-checking their uses
    # must be serialised; unlimited ones need no lock, so busy tills do not queue on them
    limited = sorted(p.id for p in promos.values()
                     if p.max_uses is not None or p.per_customer_limit is not None or p.id in coupons)
    if limited:
        session.execute(select(Promotion).where(Promotion.id.in_(limited)).order_by(Promotion.id)
                        .with_for_update().execution_options(populate_existing=True)).scalars().all()
    rows = []
    for code, discount in by_code.items():
        promo = promos.get(code)
        if promo is None:
            continue
        coupon = coupons.get(promo.id)
        if coupon is not None:
            session.execute(select(Coupon).where(Coupon.id == coupon.id).with_for_update())
            problem = coupon_problem(session, coupon, sale.customer_id, sale.store_id,
                                     sale.confirmed_at or utcnow())
            if problem is not None:
                raise BusinessError({"codes": [_l("Coupon %(code)s: %(reason)s", code=coupon.code, reason=problem)]})
        if promo.max_uses is not None and _uses(session, promotion_id=promo.id) >= promo.max_uses:
            raise BusinessError({"codes": [_l("Promotion %(name)s is sold out.", name=promo.name)]})
        if promo.per_customer_limit is not None and sale.customer_id is not None and _uses(
                session, promotion_id=promo.id, customer_id=sale.customer_id) >= promo.per_customer_limit:
            raise BusinessError({"codes": [_l("Promotion %(name)s: limit per customer reached.", name=promo.name)]})
        rows.append(dict(sale_id=sale.id, promotion_id=promo.id, coupon_id=coupon.id if coupon else None,
                         customer_id=sale.customer_id, discount=discount, used_at=sale.confirmed_at or utcnow(),
                         released=False))
    return rows




def release_uses(session, sale) -> int:
    """On a refund that gives the whole sale back, its promotion and coupon uses are freed."""
    if sale.state != "refunded":
        return 0
    uses = list(session.execute(select(PromotionUse).where(PromotionUse.sale_id == sale.id,
                                                           PromotionUse.released.is_(False))
                                .execution_options(banyan_unscoped=True)).scalars())
    for u in uses:
        u.released = True
    session.flush()
    return len(uses)
