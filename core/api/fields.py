"""The API's input fields: what every request body and query string of the kernel and of the
addons is built from, so an addon's inputs are checked as strictly as the kernel's.

A bad value is a 422 naming the field (``{"errors": {"json": {"amount": [{"code",
"message"}]}}}``, :mod:`core.api.errors`), never a 500 and never a silently changed value:

=======================  ====================================================================
field                    accepts
=======================  ====================================================================
``Str(max=, min=)``      text without control characters (NUL...), stripped, length checked
``Choice(values)``       one of ``values`` (a ``Str``)
``Id()``                 a JSON integer ``1..2**31-1`` (a row id in a body)
``QId()``                the same in a query string (text there)
``Int(low, high)``       a JSON integer in ``low..high`` (inclusive); ``QInt`` in a query
``DecimalIn(low, high)`` a decimal (string or number), ``low <= v < high``, no NaN/infinity;
                         ``places=`` the most decimals, ``low_inclusive``/``high_inclusive``
``MoneyIn()``            an amount: at most 2 decimals, ``0 <= v < 10**11`` (``positive=True``:
                         ``> 0``; ``allow_negative=True``: ``-10**11 < v``; ``high=``: a
                         business ceiling, inclusive, and ``-high`` the floor when negative)
``Qty()``                a quantity: ``0 < v < 10**8``, at most 3 decimals
``Points()``             whole points, non-zero, ``|v| <= 10**9`` (``allow_negative=True``)
``Instant()``            an ISO 8601 datetime (offset, or the chain's local time), to naive UTC
``SafeDate()``           a ``YYYY-MM-DD`` date between 1900 and 9000
``Items(S, unique=)``   a list of nested ``S``; ``unique``: the keys no two items may share
``from_column(col)``     the field of an ORM column from its rule (:mod:`core.fields`)
``Money()``              (output) an amount as a string
``Coded(SET)``           (output) a coded value (``core.labels.Choices``), its codes in the docs
``Label(SET, of=)``      (output) the label of the code in attribute ``of``, in the request's
                         language: answer a stored code with ``x`` plus ``x_label``
=======================  ====================================================================

Request schemas derive from :class:`Input` (bodies) or :class:`Query` (query strings); both
refuse unknown fields. Use ``Str`` for every text and ``Id`` for every reference, never a
bare ``fields.String``/``fields.Integer``: a NUL or a 40-digit number would otherwise reach
the database (PostgreSQL refuses both with a 500). References are then checked against the
user's scope with :func:`core.api.visible.ref_visible`. See docs/validation.md.
"""
from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate

from core.errors import coded
from core.fields import CONTROL_CHARS, rule_of
from core.i18n import lazy_gettext as _l
from core.localtime import YEARS, aware_local, to_utc

#: the largest row id (PostgreSQL ``integer``)
MAX_ID = 2**31 - 1
#: the most points in one input (``core.validation.POINTS_MAX``)
POINTS_MAX = 10**9

__all__ = ["MAX_ID", "POINTS_MAX", "Choice", "DecimalIn", "Id", "Input", "Instant", "Int", "Money", "MoneyIn",
           "Items", "NaiveUTC", "Points", "QId", "QInt", "Qty", "Query", "RuleDecimal", "RuleInteger", "SafeDate", "Str",
           "from_column", "Coded", "Label"]


class Input(Schema):
    """Base of request bodies: unknown fields are refused (422 naming them)."""


class Query(Schema):
    """Base of query-string filters (unknown parameters are refused too)."""


# --------------------------------------------------------------------------- text

def _validators(extra) -> list:
    return [] if extra is None else (list(extra) if isinstance(extra, (list, tuple)) else [extra])


class Str(fields.String):
    """A string that a database can store: no control character (NUL and the other C0
    characters but tab and line breaks, as ``core.fields``), stripped of surrounding
    whitespace, then at most ``max`` and at least ``min`` characters."""

    def __init__(self, max: int | None = None, min: int | None = None, **kw):
        validators = _validators(kw.pop("validate", None))
        if max is not None or min is not None:
            validators.append(validate.Length(min=min, max=max))
        super().__init__(validate=validators, **kw)

    def _deserialize(self, value, attr, data, **kw):
        value = super()._deserialize(value, attr, data, **kw)
        if CONTROL_CHARS.search(value):
            raise ValidationError(coded(_l("Must not contain control characters.")))
        return value.strip()


