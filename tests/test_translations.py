"""Every catalog (kernel and every addon's translations folder) is complete, not fuzzy, and
compiled: run ``python scripts/i18n.py all`` and translate what it lists to fix a failure."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from core import i18n, i18n_tools

COMPONENTS = i18n_tools.components()


def test_components_include_kernel_and_addons():
    names = [c.name for c in COMPONENTS]
    assert names[0] == "core"
    for folder in (i18n_tools.ROOT / "addons").glob("*/__manifest__.py"):
        assert folder.parent.name in names


@pytest.mark.parametrize("comp", COMPONENTS, ids=[c.name for c in COMPONENTS])
def test_catalog_complete(comp):
    found = i18n_tools.problems(comp)
    assert not found, ("translation problems (run `python scripts/i18n.py all` and translate):\n"
                       + "\n".join(found))


def test_kernel_has_strings():
    core = COMPONENTS[0]
    source = i18n_tools.extract_catalog(core)
    ids = {m.id for m in source if m.id}
    assert "Cash" in ids and "No such store." in ids
    assert len(ids) > 50


# --- the tooling itself, on a throwaway component made in a temporary folder -----------------

SAMPLE = '''from core.i18n import _, _l, gettext, lazy_gettext, ngettext

A = _l("Gift card")
B = lazy_gettext("Stored value")


def f(n):
    return _("Cash"), gettext("No such store."), ngettext("%(num)d card", "%(num)d cards", n)
'''
ZH = {"Gift card": "礼品卡", "Stored value": "储值", "Cash": "现金", "No such store.": "门店不存在。",
      ("%(num)d card", "%(num)d cards"): "%(num)d 张卡"}


@pytest.fixture
def sample(tmp_path):
    src = tmp_path / "giftdemo"
    src.mkdir()
    (src / "strings.py").write_text(SAMPLE, "utf-8")
    (src / "tests").mkdir()
    (src / "tests" / "test_x.py").write_text('from core.i18n import _\n_("Only in tests")\n', "utf-8")
    comp = i18n_tools.Component("giftdemo", src, src / "translations")
    i18n_tools.extract(comp)
    i18n_tools.update(comp)

    def translate(cat):
        for m in cat:
            key = tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id
            if key in ZH:
                m.string = (ZH[key],) if isinstance(key, tuple) else ZH[key]

    _edit_po(comp.po("zh_Hans"), translate)
    i18n_tools.compile_(comp)
    return comp


def _edit_po(path: Path, fn):
    with open(path, "rb") as f:
        cat = read_po(f, locale="zh_Hans")
    fn(cat)
    buf = io.BytesIO()
    write_po(buf, cat, width=100, sort_output=True)
    path.write_bytes(buf.getvalue())


def test_extract_finds_every_keyword_and_skips_tests(sample):
    with open(sample.pot, "rb") as f:
        ids = {m.id if isinstance(m.id, str) else tuple(m.id) for m in read_po(f) if m.id}
    assert ids == set(ZH)


def test_update_fills_english_and_compiled_catalog_works(sample):
    from babel.support import Translations

    assert i18n_tools.problems(sample) == []
    en = Translations.load(str(sample.translations), ["en"])
    assert en.ugettext("Gift card") == "Gift card"
    assert en.ungettext("%(num)d card", "%(num)d cards", 2) == "%(num)d cards"
    zh = Translations.load(str(sample.translations), ["zh_Hans"])
    assert zh.ugettext("Stored value") == "储值"
    assert zh.ungettext("%(num)d card", "%(num)d cards", 2) == "%(num)d 张卡"


def test_checker_reports_untranslated(sample):
    _edit_po(sample.po("zh_Hans"), lambda cat: setattr(cat["Cash"], "string", ""))
    assert any("untranslated: 'Cash'" in p for p in i18n_tools.problems(sample))


def test_checker_reports_fuzzy(sample):
    _edit_po(sample.po("zh_Hans"), lambda cat: cat["Cash"].flags.add("fuzzy"))
    assert any("fuzzy: 'Cash'" in p for p in i18n_tools.problems(sample))


def test_checker_reports_new_source_string(sample):
    (sample.source / "more.py").write_text('from core.i18n import _\n_("Top up")\n', "utf-8")
    found = i18n_tools.problems(sample)
    assert any("not in catalog" in p and "'Top up'" in p for p in found)
    i18n_tools.extract(sample)
    i18n_tools.update(sample)
    found = i18n_tools.problems(sample)
    assert any("untranslated: 'Top up'" in p and "zh_Hans" in p for p in found)
    assert not any("'Top up'" in p and "/en/" in p for p in found)  # English is the source


def test_checker_reports_stale_mo(sample):
    _edit_po(sample.po("zh_Hans"), lambda cat: setattr(cat["Cash"], "string", "现钞"))
    found = i18n_tools.problems(sample)
    assert any("stale" in p for p in found)
    i18n_tools.compile_(sample)
    assert i18n_tools.problems(sample) == []


def test_script_check_exit_code(sample, monkeypatch, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("i18n_script", i18n_tools.ROOT / "scripts" / "i18n.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(i18n_tools, "components", lambda only=None: [sample])
    assert script.main(["check"]) == 0
    _edit_po(sample.po("zh_Hans"), lambda cat: setattr(cat["Gift card"], "string", ""))
    assert script.main(["check"]) == 1
    assert "untranslated: 'Gift card'" in capsys.readouterr().out


def test_mo_files_are_current():
    for comp in COMPONENTS:
        for locale in i18n.LOCALES:
            if comp.po(locale).exists():
                assert i18n_tools.mo_is_current(comp, locale), f"{comp.mo(locale)} is stale: run compile"


# --- runtime ------------------------------------------------------------------------------

@pytest.fixture
def locale():
    before = i18n._fallback_locale["value"]

    def use(loc):
        i18n.set_default_locale(loc)

    yield use
    i18n.set_default_locale(before)


def test_runtime_gettext_chinese(locale):
    locale("zh_Hans")
    assert i18n.gettext("Cash") == "现金"
    assert i18n.gettext("No such store.") == "门店不存在。"
    assert str(i18n.lazy_gettext("Cashier")) == "收银员"
    assert i18n.ngettext("Too many failed attempts. Try again in %(num)d minute.",
                         "Too many failed attempts. Try again in %(num)d minutes.", 5) == "失败次数过多，请 5 分钟后再试。"
    assert i18n.gettext("You do not have the permission %(perm)s.", perm="core.sale.read") == \
        "您没有 core.sale.read 权限。"
    locale("en")
    assert i18n.gettext("Cash") == "Cash"
    assert i18n.ngettext("Too many failed attempts. Try again in %(num)d minute.",
                         "Too many failed attempts. Try again in %(num)d minutes.", 1) == \
        "Too many failed attempts. Try again in 1 minute."


def test_kernel_permission_labels_translated(locale):
    from core.defaults.kernel import PERMISSIONS
    from core.security.permissions import DEFAULT_ROLES

    locale("zh_Hans")
    for perm in PERMISSIONS:
        assert str(perm.label) != perm.label._args[0] if hasattr(perm.label, "_args") else True
        assert any("\u4e00" <= ch <= "\u9fff" for ch in str(perm.label)), perm.name
    for code, label in DEFAULT_ROLES.items():
        assert any("\u4e00" <= ch <= "\u9fff" for ch in str(label)), code


def test_a_chinese_entry_that_is_the_english_text_again_is_reported():
    """A zh_Hans msgstr equal to its English msgid (an addon title filled from the source, as
    'Commissions' was) is as missing as an empty one; placeholders alone and acronyms pass."""
    from core.i18n_tools import _left_in_english

    assert _left_in_english("Commissions", ["Commissions"])
    assert _left_in_english("Sent to %(name)s", ["Sent to %(name)s"])
    assert not _left_in_english("Commissions", ["提成"])
    assert not _left_in_english("%(subject)s", ["%(subject)s"])
    assert not _left_in_english("API", ["API"])
    assert not _left_in_english(("%(n)d day", "%(n)d days"), ["%(n)d 天"])


def test_one_msgid_has_one_translation_across_the_suite():
    """The app merges every catalog into one table (``core.i18n.translations``), so a msgid
    translated two ways shows one of them everywhere: the call center's tickets read as
    sales receipts (小票), a card history's "To" as a mail recipient (收件人), a done task as
    finished construction work. A second meaning gets a context (``pgettext``)."""
    found = i18n_tools.conflicts()
    assert not found, "\n".join(found)


@pytest.mark.parametrize("locale, sale, service", [("zh_Hans", "小票", "工单"), ("en", "Ticket", "Ticket")])
def test_a_context_keeps_a_second_meaning_apart(locale, sale, service):
    from core.i18n import add_catalog_dir, force_locale, gettext, lazy_pgettext, pgettext

    add_catalog_dir(i18n_tools.ROOT / "addons" / "call_center" / "translations")
    with force_locale(locale):
        assert gettext("Ticket") == sale
        assert pgettext("service", "Ticket") == service == str(lazy_pgettext("service", "Ticket"))


def test_a_date_or_quantity_label_is_never_a_state_label():
    """One msgid has one translation: a timestamp labelled "Confirmed" (确认时间) and the
    state "Confirmed" (已确认) cannot share it, and the sale page showed its state as
    "确认时间". A date, time or quantity column's label that is also a coded value's label
    needs the context ``time`` or ``qty`` (``lazy_pgettext``)."""
    import importlib

    from sqlalchemy import Date, DateTime, Numeric

    from core.db import Base
    from core.labels import choice_sets, field_label

    for comp in COMPONENTS:  # every model of the kernel and of every addon
        if comp.name != "core":
            module = comp.source.name if comp.source.parent.name != "addons" else f"addons.{comp.name}"
            importlib.import_module(f"{module}.models")

    def key(label):
        func, args = getattr(label, "_func", None), getattr(label, "_args", ())
        if func is None:
            return None
        return (args[0], args[1]) if func.__name__ == "pgettext" else (None, args[0])

    states = {}
    for name, choices in choice_sets().items():
        for code, label in choices._labels.items():
            if key(label):
                states.setdefault(key(label), []).append(f"{name}:{code}")
    found = []
    for mapper in Base.registry.mappers:
        model = mapper.class_
        for column in model.__table__.columns:
            if not isinstance(column.type, (Date, DateTime)) and not column.key.endswith("_qty"):
                continue
            label = field_label(model, column.key)
            if label is not None and key(label) in states and column.key != "birthday":
                found.append(f"{model.__tablename__}.{column.key} is labelled {key(label)[1]!r}, "
                             f"like {', '.join(states[key(label)][:3])}")
    assert not found, "\n".join(found)


def test_chinese_text_uses_full_width_punctuation():
    """docs/translations.md: full-width punctuation in Chinese text (，。：；（）). A half-width
    colon, comma or bracket beside Chinese reads as a typo; placeholders (%(name)s) and input
    syntax quoted for the user (SKU:model) keep theirs."""
    import re

    cjk = "\u4e00-\u9fff"
    placeholder = re.compile(r"%\(\w+\)[sdif]|%[sdif%]|\{\w*\}")
    wrong = re.compile(f"[{cjk}][:;,?!](?!//)|[:;,?!](?=[{cjk}])|[{cjk}]\\s*\\(|\\(\\s*[{cjk}]|[{cjk}]\\)|\\)[{cjk}]")
    found = []
    for comp in COMPONENTS:
        po = comp.po("zh_Hans")
        if not po.exists():
            continue
        for msg in read_po(po.open("rb"), locale="zh_Hans"):
            for text in ([msg.string] if isinstance(msg.string, str) else list(msg.string or ())):
                bare = placeholder.sub("x", text or "")
                if wrong.search(bare) and "SKU:" not in bare:
                    found.append(f"{comp.name}: {text}")
    assert not found, "\n".join(found)
