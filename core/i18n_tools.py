"""Translation catalog tooling: extract, update, compile and check (``scripts/i18n.py``).

A *component* is the kernel (``core/`` -> ``core/translations/``) or one addon (its package
folder -> ``<package>/translations/``). Each has its own template ``messages.pot`` and one
catalog per locale in ``<translations>/<locale>/LC_MESSAGES/messages.po`` compiled to
``messages.mo`` (both committed). English is the source language: its catalog is filled
with the source strings by ``update``; every other locale is translated by hand.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from core.i18n import LOCALES

ROOT = Path(__file__).resolve().parent.parent
BABEL_CFG = ROOT / "babel.cfg"
SOURCE_LOCALE = "en"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2),
            "lazy_pgettext": ((1, "c"), 2)}
IGNORED_DIRS = {"tests", "translations", "__pycache__", "node_modules"}
# a fixed header date keeps regenerated files free of noise in diffs
HEADER_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Component:
    name: str
    source: Path        # folder scanned for strings
    translations: Path  # <source>/translations

    @property
    def pot(self) -> Path:
        return self.translations / "messages.pot"

    def po(self, locale: str) -> Path:
        return self.translations / locale / "LC_MESSAGES" / "messages.po"

    def mo(self, locale: str) -> Path:
        return self.translations / locale / "LC_MESSAGES" / "messages.mo"


def components(only: list[str] | None = None) -> list[Component]:
    """The kernel, every addon folder under ``addons/``, and every other discovered addon
    (e.g. an external ``banyan-addon-*`` installed editable). ``only`` filters by name."""
    found = {"core": Component("core", ROOT / "core", ROOT / "core" / "translations")}
    for manifest in sorted((ROOT / "addons").glob("*/__manifest__.py")):
        folder = manifest.parent
        found.setdefault(folder.name, Component(folder.name, folder, folder / "translations"))
    try:
        import importlib.util

        from core.addons.discovery import discover

        for name, info in sorted(discover().items()):
            if name in found:
                continue
            spec = importlib.util.find_spec(info.package)
            if spec is not None and spec.submodule_search_locations:
                folder = Path(list(spec.submodule_search_locations)[0])
                found[name] = Component(name, folder, folder / "translations")
    except Exception:  # noqa: BLE001 - discovery problems are reported by the addon CLI
        pass
    if only:
        unknown = set(only) - set(found)
        if unknown:
            raise SystemExit(f"unknown component(s): {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(found)}")
        return [found[n] for n in only]
    return list(found.values())


def _method_map():
    from babel.messages.frontend import parse_mapping_cfg

    with open(BABEL_CFG, encoding="utf-8") as f:
        return parse_mapping_cfg(f, str(BABEL_CFG))


def extract_catalog(comp: Component) -> Catalog:
    """Scan ``comp.source`` for marked strings (in memory)."""
    method_map, options_map = _method_map()
    catalog = Catalog(project=f"banyan-{comp.name}", charset="utf-8", creation_date=HEADER_DATE,
                      revision_date=HEADER_DATE, fuzzy=False)

    def keep_dir(path: str) -> bool:
        return Path(path).name not in IGNORED_DIRS and not Path(path).name.startswith(".")

    for filename, lineno, message, comments, context in extract_from_dir(
            str(comp.source), method_map, options_map, keywords=KEYWORDS, comment_tags=("Translators:",),
            strip_comment_tags=True, directory_filter=keep_dir):
        catalog.add(message, None, [(f"{comp.source.name}/{filename}", lineno)], auto_comments=comments,
                    context=context)
    _add_manifest_strings(comp, catalog)
    return catalog


def _add_manifest_strings(comp: Component, catalog: Catalog) -> None:
    """An addon's ``title`` and ``summary`` (``__manifest__.py``) are msgids of its catalog:
    the addons page and ``banyan addons list`` show them in the reader's language."""
    import ast

    path = comp.source / "__manifest__.py"
    if not path.is_file():
        return
    try:
        manifest = ast.literal_eval(path.read_text(encoding="utf-8").strip())
    except (ValueError, SyntaxError):
        return
    for key in ("title", "summary"):
        text = manifest.get(key) if isinstance(manifest, dict) else None
        if isinstance(text, str) and text.strip():
            catalog.add(text, None, [(f"{comp.source.name}/__manifest__.py", 1)],
                        auto_comments=[f"manifest {key}"])


def _write(path: Path, catalog: Catalog, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_po(buf, catalog, width=100, sort_output=True, **kw)
    path.write_bytes(buf.getvalue())


def _read(path: Path, locale: str | None = None) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=locale)


def extract(comp: Component) -> int:
    catalog = extract_catalog(comp)
    _write(comp.pot, catalog, omit_header=False)
    return len(catalog)


def _fill_source(catalog: Catalog) -> None:
    """English is the source language: msgstr = msgid."""
    for msg in catalog:
        if not msg.id:
            continue
        if isinstance(msg.id, (list, tuple)):
            msg.string = tuple(msg.id)
        else:
            msg.string = msg.id
        if msg.fuzzy:
            msg.flags.discard("fuzzy")