def Choice(choices, **kw) -> Str:
    """One of ``choices`` (a coded value: a kind, a state, a policy)."""
    validators = _validators(kw.pop("validate", None))
    return Str(validate=[validate.OneOf(tuple(choices)), *validators], **kw)


# --------------------------------------------------------------------------- coded values (output)

def Coded(choices, **kw) -> fields.String:
    """(Output) a stored code of the set ``choices`` (a ``core.labels.Choices``): its codes
    and their English labels are in the API documentation (``core.labels.openapi_coded_values``)."""
    metadata = {"codes": choices, **kw.pop("metadata", {})}
    return fields.String(dump_only=True, metadata=metadata, **kw)


class _Label(fields.String):
    def __init__(self, choices, args: str | None = None, **kw):
        super().__init__(**kw)
        self.choices = choices
        self.args = args

    def _serialize(self, value, attr, obj, **kwargs):
        if self.args is not None and hasattr(self.choices, "text"):
            from marshmallow.utils import get_value

            return self.choices.text(value, get_value(obj, self.args, None))
        return str(self.choices.label(value))


def Label(choices, of: str, args: str | None = None, **kw) -> fields.String:
    """(Output) the label of the code in attribute (or key) ``of`` of the answered object, from
    the set ``choices``, in the request's language (``""`` for no code; an unknown code as
    itself). A stored code goes out as ``of`` (:func:`Coded`) *and* ``of_label``: programs
    compare the code, people read the label. For a coded sentence (``core.labels.Phrases``),
    ``args`` names the attribute holding its figures: the label is then the whole sentence."""
    metadata = {"description": f"the label of `{of}`, in the request's language", **kw.pop("metadata", {})}
    return _Label(choices, args=args, attribute=of, dump_only=True, metadata=metadata, **kw)


# --------------------------------------------------------------------------- integers

def Id(**kw) -> fields.Integer:
    """A row id in a body: a JSON integer (not ``"5"``, not ``5.0``) in ``1..2**31-1``."""
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_ID), **kw)


def QId(**kw) -> fields.Integer:
    """A row id in a query string (always text there)."""
    return fields.Integer(validate=validate.Range(1, MAX_ID), **kw)


def Int(low: int, high: int, **kw) -> fields.Integer:
    """A JSON integer in ``low..high`` (both inclusive): a count, a rank, a number of days."""
    validators = _validators(kw.pop("validate", None))
    return fields.Integer(strict=True, validate=[validate.Range(low, high), *validators], **kw)


def QInt(low: int, high: int, **kw) -> fields.Integer:
    """An integer in ``low..high`` in a query string (a limit, an offset)."""
    validators = _validators(kw.pop("validate", None))
    return fields.Integer(validate=[validate.Range(low, high), *validators], **kw)


class Points(fields.Integer):
    """A number of points: a JSON integer, not zero, ``|value| <= 10**9``, positive unless
    ``allow_negative`` (the rule of ``core.validation.points_input``)."""

    def __init__(self, allow_negative: bool = False, **kw):
        self.allow_negative = allow_negative
        doc = {"minimum": -POINTS_MAX if allow_negative else 1, "maximum": POINTS_MAX}
        kw["metadata"] = {**doc, **kw.get("metadata", {})}
        super().__init__(strict=True, **kw)

    def _deserialize(self, value, attr, data, **kw):
        p = super()._deserialize(value, attr, data, **kw)
        if p == 0:
            raise ValidationError(coded(_l("Points must not be zero.")))
        if p < 0 and not self.allow_negative:
            raise ValidationError(coded(_l("Must be a positive number of points.")))
        if abs(p) > POINTS_MAX:
            raise ValidationError(coded(_l("Too large.")))
        return p


# --------------------------------------------------------------------------- decimals

DECIMAL_DOC = {"type": "string", "pattern": r"^\d{1,12}(\.\d{1,3})?$", "example": "1.00"}
_PLACES = {2: _l("At most two decimals."), 3: _l("At most three decimals.")}


