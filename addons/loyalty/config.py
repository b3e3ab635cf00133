"""Validated writes of the loyalty configuration: earning rules, points events, promotions
with their items, coupons and the points policy.

The rules live here once: the back office (``admin.py``, in ``on_model_change``) and the API
(``api.py``) both call :func:`check` / :func:`save`. A failed rule raises
:class:`core.errors.BusinessError` mapping each field to its messages (HTTP 422, a form
error); nothing is written.

Scope of a write (the session's record scope, ``core.security.scope``): a user limited to
some stores may only reference a store among them, and may neither create nor change a
chain-wide row (no store), whose effect reaches every store; a coupon and a promotion item
belong to their promotion's store. The policy is chain-wide.

Functions flush, never commit: callers wrap them in ``core.db.transaction``.
"""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.models import Customer, Product, ProductCategory, Store
from core.security.scope import CHAIN_REFUSED, may_write_chain_wide
from core.validation import MONEY_MAX, POINTS_MAX, decimal_input

from .models import (EARNING_KINDS, EXPIRY_MODES, PROMOTION_KINDS, PROMOTION_TARGETS, Coupon, EarningRule,
                     LoyaltyPolicy, PointsEvent, Promotion, PromotionItem)
from .promotions import normalise
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Errors(dict):
    def add(self, field: str, message) -> None:
        self.setdefault(field, []).append(message)

    def raise_any(self) -> None:
        if self:
            raise BusinessError(dict(self))


def _scope_store_ids(session):
    from core.security.scope import scope_of

    scope = scope_of(session)
    return None if scope is None else scope.store_ids


def _text(err: _Errors, obj, field: str, max_len: int, required: bool = True) -> None:
    value = getattr(obj, field)
    if value is not None:
        value = str(value).strip()
        setattr(obj, field, value or None)
    if not value:
        if required:
            err.add(field, _l("Required."))
        return
    if len(value) > max_len:
        err.add(field, _l("At most %(n)d characters.", n=max_len))
    elif _CONTROL.search(value):
        err.add(field, _l("Must not contain control characters."))


def _code(err: _Errors, session, obj, model, field: str = "code", max_len: int = 32) -> None:
    _text(err, obj, field, max_len)
    value = getattr(obj, field)
    if not value or field in err:
        return
    if model is Coupon:
        value = normalise(value)
        setattr(obj, field, value)
    if not _CODE.fullmatch(value) and model is not Coupon:
        err.add(field, _l("Letters, digits and _ . - (at most 32)."))
        return
    stmt = select(model.id).where(getattr(model, field) == value).execution_options(banyan_unscoped=True)
    if obj.id is not None:
        stmt = stmt.where(model.id != obj.id)
    if session.execute(stmt.limit(1)).first() is not None:
        err.add(field, _l("Already in use."))


def _number(err: _Errors, obj, field: str, *, low, high, places: int, low_inclusive=True, required=False):
    """``low <= value < high`` (``low < value`` when not ``low_inclusive``) with at most
    ``places`` decimals; None allowed unless ``required``."""
    value = getattr(obj, field)
    if value is None or value == "":
        setattr(obj, field, None)
        if required:
            err.add(field, _l("Required."))
        return
    try:
        d = decimal_input(value, field)
    except BusinessError as exc:
        for m in exc.errors[field]:
            err.add(field, m)
        return
    if d != d.quantize(Decimal(1).scaleb(-places)):
        err.add(field, _l("At most %(n)d decimals.", n=places))
    elif d < low or (d == low and not low_inclusive) or d >= high:
        op = ">=" if low_inclusive else ">"
        err.add(field, _l("Must be %(op)s %(low)s and below %(high)s.", op=op, low=low, high=high))
    else:
        setattr(obj, field, d)


