"""Customer segments: rules over customer fields, compiled to one SQL ``WHERE``.

The kernel and the installed addons contribute the fields (``segment_fields`` hook,
``core.contrib.SegmentField``): each gives a SQL expression over ``core_customer`` and a type.
A rule set is a JSON tree of groups and conditions::

    {"op": "and", "rules": [
        {"field": "core.spend", "params": {"days": 90}, "operator": "ge", "value": "500"},
        {"op": "or", "rules": [
            {"field": "core.birthday_month", "operator": "eq", "value": 5},
            {"field": "loyalty.points", "operator": "gt", "value": 1000}]}]}

:func:`compile_rules` validates the tree and returns a SQLAlchemy criterion over
``core.models.Customer``; :func:`audience` wraps it in a ``SELECT core_customer.id`` limited to
the active, unmerged customers of the given stores. Customers are never loaded into Python:
counts and snapshots run as one statement in the database.

Operators by type (``value`` shape in brackets):

- ``number``/``money``: ``eq ne lt le gt ge`` (a number), ``between`` ([low, high], both
  included), ``empty``/``not_empty`` (no value)
- ``date``: ``before``/``after`` (a local date ``YYYY-MM-DD``; before = earlier than that
  day, after = on or later than the day after), ``within_days``/``not_within_days`` (N whole
  days: within the last N local days, today included; not within includes "never")
- ``text``: ``eq ne contains`` (a string), ``in`` (a list), ``empty``/``not_empty``
- ``choice``: ``eq ne`` (one of the field's choices), ``in``/``not_in`` (a list of them),
  ``empty``/``not_empty``; a value outside the field's declared ``choices`` (a
  ``core.labels.Choices`` set, pairs, or a callable: ``SegmentField.allowed``) is refused.
  Every field with a fixed set of values is a ``choice`` field (the registry refuses
  ``choices`` on another type and a ``choice`` field without them)
- ``bool``: ``is_true``/``is_false`` (no value)

``ne`` and ``not_in`` also match customers for whom the field is empty ("tier is not gold"
includes customers without a tier). Bad rules raise :class:`core.errors.BusinessError` whose
keys name the place in the tree, e.g. ``rules.1.rules.0.value``.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import and_, extract, false, func, or_, select, true

from core.contrib import SEGMENT_TYPES, SegmentField, SegmentParam
from core.errors import BusinessError
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.localtime import local_days_start, local_midnight

MAX_DEPTH = 5
MAX_CONDITIONS = 60

OPERATORS = {
    "number": ("eq", "ne", "lt", "le", "gt", "ge", "between", "empty", "not_empty"),
    "money": ("eq", "ne", "lt", "le", "gt", "ge", "between", "empty", "not_empty"),
    "date": ("before", "after", "within_days", "not_within_days", "empty", "not_empty"),
    "text": ("eq", "ne", "contains", "in", "empty", "not_empty"),
    "choice": ("eq", "ne", "in", "not_in", "empty", "not_empty"),
    "bool": ("is_true", "is_false"),
}
_NO_VALUE = ("empty", "not_empty", "is_true", "is_false")


def fields(registry) -> dict[str, SegmentField]:
    """Every segment field of the kernel and the installed addons, by code (``registry`` is a
    ``core.plugins.Registry`` or a runtime). A field of unknown type, a code that does not
    start with its owner's name, or a code declared twice raises ``AddonError``."""
    from core.errors import AddonError
    from core.plugins import collect_items

    pm = getattr(registry, "pm", None) or registry.registry.pm
    out: dict[str, SegmentField] = {}
    for owner, f in collect_items(pm, "segment_fields"):
        if f.type not in SEGMENT_TYPES:
            raise AddonError(f"addon {owner}: segment field {f.code!r} has unknown type {f.type!r}")
        if not f.code.startswith(f"{owner}."):
            raise AddonError(f"addon {owner}: segment field {f.code!r} must start with {owner!r}.")
        if f.code in out:
            raise AddonError(f"segment field {f.code!r} is declared twice")
        if (f.minimum is not None or f.maximum is not None or f.whole) and f.type not in ("number", "money"):
            raise AddonError(f"addon {owner}: segment field {f.code!r}: a range or 'whole' is for number and money "
                             f"fields")
        if f.choices is not None and f.type != "choice":
            raise AddonError(f"addon {owner}: segment field {f.code!r}: choices are for a 'choice' field (declare "
                             f"its type 'choice', so that every value is checked against them)")
        if f.type == "choice" and f.choices is None:
            raise AddonError(f"addon {owner}: segment field {f.code!r}: a 'choice' field declares its choices")
        if f.minimum is not None and f.maximum is not None and Decimal(str(f.minimum)) > Decimal(str(f.maximum)):
            raise AddonError(f"addon {owner}: segment field {f.code!r}: minimum above maximum")
        out[f.code] = f
    return out


