"""Pinyin initials of Chinese names, for finding a product at the till by typing them
(``kkkl`` finds 可口可乐), with the maintained ``pypinyin`` library.

The initials are computed once, when a name is saved (``Product.name_initials``, indexed),
not on every search: a prefix search on an indexed column stays a range scan however many
products the chain sells, where converting names at search time would read them all.
"""
from __future__ import annotations

import re

#: the stored column's width; longer initials are cut (a prefix search still finds them)
MAX_LEN = 80
_KEEP = re.compile(r"[0-9a-z]")


def initials(name: str | None) -> str:
    """Lower-case initials of ``name``: the first letter of each Chinese character's
    pinyin (heteronyms as pypinyin reads them in context), letters and digits of other
    text kept as they are (``可口可乐 330ml`` -> ``kkkl330ml``), everything else dropped.
    ``""`` for an empty name."""
    if not name:
        return ""
    from pypinyin import Style, lazy_pinyin

    out = []
    for part in lazy_pinyin(str(name), style=Style.FIRST_LETTER, errors="default", strict=False):
        out.extend(ch for ch in part.lower() if _KEEP.match(ch))
    return "".join(out)[:MAX_LEN]


def search_key(typed: str | None) -> str:
    """What a cashier typed, as compared with stored initials (lower case, letters and
    digits only), or ``""``."""
    return "".join(ch for ch in (typed or "").lower() if _KEEP.match(ch))[:MAX_LEN]
