"""Codes people type: one normaliser, applied when a code is saved and when it is looked up.

A coupon saved as ``spring10`` must be found when the till types ``SPRING10``, ``spring10``,
`` spring 10 `` or the full-width ``ＳＰＲＩＮＧ１０`` a Chinese input method produces. So every
typed code (coupon, gift card, member card number, SKU, barcode, store/company/region/
warehouse/employee/price-list/category/tier/promotion codes...) is stored in one canonical
form and every lookup compares canonical forms.

The rule (:func:`normalize_code`), by kind:

``code`` (alphanumeric identifiers, the default)
    1. Unicode NFKC (full-width letters, digits and punctuation become their ASCII forms,
       the ideographic space becomes a space);
    2. every whitespace and invisible format character is removed, inside too
       (``"SPRING 10"`` is ``"SPRING10"``: people split codes to read them aloud);
    3. upper-case. Hyphens, dots and other punctuation are kept.
``key`` (configuration keys that also name rules, such as membership tier codes ``gold``)
    as ``code``, but lower-case (their stored form is already lower-case everywhere, and
    they appear inside rule codes such as ``membership.tier.gold``).
``barcode`` (EAN/UPC/ITF product barcodes)
    NFKC, whitespace, format characters and hyphens removed; what is left must be digits
    (refused on save otherwise).

An empty result is ``None`` (no code). How it is enforced, so that no surface can skip it:

* the column type :class:`Code` normalises every value bound to the database, writes
  (ORM flushes, Core ``insert``/``update``, imports, the CLI, demo data) and comparisons
  alike (``Coupon.code == "spring10"`` looks up ``SPRING10``; ``like`` patterns too);
* an attribute listener normalises the value as it is set on a mapped object, so the object
  (and the API answer built from it) holds the stored form at once, and refuses a value that
  is not a code with ``BusinessError({column: message})`` (422 in the API, a form error in
  the back office).

Use it in a model: ``code: Mapped[str] = mapped_column(Code(32), unique=True)``, or
``Code(40, kind="barcode")``. Existing rows are normalised by a migration of each branch
(:func:`normalize_table` helps; it refuses when two rows collide once normalised).
"""
from __future__ import annotations

import unicodedata

from sqlalchemy import String, event
from sqlalchemy.orm import Mapper
from sqlalchemy.types import TypeDecorator

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

KINDS = ("code", "key", "barcode")


def _squeeze(value: str, drop: str = "") -> str:
    text = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in text
                   if not ch.isspace() and ch not in drop and unicodedata.category(ch) != "Cf")


def normalize_code(value, kind: str = "code", strict: bool = False, field: str = "code") -> str | None:
    """The canonical form of a typed code (see the module docstring for the rule), or None
    when nothing is left. ``strict`` (saving): raise ``BusinessError({field: message})``
    when the value cannot be a code of ``kind``; lookups are lenient (a value that cannot
    be a code simply matches nothing)."""
    if value is None:
        return None
    if kind == "barcode":
        text = _squeeze(str(value), drop="-")
        if strict and text and not (text.isascii() and text.isdigit()):
            raise BusinessError({field: _l("A barcode has digits only.")})
    elif kind in ("code", "key"):
        text = _squeeze(str(value))
        text = text.upper() if kind == "code" else text.lower()
        if strict and text and not text.isprintable():
            raise BusinessError({field: _l("Letters, digits and punctuation only.")})
    else:  # pragma: no cover - a programming error
        raise ValueError(f"unknown code kind {kind!r}")
    return text or None


class Code(TypeDecorator):
    """A ``VARCHAR(length)`` holding a typed code in its canonical form (see module doc)."""

    impl = String
    cache_ok = True

    def __init__(self, length: int, kind: str = "code"):
        if kind not in KINDS:
            raise ValueError(f"unknown code kind {kind!r}")
        super().__init__(length)
        self.kind = kind

    def process_bind_param(self, value, dialect):
        return normalize_code(value, self.kind)

    def copy(self, **kw):
        return Code(self.impl.length, self.kind)