def fields_of(session) -> dict[str, SegmentField]:
    """:func:`fields` of the runtime the session belongs to."""
    from core.db import RUNTIME

    return fields(RUNTIME.get(session).registry)


def describe(session) -> list[dict]:
    """The fields for an editor: ``[{code, label, type, operators, minimum, maximum, whole,
    params: [{name, label,
    default, minimum, maximum}], choices: [{value, label}] | None}]`` sorted by code."""
    out = []
    for code, f in sorted(fields_of(session).items()):
        out.append({
            "code": code, "label": str(f.label), "type": f.type, "addon": f.addon,
            "operators": list(OPERATORS[f.type]), "minimum": f.minimum, "maximum": f.maximum, "whole": f.whole,
            "params": [{"name": p.name, "label": str(p.label), "default": p.default,
                        "minimum": p.minimum, "maximum": p.maximum} for p in f.params],
            "choices": ([{"value": v, "label": str(lbl)} for v, lbl in f.allowed(session)]
                        if f.choices is not None else None),
        })
    return out


class _Compiler:
    def __init__(self, session, known: dict[str, SegmentField]):
        self.session = session
        self.known = known
        self.errors: dict[str, list] = {}
        self.conditions = 0
        self._choices: dict[str, list] = {}

    def fail(self, path: str, message) -> None:
        self.errors.setdefault(path, []).append(message)

    def node(self, node, path: str, depth: int):
        if not isinstance(node, dict):
            self.fail(path, _("Each rule must be an object."))
            return None
        if "rules" in node or "op" in node:
            return self.group(node, path, depth)
        return self.condition(node, path)

    def group(self, node, path: str, depth: int):
        if depth > MAX_DEPTH:
            self.fail(path, _("Groups nest at most %(n)s levels deep.", n=MAX_DEPTH))
            return None
        op = node.get("op", "and")
        if op not in ("and", "or"):
            self.fail(f"{path}.op", _("Use 'and' or 'or'."))
            return None
        rules = node.get("rules")
        if not isinstance(rules, list):
            self.fail(f"{path}.rules", _("A group needs a list of rules."))
            return None
        parts = [self.node(r, f"{path}.rules.{i}", depth + 1) for i, r in enumerate(rules)]
        parts = [p for p in parts if p is not None]
        if not parts:  # an empty group: "and" of nothing is everyone, "or" of nothing no one
            return true() if op == "and" else false()
        return and_(*parts) if op == "and" else or_(*parts)

    def condition(self, node, path: str):
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            if self.conditions == MAX_CONDITIONS + 1:
                self.fail(path, _("A segment has at most %(n)s conditions.", n=MAX_CONDITIONS))
            return None
        code = node.get("field")
        f = self.known.get(code) if isinstance(code, str) else None
        if f is None:
            self.fail(f"{path}.field", _("Unknown field %(field)s.", field=str(code)))
            return None
        op = node.get("operator")
        if op not in OPERATORS[f.type]:
            self.fail(f"{path}.operator", _("Choose one of: %(ops)s.", ops=", ".join(OPERATORS[f.type])))
            return None
        params = self.params(f, node.get("params") or {}, f"{path}.params")
        if params is None:
            return None
        expr = f.expression(params)
        if op in _NO_VALUE:
            return {"empty": expr.is_(None), "not_empty": expr.is_not(None),
                    "is_true": expr.is_(True), "is_false": or_(expr.is_(False), expr.is_(None))}[op]
        value = self.value(f, op, node.get("value"), f"{path}.value")
        if value is None:
            return None
        return self.compare(f, op, expr, value)

    def params(self, f: SegmentField, given, path: str):
        if not isinstance(given, dict):
            self.fail(path, _("Parameters must be an object."))
            return None
        out, ok = {}, True
        names = {p.name for p in f.params}
        for extra in set(given) - names:
            self.fail(f"{path}.{extra}", _("Unknown parameter."))
            ok = False
        for p in f.params:
            raw = given.get(p.name, p.default)
            try:
                val = int(raw)
                if isinstance(raw, float) and raw != val or isinstance(raw, bool):
                    raise ValueError
            except (TypeError, ValueError):
                self.fail(f"{path}.{p.name}", _("Enter a whole number."))
                ok = False
                continue
            if not p.minimum <= val <= p.maximum:
                self.fail(f"{path}.{p.name}", _("Enter a number from %(lo)s to %(hi)s.", lo=p.minimum, hi=p.maximum))
                ok = False
                continue
            out[p.name] = val
        return out if ok else None

    def _scalar(self, f: SegmentField, raw, path: str):
        if f.type in ("number", "money"):
            if isinstance(raw, bool) or raw is None or isinstance(raw, (list, dict)):
                self.fail(path, _("Enter a number."))
                return None
            try:
                val = Decimal(str(raw).strip())
            except (InvalidOperation, ValueError):
                self.fail(path, _("Enter a number."))
                return None
            if not val.is_finite():
                self.fail(path, _("Enter a number."))
                return None
            return self._checked(f, self._in_range(f, val, path), path)
        if f.type == "choice":
            if f.code not in self._choices:
                self._choices[f.code] = [v for v, _lbl in f.allowed(self.session) or ()]
            for v in self._choices[f.code]:
                if str(v) == str(raw):
                    return self._checked(f, v, path)
            self.fail(path, _("Not one of the choices: %(value)s.", value=str(raw)))
            return None
        if not isinstance(raw, (str, int)) or isinstance(raw, bool) or str(raw) == "":
            self.fail(path, _("Enter a value."))
            return None
        return self._checked(f, str(raw), path)

    def _in_range(self, f: SegmentField, val: Decimal, path: str):
        """``val`` when it is within the field's range (and whole, when the field is)."""
        if f.whole and val != val.to_integral_value():
            self.fail(path, _("Enter a whole number."))
            return None
        lo = None if f.minimum is None else Decimal(str(f.minimum))
        hi = None if f.maximum is None else Decimal(str(f.maximum))
        if (lo is not None and val < lo) or (hi is not None and val > hi):
            if lo is not None and hi is not None:
                self.fail(path, _("Enter a number from %(lo)s to %(hi)s.", lo=f.minimum, hi=f.maximum))
            elif lo is not None:
                self.fail(path, _("Enter a number of %(lo)s or more.", lo=f.minimum))
            else:
                self.fail(path, _("Enter a number of %(hi)s or less.", hi=f.maximum))
            return None
        return int(val) if f.whole else val

    def _checked(self, f: SegmentField, val, path: str):
        """``val`` after the field's own ``validate`` (None and the error recorded when it refuses)."""
        if val is None or f.validate is None:
            return val
        problem = f.validate(val)
        if problem:
            self.fail(path, problem)
            return None
        return val

    def value(self, f: SegmentField, op: str, raw, path: str):
        if f.type == "date":
            if op in ("within_days", "not_within_days"):
                try:
                    n = int(raw)
                    if isinstance(raw, bool) or n < 1 or n > 36600:
                        raise ValueError
                except (TypeError, ValueError):
                    self.fail(path, _("Enter a whole number of days (1 or more)."))
                    return None
                return n
            from core.localtime import date_error, parse_date

            # the kernel's range of days (as every date field): a far year is a typo, and its
            # day bounds could not be computed in the chain's zone
            try:
                return parse_date(raw)
            except ValueError as exc:
                self.fail(path, date_error(exc))
                return None
        if op == "between":
            if not isinstance(raw, (list, tuple)) or len(raw) != 2:
                self.fail(path, _("Enter two numbers: the lowest and the highest."))
                return None
            lo, hi = self._scalar(f, raw[0], f"{path}.0"), self._scalar(f, raw[1], f"{path}.1")
            if lo is None or hi is None:
                return None
            if lo > hi:
                self.fail(path, _("The lowest must not exceed the highest."))
                return None
            return (lo, hi)
        if op in ("in", "not_in"):
            if not isinstance(raw, (list, tuple)) or not raw:
                self.fail(path, _("Choose at least one value."))
                return None
            vals = [self._scalar(f, r, f"{path}.{i}") for i, r in enumerate(raw)]
            return None if any(v is None for v in vals) else vals
        return self._scalar(f, raw, path)

    @staticmethod
    def compare(f: SegmentField, op: str, expr, value):
        if op == "eq":
            return expr == value
        if op == "ne":
            return or_(expr != value, expr.is_(None))
        if op == "lt":
            return expr < value
        if op == "le":
            return expr <= value
        if op == "gt":
            return expr > value
        if op == "ge":
            return expr >= value
        if op == "between":
            return expr.between(value[0], value[1])
        if op == "in":
            return expr.in_(value)
        if op == "not_in":
            return or_(expr.not_in(value), expr.is_(None))
        if op == "contains":
            return func.lower(expr).contains(value.lower(), autoescape=True)
        if op == "before":
            return expr < local_midnight(value)
        if op == "after":
            return expr >= local_midnight(value + timedelta(days=1))
        if op == "within_days":
            return expr >= local_days_start(value)
        # not_within_days
        return or_(expr < local_days_start(value), expr.is_(None))