def _whole(err: _Errors, obj, field: str, *, low: int, high: int = POINTS_MAX, required=False):
    value = getattr(obj, field)
    if value is None or value == "":
        setattr(obj, field, None)
        if required:
            err.add(field, _l("Required."))
        return
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        err.add(field, _l("Not a whole number."))
        return
    try:
        d = Decimal(str(value).strip())
        ok = d.is_finite() and d == d.to_integral_value()
    except ArithmeticError:
        ok = False
    if not ok:
        err.add(field, _l("Not a whole number."))
    elif not low <= d <= high:
        err.add(field, _l("From %(low)s to %(high)s.", low=low, high=high))
    else:
        setattr(obj, field, int(d))


def _period(err: _Errors, obj, start: str, end: str, required: bool = False) -> None:
    a, b = getattr(obj, start), getattr(obj, end)
    if required:
        for f, v in ((start, a), (end, b)):
            if v is None:
                err.add(f, _l("Required."))
    if a is not None and b is not None and b <= a:
        err.add(end, _l("Must be after the start."))


def _visible(session, model, ident, field: str, err: _Errors):
    """The row ``ident`` of ``model`` if the writer may see it (record scope), else an error."""
    if ident is None:
        return None
    row = None
    if isinstance(ident, int) and not isinstance(ident, bool) and 0 < ident <= 2**31 - 1:
        row = session.execute(select(model).where(model.id == ident)).scalar()
    if row is None:
        err.add(field, _l("No such record."))
    return row


def _store(session, obj, err: _Errors, field: str = "store_id") -> None:
    """The row's store: one the writer sees; chain-wide (None) only for a chain-level writer."""
    store_id = getattr(obj, field)
    ids = _scope_store_ids(session)
    if store_id is None:
        if not may_write_chain_wide(session):  # the kernel's write-check rule (core.chain.write)
            err.add(field, CHAIN_REFUSED)
        return
    if ids is not None and store_id not in ids:
        err.add(field, _l("No such record."))
        return
    _visible(session, Store, store_id, field, err)


def _was_chain_wide(obj) -> bool:
    """Whether ``obj`` (already stored) was chain-wide before this change."""
    from sqlalchemy import inspect

    state = inspect(obj)
    if state.transient or state.pending:
        return False
    hist = state.attrs.store_id.history
    before = hist.deleted[0] if hist.deleted else (hist.unchanged[0] if hist.unchanged else obj.store_id)
    return before is None


def _chain_wide_guard(session, obj, err: _Errors) -> None:
    if _was_chain_wide(obj) and "store_id" not in err and not may_write_chain_wide(session):
        err.add("store_id", CHAIN_REFUSED)


# ---------------------------------------------------------------------------------------
# one check per model
# ---------------------------------------------------------------------------------------

def check_earning_rule(session, rule: EarningRule) -> None:
    """``base``: points per currency unit spent; ``bonus``: extra points per unit spent and
    per item on a product or a category (one of them required). Rates ``0 <= r < 10^6``
    with at most 4 decimals (the column is Numeric(10, 4))."""
    err = _Errors()
    _code(err, session, rule, EarningRule)
    _text(err, rule, "name", 120)
    if rule.kind not in EARNING_KINDS:
        err.add("kind", _l("One of: %(kinds)s.", kinds=", ".join(EARNING_KINDS)))
    for f in ("points_per_unit", "points_per_item"):
        _number(err, rule, f, low=Decimal(0), high=Decimal(10**6), places=4)
        if getattr(rule, f) is None and f not in err:
            setattr(rule, f, Decimal(0) if f == "points_per_item" else Decimal(1))
    _visible(session, Product, rule.product_id, "product_id", err)
    _visible(session, ProductCategory, rule.category_id, "category_id", err)
    if rule.kind == "bonus" and rule.product_id is None and rule.category_id is None:
        err.add("product_id", _l("A bonus rule names a product or a category."))
    _period(err, rule, "valid_from", "valid_to")
    _store(session, rule, err)
    _chain_wide_guard(session, rule, err)
    err.raise_any()


