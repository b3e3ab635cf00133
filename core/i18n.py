"""Translations: one gettext domain per addon found by folder convention.

Strings are marked with ``lazy_gettext`` (alias ``_l``) at import time and ``gettext``
(alias ``_``) at request time. Outside a Flask request (CLI, jobs, tests) the default
locale from the configuration applies. Catalogs live in ``core/translations`` and
``addons/<name>/translations``; the app merges those of the installed addons.
"""
from __future__ import annotations

import contextlib
import contextvars
from decimal import Decimal
from pathlib import Path

from babel import Locale
from babel.numbers import format_currency, format_decimal
from babel.support import LazyProxy, Translations

LOCALES = ("zh_Hans", "en")
#: each language named in itself (a reader picks theirs by the name they read), never translated
LANGUAGE_NAMES = (("zh_Hans", "中文"), ("en", "English"))
_catalog_dirs: list[Path] = [Path(__file__).parent / "translations"]
_cache: dict[str, Translations] = {}
_fallback_locale = {"value": "zh_Hans"}
#: set by :func:`force_locale`: wins over the request's and the default locale
_forced_locale: contextvars.ContextVar[str | None] = contextvars.ContextVar("banyan_forced_locale", default=None)


def add_catalog_dir(path: Path) -> None:
    path = Path(path)
    if path.is_dir() and path not in _catalog_dirs:
        _catalog_dirs.append(path)
        _cache.clear()


def catalog_dirs() -> list[Path]:
    return list(_catalog_dirs)


def locale_from_accept(accept) -> str | None:
    """The best of :data:`LOCALES` for an ``Accept-Language`` header (werkzeug's parsed
    ``request.accept_languages``), by the client's order of preference: any Chinese tag
    (``zh``, ``zh-CN``, ``zh-Hans``, ``zh-SG``...) is ``zh_Hans``, the only Chinese
    catalog; any English one is ``en``. None when nothing matches. (werkzeug's own
    ``best_match`` answers ``zh-CN,zh;q=0.9,en;q=0.8`` with English.)"""
    for tag, quality in accept or ():
        if quality <= 0:
            continue
        primary = tag.replace("_", "-").split("-", 1)[0].lower()
        for loc in LOCALES:
            if loc.split("_", 1)[0].lower() == primary:
                return loc
    return None


def set_default_locale(locale: str) -> None:
    _fallback_locale["value"] = locale


def default_locale() -> str:
    """The chain's default locale (``[locale] default``)."""
    return _fallback_locale["value"]


@contextlib.contextmanager
def force_locale(locale: str | None):
    """Translate in ``locale`` inside the block, whatever the request's locale is: used to
    write to someone else in their language (``core.notify``). ``None`` or an unknown code
    means the chain's default locale. Lazy strings resolved inside the block follow it."""
    token = _forced_locale.set(locale if locale in LOCALES else default_locale())
    try:
        yield
    finally:
        _forced_locale.reset(token)


def current_locale() -> str:
    forced = _forced_locale.get()
    if forced is not None:
        return forced
    try:
        from flask import has_request_context
        from flask_babel import get_locale

        if has_request_context():
            loc = get_locale()
            if loc is not None:
                return str(loc)
    except Exception:  # noqa: BLE001 - no app configured: fall back
        pass
    return _fallback_locale["value"]


def translations(locale: str | None = None) -> Translations:
    locale = locale or current_locale()
    if locale not in _cache:
        merged = Translations()
        # Later merges win, so merge the kernel's catalog last: an addon may translate its
        # own strings, but the kernel's wording of a shared msgid stays the same everywhere.
        for d in reversed(_catalog_dirs):
            t = Translations.load(str(d), [locale], domain="messages")
            if isinstance(t, Translations):
                merged.merge(t)
                merged.plural = t.plural  # merge() keeps the empty base's (n != 1) plural rule
        _cache[locale] = merged
    return _cache[locale]


def gettext(message: str, **kw) -> str:
    text = translations().ugettext(message)
    return text % kw if kw else text


def template_gettext(message: str, **kw):
    """Templates' ``_``: :func:`gettext`, and when a value is markup (a link such as
    ``page_link(...)``) the translation is escaped and the markup put in as is (the other
    values escaped), as Jinja's own new-style gettext does: ``{{ _('see %(page)s',
    page=page_link('campaign_policy')) }}`` shows a link, not its source."""
    if not any(hasattr(v, "__html__") for v in kw.values()):
        return gettext(message, **kw)
    from markupsafe import Markup, escape

    return Markup(escape(translations().ugettext(message))) % kw


def ngettext(singular: str, plural: str, n: int, **kw) -> str:
    text = translations().ungettext(singular, plural, n)
    kw.setdefault("num", n)
    return text % kw


