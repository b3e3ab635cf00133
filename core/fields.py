"""Field rules: what a column accepts, declared once beside the model, used by every surface.

A :class:`FieldRule` is derived from a mapped column:

* its SQLAlchemy type gives the capacity: ``String(n)`` at most ``n`` characters,
  ``Numeric(p, s)`` at most ``s`` decimals and ``|value| < 10**(p-s)``, ``Integer`` the
  32-bit range (PostgreSQL's ``integer``), ``BigInteger`` 64-bit, ``SmallInteger`` 16-bit;
  every text refuses control characters (NUL, which PostgreSQL cannot store, and the
  other C0 characters except tab and line breaks);
* the column's ``info`` adds the business range, declared beside the model:
  ``mapped_column(Money, info={"min": 0})``, ``info={"min": 0, "max": 100}``,
  ``info={"min": 0, "min_exclusive": True}``, ``info={"min_length": 1}``,
  ``info={"pattern": r"^[A-Z]{3}$"}`` (allowed characters).

Who uses the rules:

* the back office: every model view's form gets validators from them
  (:class:`core.admin.base.LocalModelConverter`), for every view of every addon;
* the API: input schemas build their fields with :func:`core.api.schemas.from_column`;
* the database session: :func:`check_flush` (installed by :func:`install_flush_guard`)
  checks every new or changed value of every ORM object before it is written, and refuses
  with :class:`core.errors.BusinessError` naming the attribute. No surface (custom pages,
  bulk actions, imports, jobs) can put a value in a column that cannot hold it, or that
  breaks the declared range: a 422 / a field error, never a database error (a 500).

Messages are lazy (``_l``) and translated when shown; each has a stable code (see
:data:`core.errors.MESSAGE_CODES`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import BigInteger, Float, Integer, Numeric, SmallInteger, String, TypeDecorator, event, inspect
from sqlalchemy.orm import Session

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

INT_RANGES = {SmallInteger: 2**15 - 1, BigInteger: 2**63 - 1, Integer: 2**31 - 1}
#: C0 control characters and DEL, except tab, line feed and carriage return
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class FieldRule:
    """What one column accepts. ``kind``: ``"string"``, ``"integer"``, ``"decimal"``,
    ``"float"`` or ``"other"`` (no rule beyond the type). ``minimum``/``maximum`` are
    inclusive unless ``min_exclusive``; ``decimals`` is the most digits after the point."""

    name: str
    kind: str
    max_length: int | None = None
    min_length: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    min_exclusive: bool = False
    decimals: int | None = None
    pattern: str | None = None

    def errors(self, value) -> list:
        """The lazy messages ``value`` breaks (empty when it is fine; ``None`` is fine:
        nullability is the schema's and the column's business)."""
        if value is None:
            return []
        if self.kind == "string":
            return self._string_errors(value)
        if self.kind in ("integer", "decimal", "float"):
            return self._number_errors(value)
        return []

    def _string_errors(self, value) -> list:
        if not isinstance(value, str):
            return []
        out = []
        if CONTROL_CHARS.search(value):
            out.append(_l("Must not contain control characters."))
        if self.max_length is not None and len(value) > self.max_length:
            out.append(_l("At most %(max)s characters.", max=self.max_length))
        if self.min_length is not None and len(value) < self.min_length:
            out.append(_l("At least %(min)s characters.", min=self.min_length))
        if self.pattern and value and not re.fullmatch(self.pattern, value):
            out.append(_l("Contains characters that are not allowed here."))
        return out

    def _number_errors(self, value) -> list:
        if isinstance(value, bool):
            return []
        if isinstance(value, float):
            if not math.isfinite(value):
                return [_l("Not a number.")]
            value = Decimal(repr(value))
        try:
            d = value if isinstance(value, Decimal) else Decimal(str(value))
        except (InvalidOperation, ValueError, TypeError):
            return [_l("Not a number.")]
        if not d.is_finite():
            return [_l("Not a number.")]
        out = []
        exp = d.normalize().as_tuple().exponent
        if self.decimals is not None and exp < -self.decimals:
            out.append(_l("A whole number is required.") if self.decimals == 0
                       else _l("At most %(places)s decimals.", places=self.decimals))
        if self.maximum is not None and d > self.maximum:
            out.append(_l("Must be at most %(max)s.", max=self.maximum))
        if self.minimum is not None and (d < self.minimum or (self.min_exclusive and d == self.minimum)):
            out.append(_l("Must be greater than %(min)s.", min=self.minimum) if self.min_exclusive
                       else _l("Must be at least %(min)s.", min=self.minimum))
        return out

    def check(self, value, field: str | None = None) -> None:
        """Raise ``BusinessError({field: messages})`` when ``value`` breaks the rule."""
        errors = self.errors(value)
        if errors:
            raise BusinessError({field or self.name: errors})


_cache: dict = {}


def _declared(info: dict, key: str):
    v = info.get(key)
    return None if v is None else Decimal(str(v))


def rule_of(column) -> FieldRule:
    """The :class:`FieldRule` of a ``Column`` (or an ORM attribute, ``Product.cost``)."""
    if hasattr(column, "property") and hasattr(column.property, "columns"):
        column = column.property.columns[0]
    hit = _cache.get(column)
    if hit is not None:
        return hit
    info = dict(getattr(column, "info", None) or {})
    t = column.type
    if isinstance(t, TypeDecorator):  # e.g. core.codes.Code: the rule of the stored type
        t = t.impl_instance if hasattr(t, "impl_instance") else t.impl
    kw = {"name": column.key}
    if isinstance(t, String):
        kw.update(kind="string", max_length=t.length, min_length=info.get("min_length"), pattern=info.get("pattern"))
    elif isinstance(t, Integer):
        cap = next(v for k, v in INT_RANGES.items() if isinstance(t, k))
        kw.update(kind="integer", decimals=0, minimum=Decimal(-cap), maximum=Decimal(cap))
    elif isinstance(t, Float):
        kw.update(kind="float", minimum=Decimal("-1e300"), maximum=Decimal("1e300"))
    elif isinstance(t, Numeric):
        p, s = t.precision, t.scale
        kw.update(kind="decimal", decimals=s)
        if p is not None:
            cap = Decimal(10) ** (p - (s or 0)) - Decimal(1).scaleb(-(s or 0))
            kw.update(minimum=-cap, maximum=cap)
    else:
        kw.update(kind="other")
    if kw["kind"] in ("integer", "decimal", "float"):
        lo, hi = _declared(info, "min"), _declared(info, "max")
        if lo is not None:
            kw["minimum"] = lo if kw.get("minimum") is None else max(lo, kw["minimum"])
            kw["min_exclusive"] = bool(info.get("min_exclusive"))
        if hi is not None:
            kw["maximum"] = hi if kw.get("maximum") is None else min(hi, kw["maximum"])
        if info.get("decimals") is not None:
            kw["decimals"] = int(info["decimals"])
    rule = FieldRule(**kw)
    _cache[column] = rule
    return rule


def rules_of(model) -> dict[str, FieldRule]:
    """``{attribute key: FieldRule}`` for every single-column attribute of ``model`` that
    has a rule (relations and multi-column properties left out). Cached per mapper."""
    mapper = inspect(model)
    hit = _cache.get(mapper)
    if hit is None:
        hit = {}
        for prop in mapper.column_attrs:
            if len(prop.columns) == 1 and getattr(prop.columns[0], "table", None) is not None:
                rule = rule_of(prop.columns[0])
                if rule.kind != "other":
                    hit[prop.key] = rule
        _cache[mapper] = hit
    return hit


def check_object(obj, keys=None) -> dict:
    """``{attribute: [messages]}`` for the values of ``obj`` (only ``keys`` when given)
    that break their column's rule."""
    errors = {}
    rules = rules_of(type(obj))
    values = obj.__dict__
    for key in (rules if keys is None else keys):
        rule = rules.get(key)
        if rule is None or key not in values:
            continue
        msgs = rule.errors(values[key])
        if msgs:
            errors[key] = msgs
    return errors


def check_flush(session, flush_context=None, instances=None) -> None:
    """``before_flush``: every new object's values and every changed value of a dirty one
    against the rules; ``BusinessError`` naming the attributes before anything is sent."""
    errors = {}
    for obj in session.new:
        errors.update(check_object(obj))
    for obj in session.dirty:
        state = inspect(obj)
        changed = state.committed_state
        if changed:
            errors.update(check_object(obj, list(changed)))
    if errors:
        raise BusinessError(errors)


def install_flush_guard() -> None:
    """Install :func:`check_flush` on every ORM session (idempotent)."""
    if not event.contains(Session, "before_flush", check_flush):
        event.listen(Session, "before_flush", check_flush)