def check_event(session, event: PointsEvent) -> None:
    """A multiplier ``0 < m < 10^4`` (2 decimals) from ``starts_at`` to ``ends_at`` (both required)."""
    err = _Errors()
    _code(err, session, event, PointsEvent)
    _text(err, event, "name", 120)
    _number(err, event, "multiplier", low=Decimal(0), high=Decimal(10**4), places=2, low_inclusive=False,
            required=True)
    _period(err, event, "starts_at", "ends_at", required=True)
    _store(session, event, err)
    _chain_wide_guard(session, event, err)
    err.raise_any()


def check_promotion(session, promo: Promotion) -> None:
    """What each kind needs (docs/addons/loyalty.md): ``percent`` a percent ``0 < p <= 100``;
    ``fixed`` an amount > 0; ``buy_n_get_m`` ``buy_qty`` and ``get_qty`` >= 1;
    ``spend_gift`` a gift product; ``special_price`` its items' prices. Money at most two
    decimals, limits and uses whole numbers >= 1, ``valid_to`` after ``valid_from``."""
    err = _Errors()
    _code(err, session, promo, Promotion)
    _text(err, promo, "name", 120)
    if promo.kind not in PROMOTION_KINDS:
        err.add("kind", _l("One of: %(kinds)s.", kinds=", ".join(PROMOTION_KINDS)))
    if promo.target is None:
        promo.target = "lines"
    if promo.target not in PROMOTION_TARGETS:
        err.add("target", _l("One of: %(kinds)s.", kinds=", ".join(PROMOTION_TARGETS)))
    _number(err, promo, "percent", low=Decimal(0), high=Decimal("100.01"), places=2, low_inclusive=False,
            required=promo.kind == "percent")
    _number(err, promo, "amount", low=Decimal(0), high=MONEY_MAX, places=2, low_inclusive=promo.kind != "fixed",
            required=promo.kind == "fixed")
    _number(err, promo, "min_spend", low=Decimal(0), high=MONEY_MAX, places=2)
    bngm = promo.kind == "buy_n_get_m"
    _whole(err, promo, "buy_qty", low=1, high=10**6, required=bngm)
    _whole(err, promo, "get_qty", low=1, high=10**6, required=bngm)
    _visible(session, Product, promo.gift_product_id, "gift_product_id", err)
    if promo.kind == "spend_gift" and promo.gift_product_id is None:
        err.add("gift_product_id", _l("A gift promotion names its gift product."))
    if promo.target == "ticket" and promo.kind in ("special_price", "buy_n_get_m"):
        err.add("target", _l("Special prices and buy N get M apply to chosen products, not the whole ticket."))
    _whole(err, promo, "max_uses", low=1)
    _whole(err, promo, "per_customer_limit", low=1)
    _whole(err, promo, "priority", low=-10**6, high=10**6)
    if promo.priority is None and "priority" not in err:
        promo.priority = 100
    for flag in ("members_only", "birthday_only", "requires_coupon", "exclusive", "active"):
        if getattr(promo, flag) is None:
            setattr(promo, flag, flag == "active")
    _period(err, promo, "valid_from", "valid_to")
    _store(session, promo, err)
    _chain_wide_guard(session, promo, err)
    err.raise_any()


def _writable_promotion(session, promotion_id, err: _Errors, field: str = "promotion_id"):
    """The promotion a coupon or an item hangs on: visible, and not chain-wide for a writer
    limited to some stores (its coupons and items act in every store)."""
    if promotion_id is None:
        err.add(field, _l("Required."))
        return None
    promo = _visible(session, Promotion, promotion_id, field, err)
    if promo is not None and promo.store_id is None and not may_write_chain_wide(session):
        err.add(field, CHAIN_REFUSED)
    return promo


def check_promotion_item(session, item: PromotionItem) -> None:
    """A product or a category (one, not both) of a promotion; a special price (money >= 0)
    for a ``special_price`` promotion, none otherwise."""
    err = _Errors()
    promo = _writable_promotion(session, item.promotion_id, err)
    if (item.product_id is None) == (item.category_id is None):
        err.add("product_id", _l("Name a product or a category (one of them)."))
    _visible(session, Product, item.product_id, "product_id", err)
    _visible(session, ProductCategory, item.category_id, "category_id", err)
    _number(err, item, "special_price", low=Decimal(0), high=MONEY_MAX, places=2,
            required=promo is not None and promo.kind == "special_price")
    err.raise_any()