def pgettext(context: str, message: str, **kw) -> str:
    """``message`` in the meaning ``context`` names (gettext's ``msgctxt``). Every catalog
    is merged into one table, so a word that means two things in the suite (a sales
    ``Ticket`` and a service ``Ticket``) gives the less common meaning a context: its
    translation is then its own (``core.i18n_tools.conflicts`` reports a msgid translated
    two ways). Without a translation for the context, ``message`` itself is answered."""
    text = translations().upgettext(context, message)
    return text % kw if kw else text


def lazy_gettext(message: str, **kw) -> LazyProxy:
    return LazyProxy(gettext, message, enable_cache=False, **kw)


def lazy_pgettext(context: str, message: str, **kw) -> LazyProxy:
    """:func:`pgettext`, resolved when shown (for labels declared at import time)."""
    return LazyProxy(pgettext, context, message, enable_cache=False, **kw)


_ = gettext
_l = lazy_gettext

#: how a stored msgid carries its context (:func:`lazy_pgettext`): ``"context\x04msgid"``, the
#: key gettext catalogs themselves file a ``msgctxt`` message under
CONTEXT_SEP = "\x04"
_PLAIN_ARGS = (str, int, float, bool, type(None))


def lazy_source(value) -> tuple[str, dict | None] | None:
    """What a lazy string was made of, to store instead of its text in one language:
    ``(msgid, args)`` for a :func:`lazy_gettext` string, ``("context\\x04msgid", args)`` for a
    :func:`lazy_pgettext` one (:data:`CONTEXT_SEP`); ``args`` is None without arguments, else a
    JSON-ready dict (strings, numbers, booleans, None; a ``Decimal`` as its plain digits, any
    other value -- a lazy string too -- as its text in the current language). None for
    anything else (a plain string: data such as a promotion's name, stored as typed).
    Read it back with :func:`stored_text`. Costs a few attribute reads: no translation."""
    if type(value) is not LazyProxy:
        return None
    func, pos = value._func, value._args
    if func is gettext and len(pos) == 1:
        msgid = pos[0]
    elif func is pgettext and len(pos) == 2:
        msgid = pos[0] + CONTEXT_SEP + pos[1]
    else:  # a lazy call of something else (a formatter, ngettext): nothing to look up again
        return None
    kw = value._kwargs
    if not kw:
        return msgid, None
    return msgid, {k: v if type(v) in _PLAIN_ARGS else format(v, "f") if isinstance(v, Decimal) else str(v)
                   for k, v in kw.items()}


def stored_text(msgid: str | None, args: dict | None, fallback: str | None = None) -> str:
    """The text of a message stored as :func:`lazy_source` answered it, in the current
    language (what ``str()`` of the lazy string gives in it). ``fallback`` (the text written
    when it was stored) when ``msgid`` is empty, or when the catalog's translation needs an
    argument the stored ones lack (``""`` for None)."""
    if not msgid:
        return fallback or ""
    try:
        if CONTEXT_SEP in msgid:
            context, message = msgid.split(CONTEXT_SEP, 1)
            return pgettext(context, message, **(args or {}))
        return gettext(msgid, **(args or {}))
    except (KeyError, ValueError, TypeError):  # a translation that does not fit the stored args
        return fallback or ""


def format_money(amount: Decimal, currency: str = "CNY", locale: str | None = None) -> str:
    loc = Locale.parse(locale or current_locale())
    return format_currency(amount, currency, locale=loc)


def format_number(value, places: int | None = None, locale: str | None = None) -> str:
    """A figure of a report as the user's locale writes it, with thousands grouped:
    ``Decimal("37728.9")`` -> ``"37,728.90"`` (a Decimal or float has 2 decimal places unless
    ``places`` says otherwise), ``12598`` -> ``"12,598"`` (an int has none); ``None`` -> ``""``.
    Templates use it as the ``number`` filter (``{{ r.value|number }}``); money with its
    currency sign is ``format_money`` (the ``money`` filter)."""
    if value is None:
        return ""
    if places is None:
        places = 0 if isinstance(value, int) and not isinstance(value, bool) else 2
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=Locale.parse(locale or current_locale()))


def format_quantity(value, locale: str | None = None) -> str:
    """A quantity as people read it: grouped, without trailing zeros, at most 3 decimals
    (``Decimal("65.000")`` -> ``"65"``, ``Decimal("1250.500")`` -> ``"1,250.5"``); ``None`` -> ``""``."""
    if value is None:
        return ""
    return format_decimal(Decimal(str(value)), format="#,##0.###", locale=Locale.parse(locale or current_locale()))


def with_colon(text) -> str:
    """A label before its value, with the colon of the user's language: ``"期间："`` in
    Chinese (full-width, no space), ``"Period: "`` in English. Templates use it as the
    ``colon`` filter: ``{{ _('Period')|colon }}{{ value }}``."""
    return f"{text}：" if current_locale().startswith("zh") else f"{text}: "