class DecimalIn(fields.Decimal):
    """A decimal given as a string (or a JSON number; never NaN or infinity), with
    ``low <= value`` (``<`` unless ``low_inclusive``) and ``value < high`` (``<=`` with
    ``high_inclusive``), and at most ``places`` decimals when given: a value with more is
    refused, never rounded."""

    def __init__(self, low, high, low_inclusive=True, *, high_inclusive: bool = False, places: int | None = None,
                 **kw):
        self.low, self.high, self.low_inclusive = Decimal(low), Decimal(high), low_inclusive
        self.high_inclusive, self.max_places = high_inclusive, places
        doc = dict(DECIMAL_DOC)
        if self.low < 0:  # a negative value is allowed: say so in the OpenAPI pattern
            doc["pattern"] = "^-?" + doc["pattern"][1:]
        kw["metadata"] = {**doc, **kw.get("metadata", {})}
        super().__init__(as_string=True, allow_nan=False, **kw)

    def _deserialize(self, value, attr, data, **kw):
        d = super()._deserialize(value, attr, data, **kw)
        if self.high_inclusive:
            if d > self.high:
                raise ValidationError(coded(_l("Must be at most %(max)s.", max=self.high)))
            if d < self.low or (d == self.low and not self.low_inclusive):
                raise ValidationError(coded(_l("Must be at least %(min)s.", min=self.low) if self.low_inclusive
                                            else _l("Must be greater than %(min)s.", min=self.low)))
        elif d < self.low or (d == self.low and not self.low_inclusive) or d >= self.high:
            op = ">=" if self.low_inclusive else ">"
            raise ValidationError(coded(_l("Must be %(op)s %(low)s and below %(high)s.", op=op, low=self.low,
                                           high=self.high)))
        if self.max_places is not None and d.as_tuple().exponent < -self.max_places and d != round(d, self.max_places):
            raise ValidationError(coded(_PLACES.get(self.max_places)
                                        or _l("At most %(places)s decimals.", places=self.max_places)))
        return d


class _MoneyOut(fields.Decimal):
    """``Money()``: written for responses; should a request schema use it all the same, a
    value is read as ``MoneyIn(allow_negative=True)`` reads it (2 decimals, ``|v| < 10**11``),
    never passed on unchecked ("1e400" would reach ``quantize`` and answer 500)."""

    def _deserialize(self, value, attr, data, **kw):
        d = super()._deserialize(value, attr, data, **kw)
        if abs(d) >= MONEY_HIGH:
            raise ValidationError(coded(_l("Must be %(op)s %(low)s and below %(high)s.", op=">", low=-MONEY_HIGH,
                                           high=MONEY_HIGH)))
        if d.as_tuple().exponent < -2 and d != round(d, 2):
            raise ValidationError(coded(_PLACES[2]))
        return d


def Money(**kw) -> fields.Decimal:
    """An amount in a response: a string with the stored decimals (``"12.50"``)."""
    kw.setdefault("metadata", {"type": "string", "example": "1.00"})
    return _MoneyOut(places=None, as_string=True, allow_nan=False, **kw)


#: the largest amount a money input takes (below ``core.validation.MONEY_MAX``)
MONEY_HIGH = 10**11


def MoneyIn(*, positive: bool = False, allow_negative: bool = False, high=None, **kw) -> DecimalIn:
    """An amount of money: at most two decimals. Default ``0 <= v < 10**11``; ``positive``:
    ``v > 0``; ``allow_negative``: ``-10**11 < v`` (an adjustment); ``high``: a business
    ceiling, inclusive (``MoneyIn(positive=True, high=10_000_000)``), with ``allow_negative``
    also the floor (``-high <= v <= high``)."""
    if high is None:
        low = -MONEY_HIGH if allow_negative else 0
        return DecimalIn(low, MONEY_HIGH, not (positive or allow_negative), places=2, **kw)
    low = -Decimal(high) if allow_negative else 0
    return DecimalIn(low, high, not positive, high_inclusive=True, places=2, **kw)


def Qty(**kw) -> DecimalIn:
    """A quantity on a line: ``0 < v < 10**8``, at most three decimals."""
    return DecimalIn(0, 10**8, low_inclusive=False, places=3, **kw)


class RuleDecimal(fields.Decimal):
    """A decimal checked against a column's rule (``core.fields``): range and decimals as
    the column declares them. Given as a string (or a JSON number)."""

    def __init__(self, rule, **kw):
        self.rule = rule
        doc = {"type": "string", "example": "1.00"}
        if rule.decimals is not None:
            doc["description"] = f"at most {rule.decimals} decimals"
        if rule.minimum is not None:
            doc["x-minimum"] = str(rule.minimum)
        if rule.maximum is not None:
            doc["x-maximum"] = str(rule.maximum)
        kw["metadata"] = {**doc, **kw.get("metadata", {})}
        super().__init__(as_string=True, allow_nan=False, **kw)

    def _deserialize(self, value, attr, data, **kw):
        d = super()._deserialize(value, attr, data, **kw)
        errors = self.rule.errors(d)
        if errors:
            raise ValidationError([coded(m) for m in errors])
        return d