def check_coupon(session, coupon: Coupon) -> None:
    """A code (upper-cased, unique) unlocking a promotion that needs coupons; optionally
    for one customer (visible to the writer), an amount (money >= 0), use limits >= 1 and a
    validity period."""
    err = _Errors()
    _code(err, session, coupon, Coupon, max_len=40)
    _writable_promotion(session, coupon.promotion_id, err)
    _visible(session, Customer, coupon.customer_id, "customer_id", err)
    _number(err, coupon, "amount", low=Decimal(0), high=MONEY_MAX, places=2)
    _whole(err, coupon, "max_uses", low=1)
    _whole(err, coupon, "per_customer_limit", low=1)
    if coupon.active is None:
        coupon.active = True
    _period(err, coupon, "valid_from", "valid_to")
    err.raise_any()


def check_policy(session, pol: LoyaltyPolicy) -> None:
    """The chain's points policy: a point's value and the rebate per point ``0 <= v < 10^6``
    (4 decimals), ``expiry_mode`` months|year_end|never, months 1..1200, offset 0..100,
    reminder days 0..3660, rebate minimum 0..10^9. Chain-wide: only a chain-level writer."""
    err = _Errors()
    if _scope_store_ids(session) is not None:
        err.add("_", _l("Only a user who sees every store may change the points policy."))
    for f in ("value_per_point", "rebate_per_point"):
        _number(err, pol, f, low=Decimal(0), high=Decimal(10**6), places=4, required=True)
    if pol.expiry_mode not in EXPIRY_MODES:
        err.add("expiry_mode", _l("One of: %(kinds)s.", kinds=", ".join(EXPIRY_MODES)))
    _whole(err, pol, "expiry_months", low=1, high=1200, required=True)
    _whole(err, pol, "year_end_offset", low=0, high=100, required=True)
    _whole(err, pol, "reminder_days", low=0, high=3660, required=True)
    _whole(err, pol, "rebate_min_points", low=0, required=True)
    err.raise_any()


def sync_foreign_keys(obj) -> None:
    """Copy each many-to-one relationship a form set (``store``, ``product``...) to its
    foreign-key column (``store_id``...), which the checks read (SQLAlchemy would only do it
    at flush)."""
    from sqlalchemy import inspect

    for rel in inspect(type(obj)).relationships:
        if rel.direction.name != "MANYTOONE" or len(rel.local_columns) != 1:
            continue
        target = getattr(obj, rel.key)
        column = next(iter(rel.local_columns))
        setattr(obj, column.key, None if target is None else target.id)


CHECKS = {EarningRule: check_earning_rule, PointsEvent: check_event, Promotion: check_promotion,
          PromotionItem: check_promotion_item, Coupon: check_coupon, LoyaltyPolicy: check_policy}


def check(session, obj) -> None:
    """Validate ``obj`` (one of the configuration models) by its model's rule."""
    CHECKS[type(obj)](session, obj)


def save(session, obj, data: dict):
    """Set ``data``'s fields on ``obj`` (a new or stored configuration row), validate it
    (:func:`check`) and flush. Returns ``obj``. Raises BusinessError before anything is
    written; the caller's transaction rolls back the attribute changes."""
    for key, value in data.items():
        setattr(obj, key, value)
    if obj.id is None:
        session.add(obj)
    with session.no_autoflush:
        check(session, obj)
    session.flush()
    return obj


def deactivate(session, obj):
    """Switch ``obj`` off (``active = False``); the same scope rules as a change."""
    return save(session, obj, {"active": False})


def remove_item(session, item: PromotionItem) -> None:
    """Take ``item`` off its promotion (the promotion must be one the writer may change)."""
    err = _Errors()
    _writable_promotion(session, item.promotion_id, err)
    err.raise_any()
    session.delete(item)
    session.flush()
