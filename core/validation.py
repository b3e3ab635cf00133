"""Normalisers for contact data; raise BusinessError naming the field on bad input."""
from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

DEFAULT_REGION = "CN"


def normalize_phone(raw: str | None, field: str = "phone", region: str = DEFAULT_REGION) -> str | None:
    """Return the number in E.164 (``+8613800138000``) or raise ``BusinessError``."""
    if raw is None or not str(raw).strip():
        return None
    try:
        num = phonenumbers.parse(str(raw), region)
    except phonenumbers.NumberParseException:
        raise BusinessError({field: _l("Not a phone number.")}) from None
    if not phonenumbers.is_valid_number(num):
        raise BusinessError({field: _l("Not a valid phone number.")})
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str | None, field: str = "email") -> str | None:
    if raw is None or not str(raw).strip():
        return None
    try:
        return validate_email(str(raw).strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise BusinessError({field: _l("Not a valid email address.")}) from None


# ---------------------------------------------------------------------------------------
# amounts, quantities and points: the checks every money- or stock-moving input gets
# ---------------------------------------------------------------------------------------
#
# One set of checks for every surface (checkout, refunds, top-ups, adjustments, transfers,
# redemptions; API, back office, CLI): a value is a finite number, has no more decimals than
# its column keeps (cents for money, thousandths for quantities, whole points), is in range
# for its column (so PostgreSQL never overflows into a 500), and has the sign the operation
# allows. Nothing is rounded here: an input with too many decimals is refused, not rounded,
# because the person meant something the ledger cannot hold. Rounding of computed amounts is
# ``core.db.money``'s job alone.

from decimal import Decimal, InvalidOperation  # noqa: E402

#: Largest amount a money column (``Numeric(14, 2)``) holds, with room for sums of a sale.
MONEY_MAX = Decimal("99999999999.99")
#: Largest quantity on a line (``Numeric(12, 3)``).
QTY_MAX = Decimal("99999999.999")
#: Largest number of points in one posting (an ``Integer`` column: 32-bit on PostgreSQL).
POINTS_MAX = 1_000_000_000
_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")


def decimal_input(value, field: str) -> Decimal:
    """``value`` (str, int, Decimal; never float noise: it goes through ``str``) as a finite
    Decimal, or ``BusinessError({field: "Not a number."})``. Booleans are not numbers."""
    if isinstance(value, bool) or value is None:
        raise BusinessError({field: [_l("Not a number.")]})
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise BusinessError({field: [_l("Not a number.")]}) from None
    if not d.is_finite():
        raise BusinessError({field: [_l("Not a number.")]})
    return d


def money_input(value, field: str = "amount", *, allow_negative: bool = False, allow_zero: bool = False) -> Decimal:
    """An amount of money typed by a person: at most two decimals, ``|value| <= MONEY_MAX``,
    positive unless ``allow_negative`` (then non-zero) / ``allow_zero``. Returns it with
    exactly two decimals. Raises ``BusinessError`` naming ``field``."""
    d = decimal_input(value, field)
    if d != d.quantize(_CENT):
        raise BusinessError({field: [_l("At most two decimals.")]})
    if abs(d) > MONEY_MAX:
        raise BusinessError({field: [_l("Too large.")]})
    if (d < 0 and not allow_negative) or (d == 0 and not allow_zero):
        raise BusinessError({field: [_l("Must be a positive amount.") if not allow_negative
                                     else _l("Must not be zero.")]})
    return d.quantize(_CENT)


def quantity_input(value, field: str = "qty") -> Decimal:
    """A quantity on a line (units or kilograms): ``0 < value <= QTY_MAX`` with at most three
    decimals. Returns it with exactly three decimals, as stored (``"2"`` is ``2.000``), so
    the first answer shows what every later read shows."""
    d = decimal_input(value, field)
    if d <= 0:
        raise BusinessError({field: [_l("Quantity must be greater than zero.")]})
    if d != d.quantize(_MILLI):
        raise BusinessError({field: [_l("At most three decimals.")]})
    if d > QTY_MAX:
        raise BusinessError({field: [_l("Too large.")]})
    return d.quantize(_MILLI)


def unit_quantity(product, qty: Decimal, field: str = "qty") -> Decimal:
    """``qty`` (already through :func:`quantity_input`) as the product's unit of measure
    allows: whole units for a product sold by the piece, up to three decimals for one sold
    by weight (``Product.sold_by_weight``, ``Product.qty_places``). Raises
    ``BusinessError`` naming ``field``. The checkout and the refund both call it."""
    if not product.sold_by_weight and qty != qty.to_integral_value():
        raise BusinessError({field: [_l("This product is sold by the piece: whole units only.")]})
    return qty


def points_input(value, field: str = "points", *, allow_negative: bool = False) -> int:
    """A number of points: a whole number, non-zero, ``|value| <= POINTS_MAX``, positive
    unless ``allow_negative``. ``"5"`` and ``5.0`` are 5; ``5.5`` is refused."""
    d = decimal_input(value, field)
    if d != d.to_integral_value():
        raise BusinessError({field: [_l("Points are whole numbers.")]})
    p = int(d)
    if p == 0:
        raise BusinessError({field: [_l("Points must not be zero.")]})
    if p < 0 and not allow_negative:
        raise BusinessError({field: [_l("Must be a positive number of points.")]})
    if abs(p) > POINTS_MAX:
        raise BusinessError({field: [_l("Too large.")]})
    return p


def duplicate_errors(keys, field: str, sub: str, message=None) -> dict:
    """``{f"{field}.{i}.{sub}": [message]}`` for every item after the first whose key was
    seen before (``keys``: one key per item, in order). For inputs where naming the same
    thing twice would count it twice (refund lines, transfers)."""
    seen, errors = set(), {}
    for i, key in enumerate(keys):
        if key in seen:
            errors[f"{field}.{i}.{sub}"] = [message or _l("Given twice: name each line once.")]
        seen.add(key)
    return errors