def compile_rules(session, rules, known: dict[str, SegmentField] | None = None):
    """The SQL criterion over ``core.models.Customer`` for the rule tree ``rules`` (see the
    module doc). ``known`` defaults to the session's runtime's fields. Raises
    :class:`BusinessError` (422) with every problem, keyed by its place in the tree."""
    comp = _Compiler(session, known if known is not None else fields_of(session))
    if not isinstance(rules, dict):
        raise BusinessError({"rules": [_("The rules must be a group object.")]})
    crit = comp.group(rules, "rules", 1)
    if comp.errors:
        raise BusinessError(comp.errors)
    return crit


def audience(session, rules, store_ids=None, known=None):
    """``SELECT core_customer.id`` of the active, unmerged customers matching ``rules`` whose
    home store is in ``store_ids`` (None: every customer). The statement is unscoped: the
    caller passes the user's stores (``core.security.scope.scope_of(session).store_ids``)."""
    from core.models import Customer

    crit = compile_rules(session, rules, known)
    stmt = select(Customer.id).where(Customer.active.is_(True), Customer.merged_into_id.is_(None), crit)
    if store_ids is not None:
        stmt = stmt.where(Customer.home_store_id.in_(sorted(store_ids)))
    return stmt.execution_options(banyan_unscoped=True)