def update(comp: Component, fuzzy: bool = True) -> dict[str, int]:
    """Merge the template into each locale's catalog (like msgmerge); create missing ones."""
    if not comp.pot.exists():
        extract(comp)
    template = _read(comp.pot)
    out = {}
    for locale in LOCALES:
        po = comp.po(locale)
        if po.exists():
            catalog = _read(po, locale)
            catalog.update(template, no_fuzzy_matching=not fuzzy)
        else:
            catalog = Catalog(locale=locale, project=f"banyan-{comp.name}", charset="utf-8",
                              creation_date=HEADER_DATE, revision_date=HEADER_DATE, fuzzy=False)
            catalog.update(template, no_fuzzy_matching=True)
        catalog.revision_date = HEADER_DATE
        catalog.fuzzy = False
        if locale == SOURCE_LOCALE:
            _fill_source(catalog)
        _write(po, catalog, ignore_obsolete=True)
        out[locale] = len(catalog)
    return out


def compiled_bytes(po: Path, locale: str) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, _read(po, locale), use_fuzzy=False)
    return buf.getvalue()


def compile_(comp: Component) -> list[Path]:
    written = []
    for locale in LOCALES:
        po = comp.po(locale)
        if po.exists():
            comp.mo(locale).write_bytes(compiled_bytes(po, locale))
            written.append(comp.mo(locale))
    return written


def _msg_key(msg) -> tuple:
    return (msg.context, msg.id if not isinstance(msg.id, list) else tuple(msg.id))


def _messages(catalog) -> dict:
    return {_msg_key(m): (tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string)
            for m in catalog if m.id and m.string and not m.fuzzy}


def mo_is_current(comp: Component, locale: str) -> bool:
    """The committed .mo holds exactly the translations of the .po (compared by content)."""
    mo = comp.mo(locale)
    if not mo.exists():
        return False
    with open(mo, "rb") as f:
        on_disk = read_mo(f)
    fresh = read_mo(io.BytesIO(compiled_bytes(comp.po(locale), locale)))
    return _messages(on_disk) == _messages(fresh)


# Words a Chinese page may show as they are: acronyms and names of standards.
KEPT_AS_IS = frozenset({"API", "SHA-256", "CSV", "XLSX", "SKU", "RFM", "SLA", "DSO", "URL", "SMTP", "ID"})


def _left_in_english(msgid, strings) -> bool:
    """A translation that is the English text again: the same words as the msgid once its
    placeholders are taken out (``%(subject)s`` alone is not English), and not an acronym kept as is."""
    ids = msgid if isinstance(msgid, (list, tuple)) else [msgid]
    for mid, text in zip(ids, strings):
        if text != mid or mid in KEPT_AS_IS:
            continue
        words = re.sub(r"%\(\w+\)[sdif]|%[sdif]|\{\w*\}", "", mid)
        if re.search(r"[A-Za-z]{2,}", words):
            return True
    return False


def conflicts(comps: list[Component] | None = None) -> list[str]:
    """Msgids translated differently by two catalogs, one line each. The app merges every
    catalog into one table (``core.i18n.translations``: the kernel's wins, then the first
    addon's), so only one of the translations is ever shown, and the other meaning reads
    wrong: a service ticket shown as a sales receipt. Either the two are the same word
    (use one wording) or two meanings (give one a context: ``pgettext``/``lazy_pgettext``)."""
    comps = components() if comps is None else comps
    out = []
    for locale in LOCALES:
        seen: dict[tuple, dict] = {}
        for comp in comps:
            po = comp.po(locale)
            if not po.exists():
                continue
            for key, text in _messages(_read(po, locale)).items():
                seen.setdefault(key, {}).setdefault(text, []).append(comp.name)
        for (context, msgid), texts in sorted(seen.items(), key=lambda kv: str(kv[0])):
            if len(texts) > 1:
                where = "; ".join(f"{text!r} in {', '.join(names)}" for text, names in texts.items())
                ctx = f" (context {context!r})" if context else ""
                out.append(f"{locale}: {msgid!r}{ctx} is translated two ways: {where}")
    return out


def problems(comp: Component) -> list[str]:
    """Everything wrong with ``comp``'s catalogs, one line each (empty list = all good)."""
    source = extract_catalog(comp)
    wanted = {_msg_key(m) for m in source if m.id}
    out = []
    if not wanted and not comp.translations.exists():
        return out
    for locale in LOCALES:
        po = comp.po(locale)
        rel = po.relative_to(ROOT) if po.is_relative_to(ROOT) else po
        if not po.exists():
            if wanted:
                out.append(f"{rel}: missing catalog ({len(wanted)} strings to translate)")
            continue
        catalog = _read(po, locale)
        have = {_msg_key(m): m for m in catalog if m.id}
        for key in sorted(wanted - set(have), key=str):
            out.append(f"{rel}: not in catalog (run update): {key[1]!r}")
        for key, msg in sorted(have.items(), key=lambda kv: str(kv[0])):
            if key not in wanted:
                continue
            strings = msg.string if isinstance(msg.string, (list, tuple)) else [msg.string]
            if msg.fuzzy:
                out.append(f"{rel}:{msg.lineno}: fuzzy: {key[1]!r}")
            elif not all(strings):
                out.append(f"{rel}:{msg.lineno}: untranslated: {key[1]!r}")
            elif locale != "en" and _left_in_english(key[1], strings):
                out.append(f"{rel}:{msg.lineno}: still English: {key[1]!r}")
        if not mo_is_current(comp, locale):
            out.append(f"{comp.mo(locale).relative_to(ROOT) if po.is_relative_to(ROOT) else comp.mo(locale)}: "
                       "stale or missing .mo (run compile)")
    return out
