"""Normalisers for contact data; raise BusinessError naming the field on bad input."""
from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

DEFAULT_REGION = "CN"


class _FastMobile:
    """The common case of :func:`normalize_phone` without ``phonenumbers.parse`` (about 170 µs
    a number, which is most of a bulk import's time): a plain string of digits that is a
    mobile number of ``region`` by that region's own metadata in ``phonenumbers``.

    It answers only when the result cannot differ from the full path: the digits do not start
    with ``0`` or the country code (parse might strip an international, national or country
    prefix from those) nor with a prefix ``phonenumbers`` strips for parsing (carrier codes);
    they match the region's general pattern and its mobile pattern, with a possible length of
    both (``is_valid_number``'s test). The E.164 form is then ``+<country code><digits>``.
    Anything else (spaces, ``+86``, fixed lines, invalid numbers) takes the full path."""

    def __init__(self, region: str):
        import re

        from phonenumbers import PhoneMetadata

        md = PhoneMetadata.metadata_for_region(region)
        self.ok = md is not None and md.mobile is not None and md.mobile.national_number_pattern is not None
        if not self.ok:
            return
        self.prefix = f"+{md.country_code}"
        self.cc = str(md.country_code)
        self.general = re.compile(md.general_desc.national_number_pattern)
        self.general_lengths = set(md.general_desc.possible_length or ())
        self.mobile = re.compile(md.mobile.national_number_pattern)
        self.mobile_lengths = set(md.mobile.possible_length or ()) or self.general_lengths
        npp = md.national_prefix_for_parsing
        self.strip = re.compile(npp) if npp else None

    def __call__(self, text: str) -> str | None:
        if not self.ok or not text.isascii() or not text.isdigit() or text[0] == "0" or text.startswith(self.cc):
            return None
        n = len(text)
        if n not in self.general_lengths or n not in self.mobile_lengths:
            return None
        if self.strip is not None and self.strip.match(text):
            return None
        if self.general.fullmatch(text) and self.mobile.fullmatch(text):
            return self.prefix + text
        return None


_FAST_MOBILE: dict[str, _FastMobile] = {}


def normalize_phone(raw: str | None, field: str = "phone", region: str = DEFAULT_REGION) -> str | None:
    """Return the number in E.164 (``+8613800138000``) or raise ``BusinessError``.

    The rule is ``phonenumbers``' (parse in ``region``, must be a valid number); plain mobile
    numbers take a shortcut with the same result (:class:`_FastMobile`)."""
    if raw is None:
        return None
    text = raw if isinstance(raw, str) else str(raw)
    fast = _FAST_MOBILE.get(region)
    if fast is None:
        fast = _FAST_MOBILE[region] = _FastMobile(region)
    found = fast(text.strip())
    if found is not None:
        return found
    if not text.strip():
        return None
    try:
        num = phonenumbers.parse(str(raw), region)
    except phonenumbers.NumberParseException:
        raise BusinessError({field: _l("Not a phone number.")}) from None
    if not phonenumbers.is_valid_number(num):
        raise BusinessError({field: _l("Not a valid phone number.")})
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


import functools  # noqa: E402
import re  # noqa: E402

#: a local part ``email_validator`` always accepts as it is: an ASCII dot-atom
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@functools.lru_cache(maxsize=4096)
def _domain_of(domain: str) -> str | None:
    """The normalised domain as ``email_validator`` gives it, or None when it refuses it
    (checked once per domain: most of a file's addresses share a few domains)."""
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


def normalize_email(raw: str | None, field: str = "email") -> str | None:
    """Return the address in lower case or raise ``BusinessError``; the rule is
    ``email_validator``'s (no deliverability check). A plain ASCII local part (a dot-atom of
    at most 64 characters) is accepted as it is and only its domain is validated, once per
    domain; anything else goes through the full validation."""
    if raw is None:
        return None
    text = (raw if isinstance(raw, str) else str(raw)).strip()
    if not text:
        return None
    local, at, domain = text.rpartition("@")
    if at and len(text) <= 254 and len(local) <= 64 and _PLAIN_LOCAL.fullmatch(local):
        norm = _domain_of(domain)
        if norm is not None and len(local) + 1 + len(norm) <= 254:
            return f"{local}@{norm}".lower()
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
#: the largest id a request may name (PostgreSQL ``integer``; ``core.api.MAX_ID`` is this)
ID_MAX = 2**31 - 1


def is_id(value) -> bool:
    """True when ``value`` can be a row id: an ``int`` (not a bool) from 1 to :data:`ID_MAX`.
    Anything else names no row, without asking the database (which would refuse it)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= ID_MAX
_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")
#: the largest power of ten a typed number may reach (``quantize`` needs the digits in the context)
_MAX_ADJUSTED = 18


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
    if d and d.adjusted() > _MAX_ADJUSTED:  # "1e400": finite, but no quantize can hold it
        raise BusinessError({field: [_l("Too large.")]})
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


GIVEN_TWICE = _l("Given twice: name each line once.")


def duplicate_indexes(keys) -> list[int]:
    """The positions of the items whose key an earlier item already had (``keys``: one key
    per item, in order; a key with None in it -- an item that names nothing -- is never a
    duplicate)."""
    seen, out = set(), []
    for i, key in enumerate(keys):
        if key is None or (isinstance(key, tuple) and all(k is None for k in key)):
            continue
        if key in seen:
            out.append(i)
        seen.add(key)
    return out


def duplicate_errors(keys, field: str, sub: str, message=None) -> dict:
    """``{f"{field}.{i}.{sub}": [message]}`` for every item after the first whose key was
    seen before (``keys``: one key per item, in order). For inputs where naming the same
    thing twice would count it twice or let the last silently win (refund lines, transfers,
    tiers, shares, members), checked before anything is written so the error names the
    item, never a column the database refused."""
    return {f"{field}.{i}.{sub}": [message or GIVEN_TWICE] for i in duplicate_indexes(keys)}


NOT_LATER_THAN_TODAY = _l("Must not be later than today.")


def past_date(value, field: str = "date", message=None):
    """``value`` (a ``date``, or None) when it is not later than the chain's local today
    (``core.localtime.local_today``); else ``BusinessError({field: [message]})``. For the
    dates of things that have happened -- a birthday, a payment received, an inspection
    carried out, a purchase -- where a date in the future is a typing error (a year too many,
    a picker scrolled too far) that would otherwise be kept as a fact: the customer "-73
    years old", the store's latest audit dated 2099. The models and services holding such
    dates call it, so the API, the back office and the imports refuse it alike."""
    from datetime import date, datetime

    if value is None:
        return None
    from core.localtime import local_today

    day = value.date() if isinstance(value, datetime) else value
    if isinstance(day, date) and day > local_today():
        raise BusinessError({field: [message or NOT_LATER_THAN_TODAY]})
    return value