def count(session, rules, store_ids=None, known=None) -> int:
    """The number of customers :func:`audience` selects, counted in the database."""
    sub = audience(session, rules, store_ids, known).subquery()
    return int(session.execute(select(func.count()).select_from(sub)
                               .execution_options(banyan_unscoped=True)).scalar() or 0)


# --------------------------------------------------------------------------- kernel fields

def _sales(days: int):
    from core.models import Customer, Sale

    return (Sale.customer_id == Customer.id, Sale.state != "draft", Sale.confirmed_at >= local_days_start(days))


def _spend(params):
    from core.models import Sale

    return (select(func.coalesce(func.sum(Sale.total), 0)).where(*_sales(params["days"]))
            .correlate_except(Sale).scalar_subquery())


def _visits(params):
    from core.models import Sale

    return (select(func.count(Sale.id)).where(*_sales(params["days"]), Sale.kind == "sale")
            .correlate_except(Sale).scalar_subquery())


def _last_purchase(params):
    from core.models import Customer, Sale

    return (select(func.max(Sale.confirmed_at))
            .where(Sale.customer_id == Customer.id, Sale.kind == "sale", Sale.state != "draft")
            .correlate_except(Sale).scalar_subquery())


def _store_choices(session):
    from core.models import Store

    return [(sid, f"{code} {name}") for sid, code, name in
            session.execute(select(Store.id, Store.code, Store.name).order_by(Store.code))]


def _home_store(params):
    from core.models import Customer

    return Customer.home_store_id


def _birthday_month(params):
    from core.models import Customer

    return extract("month", Customer.birthday)


def _language(params):
    from core.models import Customer

    return Customer.language


def _gender(params):
    from core.models import Customer

    return Customer.gender


def _customer_kind(params):
    from core.models import Customer

    return Customer.kind


_DAYS = SegmentParam("days", _l("Days"), 90)


def kernel_fields() -> list[SegmentField]:
    """The kernel's own segment fields (``core.defaults.kernel`` returns them). Every field
    with a fixed set of values is a ``choice`` field declaring its set (checked values)."""
    from core.labels import CUSTOMER_KIND, GENDER, LANGUAGE

    return [
        SegmentField("core.home_store", _l("Home store"), "choice", _home_store, choices=_store_choices),
        SegmentField("core.birthday_month", _l("Birthday month"), "number", _birthday_month, minimum=1, maximum=12,
                     whole=True),
        SegmentField("core.language", _l("Language"), "choice", _language, choices=LANGUAGE),
        SegmentField("core.gender", _l("Gender"), "choice", _gender, choices=GENDER),
        SegmentField("core.customer_kind", _l("Customer kind"), "choice", _customer_kind, choices=CUSTOMER_KIND),
        SegmentField("core.last_purchase", _l("Last purchase"), "date", _last_purchase),
        SegmentField("core.spend", _l("Spend in the last N days"), "money", _spend, params=(_DAYS,)),
        SegmentField("core.visits", _l("Visits in the last N days"), "number", _visits, params=(_DAYS,), minimum=0,
                     whole=True),
    ]


__all__ = ["MAX_CONDITIONS", "MAX_DEPTH", "OPERATORS", "audience", "compile_rules", "count", "describe",
           "fields", "fields_of", "kernel_fields"]
