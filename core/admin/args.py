"""What the back office reads from a query string or a posted form before it reaches the
database: ids, page numbers and search texts a person or an attacker may have typed.

PostgreSQL refuses an ``integer`` outside 32 bits, a negative ``OFFSET`` and any text holding
NUL; SQLite cannot bind an integer beyond 64 bits. Without these converters
``?id=99999999999999999999``, ``?page=-1`` or ``?search=%00`` answered 500. With them a bad
id is "no such record" (404, or Flask-Admin's "record does not exist"), a bad page is the
nearest real one and control characters are dropped from a search.

Use ``request.args.get("id", type=record_id)`` (Werkzeug returns the default when the
converter raises ``ValueError``), ``type=bounded(1, 10_000)`` for other numbers, and
:func:`search_text` for a typed search.
"""
from __future__ import annotations

from sqlalchemy import Integer

from core.fields import CONTROL_CHARS, INT_RANGES

#: the largest id an ``Integer`` primary key holds (PostgreSQL ``integer``)
MAX_ID = INT_RANGES[Integer]
#: the largest OFFSET we ever send (any page beyond it is empty anyway: lists count up to a cap)
MAX_OFFSET = 2**31 - 1


def record_id(text) -> int:
    """``text`` as the id of a record: a whole number from 1 to :data:`MAX_ID`; raises
    ``ValueError`` otherwise (so ``request.args.get(..., type=record_id)`` gives None)."""
    value = int(str(text).strip())
    if not 1 <= value <= MAX_ID:
        raise ValueError(text)
    return value


def id_or_none(text) -> int | None:
    """:func:`record_id`, or None when ``text`` cannot name a record."""
    try:
        return record_id(text)
    except (TypeError, ValueError):
        return None


def bounded(lo: int, hi: int):
    """A converter for ``request.args.get(..., type=...)``: a whole number from ``lo`` to
    ``hi`` (outside: ``ValueError``, so the default applies)."""

    def convert(text) -> int:
        value = int(str(text).strip())
        if not lo <= value <= hi:
            raise ValueError(text)
        return value

    return convert


def clamp(value, lo: int, hi: int, default: int) -> int:
    """``value`` (an int or None) brought into ``lo..hi``; ``default`` when None."""
    if value is None:
        return default
    return max(lo, min(hi, int(value)))


def search_text(text: str | None) -> str | None:
    """A typed search without control characters (NUL and the other C0 characters, which
    no stored text holds and PostgreSQL refuses in a query)."""
    if text is None:
        return None
    return CONTROL_CHARS.sub("", text)


def has_control(text) -> bool:
    return isinstance(text, str) and CONTROL_CHARS.search(text) is not None

