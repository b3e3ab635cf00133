"""Personal names as a chain addresses its customers: the given name of a Chinese name (its
surname taken off, compound surnames such as 欧阳 or 司马 included) and of a Latin one (the
first word). For greetings ("亲爱的芳", "Dear Amy"); ``core.lookup.mask_name`` hides names.

    given_name("王芳") == "芳"        given_name("欧阳娜娜") == "娜娜"
    given_name("Amy") == "Amy"       given_name("Amy Smith") == "Amy"
"""
from __future__ import annotations

import re
import unicodedata

__all__ = ["COMPOUND_SURNAMES", "given_name", "split_chinese_name"]

#: two-character Chinese surnames (复姓), the common ones of the 百家姓 and today's registers
COMPOUND_SURNAMES = frozenset("""
欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯 端木 轩辕 澹台 太史 申屠 南宫 西门
百里 呼延 万俟 闻人 独孤 钟离 公羊 赫连 东郭 拓跋 第五 濮阳 淳于 单于 太叔 仲孙 宗政 羊舌 微生 梁丘 左丘
东门 谷梁 段干 子车 司空 司寇 亓官 巫马 乐正 壤驷 公良 漆雕 颛孙 公西 公冶 鲜于 闾丘 南门 相里 胥门 即墨
""".split())


def _cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F") and not ch.isspace()


def split_chinese_name(name: str) -> tuple[str, str]:
    """``(surname, given name)`` of a Chinese name written without spaces: a compound
    surname when the name starts with one and has more after it, else the first character.
    A one-character name is its own given name."""
    if len(name) > 2 and name[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    if len(name) >= 2:
        return name[0], name[1:]
    return "", name


def given_name(name: str | None) -> str:
    """The name to greet a customer by: a Chinese name without its surname, a Latin name's
    first word (``Amy`` stays ``Amy``; ``Amy Smith`` is ``Amy``). Empty stays empty."""
    name = (name or "").strip()
    if not name:
        return ""
    compact = re.sub(r"\s+", "", name)
    if all(_cjk(ch) for ch in compact):
        return split_chinese_name(compact)[1]
    return re.split(r"\s+", name)[0]