class RuleInteger(fields.Integer):
    """An integer checked against a column's rule (range as the column declares it)."""

    def __init__(self, rule, **kw):
        self.rule = rule
        super().__init__(strict=True, **kw)

    def _deserialize(self, value, attr, data, **kw):
        n = super()._deserialize(value, attr, data, **kw)
        errors = self.rule.errors(n)
        if errors:
            raise ValidationError([coded(m) for m in errors])
        return n


def from_column(attr, min: int | None = None, **kw):
    """The input field of an ORM column (``from_column(Product.cost)``) from its rule
    (``core.fields.rule_of``): text with its length and no control characters, an integer
    or a decimal in the declared range with the column's decimals. The back office and the
    database session apply the same rule; ``min`` is a minimum length for text."""
    rule = rule_of(attr)
    if rule.kind == "string":
        validators = _validators(kw.pop("validate", None))
        if rule.pattern:
            validators.append(validate.Regexp(rule.pattern))
        return Str(max=rule.max_length, min=min if min is not None else rule.min_length, validate=validators, **kw)
    if rule.kind == "integer":
        return RuleInteger(rule, **kw)
    if rule.kind in ("decimal", "float"):
        return RuleDecimal(rule, **kw)
    raise TypeError(f"no input field for column {attr}")


# --------------------------------------------------------------------------- times

class Instant(fields.DateTime):
    """A point in time in the API (the rule is in docs/index.md, "Times and dates").

    In: ISO 8601. With an offset (``Z``, ``+08:00``) it means that instant; WITHOUT one it
    is the chain's local wall-clock time (``[locale] timezone``), as in the back office.
    Loads as naive UTC, how the database stores it; a year outside 1900..9000 is refused.
    Out: ISO 8601 in the chain's local time WITH its offset, e.g. ``2026-12-01T00:30:00+08:00``
    (the stored naive UTC ``2026-11-30T16:30:00``), so a client may read either the wall-clock
    time or the instant, and may send it back unchanged."""

    def __init__(self, **kw):
        meta = {"example": "2026-12-01T00:30:00+08:00", **kw.pop("metadata", {})}
        super().__init__(metadata=meta, **kw)

    def _serialize(self, value, attr, obj, **kw):
        return super()._serialize(aware_local(value), attr, obj, **kw)

    def _deserialize(self, value, attr, data, **kw):
        dt = super()._deserialize(value, attr, data, **kw)
        if not YEARS[0] <= dt.year <= YEARS[1]:
            raise ValidationError(coded(_l("Out of range.")))
        return to_utc(dt)


#: the former name of :class:`Instant` (input)
NaiveUTC = Instant


class SafeDate(fields.Date):
    """A calendar date (``YYYY-MM-DD``) between 1900 and 9000; business dates are the
    chain's local dates."""

    def _deserialize(self, value, attr, data, **kw):
        d = super()._deserialize(value, attr, data, **kw)
        if not YEARS[0] <= d.year <= YEARS[1]:
            raise ValidationError(coded(_l("Out of range.")))
        return d


class Items(fields.List):
    """A list of nested items (``Items(ItemSchema, unique=("plan_id",))``). ``unique``: the
    item fields (a name, or a tuple of names taken together) that no two items may share:
    an item repeating an earlier one's key is a 422 on ``<list>.<i>.<field>`` (the last
    name of the key), never silently folded into one (the last one winning) nor left for
    the database to refuse on a column name that is not in the request
    (:func:`core.validation.duplicate_indexes`)."""

    def __init__(self, nested, unique=(), **kw):
        super().__init__(fields.Nested(nested), **kw)
        self.unique = [(k,) if isinstance(k, str) else tuple(k) for k in unique]

    def _deserialize(self, value, attr, data, **kw):
        from core.validation import GIVEN_TWICE, duplicate_indexes

        items = super()._deserialize(value, attr, data, **kw)
        errors: dict = {}
        for key in self.unique:
            for i in duplicate_indexes([tuple(item.get(k) for k in key) for item in items]):
                errors.setdefault(i, {})[key[-1]] = [coded(GIVEN_TWICE)]
        if errors:
            raise ValidationError(errors)
        return items