def _setter(kind: str, key: str):
    def on_set(target, value, oldvalue, initiator):
        return normalize_code(value, kind, strict=True, field=key)

    return on_set


@event.listens_for(Mapper, "mapper_configured")
def _normalise_on_set(mapper, cls) -> None:
    for prop in mapper.column_attrs:
        if prop.parent is not mapper or len(prop.columns) != 1:
            continue
        col_type = prop.columns[0].type
        if isinstance(col_type, Code):
            event.listen(getattr(cls, prop.key), "set", _setter(col_type.kind, prop.key), retval=True)


def normalize_table(op, table: str, column: str, kind: str = "code", key: str = "id") -> list[tuple[str, str]]:
    """For a migration: rewrite ``table.column`` in canonical form. Refuses (raises
    ``RuntimeError`` naming the rows) when two rows would collide once normalised, or a
    value would be left empty, before changing anything. Returns ``[(old, new)]`` for the
    rows changed (to fix copies of the code kept elsewhere, such as adjustment rule codes)."""
    import sqlalchemy as sa

    conn = op.get_bind()
    t = sa.table(table, sa.column(key), sa.column(column))
    rows = conn.execute(sa.select(t.c[key], t.c[column])).all()
    seen: dict[str, object] = {}
    clashes = []
    changes = []
    for ident, value in rows:
        new = normalize_code(value, kind)
        if new is None and value is not None:
            clashes.append(f"{table}.{column}: row {ident} ({value!r}) is empty once normalised")
        if new is not None:
            if new in seen:
                clashes.append(f"{table}.{column}: rows {seen[new]} and {ident} are both {new!r} once normalised")
            seen[new] = ident
        if new != value:
            changes.append((ident, value, new))
    if clashes:
        raise RuntimeError("Codes collide once normalised (rename one of each pair, then upgrade again): "
                           + "; ".join(clashes))
    for ident, _old, new in changes:
        conn.execute(sa.update(t).where(t.c[key] == ident).values({column: new}))
    return [(old, new) for _ident, old, new in changes]


def ticket_codes(raw) -> list[str]:
    """The codes typed on a ticket, canonical, without blanks or repeats, in typed order."""
    out: list[str] = []
    for value in raw or ():
        code = normalize_code(value)
        if code and code not in out:
            out.append(code)
    return out


def claim_ticket_codes(session, hook, ticket, adjustments) -> None:
    """Every code on ``ticket`` must be claimed by an addon (``claim_codes`` hook) and not
    refused; otherwise ``BusinessError({"codes": [one message per code]})``. The rule of
    the checkout and of previews, whichever addon owns the codes.

    Each code's outcome is kept as ``ticket.code_results`` (and on the error, as
    ``exc.code_results``): ``[{"code", "state": "applied" | "unknown" | "refused",
    "reason": message or None, "rule_code": str}]``, in typed order, so a till can say per
    code what happened (``core.services.till``)."""
    codes = list(getattr(ticket, "codes", None) or ())
    ticket.code_results = []
    if not codes:
        return
    claims: dict[str, list] = {}
    for result in hook.claim_codes(session=session, ticket=ticket, codes=codes, adjustments=list(adjustments)):
        for claim in result or ():
            claims.setdefault(normalize_code(claim.code), []).append(claim)
    problems, results = [], []
    for code in codes:
        got = claims.get(code)
        if not got:
            problems.append(_l("Code %(code)s: unknown code.", code=code))
            results.append({"code": code, "state": "unknown", "reason": _l("Unknown code."), "rule_code": ""})
        elif all(c.refused is not None for c in got):
            problems.append(_l("Code %(code)s: %(reason)s", code=code, reason=got[0].refused))
            results.append({"code": code, "state": "refused", "reason": got[0].refused, "rule_code": ""})
        else:
            used = next(c for c in got if c.refused is None)
            results.append({"code": code, "state": "applied", "reason": None, "rule_code": used.rule_code})
    ticket.code_results = results
    if problems:
        exc = BusinessError({"codes": problems})
        exc.code_results = results
        raise exc
