"""Crawl every back-office page in Chinese and fail on English interface text and raw codes.

As the superuser, with the kernel, membership, loyalty (and the gift card example when it is
importable) installed and the demo data loaded, the test opens every view the app registers:
each model view's list, create form, and the details and edit pages of one row; each custom
page. It reads the *visible* text of each page (text nodes, option labels, placeholders and
button captions; not scripts, styles or attribute values) and reports, per page:

- a raw code: a text that is exactly a code of a declared coded-value set
  (``core.labels.choice_sets``: ``partially_refunded``, ``direct``, ``fixed``...) or of a
  payment method (``cash``);
  (``<code>`` text is literal, not checked: an import file's column names);
- ``__None``, ``None`` or a Python dict (``{'...``) shown as text;
- English interface text: a text that is exactly a msgid of a catalog (kernel, addons,
  Flask-Admin's) whose Chinese translation differs from it, or Flask-Admin's English label of
  a model attribute (``Buy Qty``) that no declared label replaced.

It needs current catalogs: a msgid added in code but not yet translated is English on the
page by design. So it is skipped (saying why) while the kernel's or an addon's catalog has
translation problems (``test_translations.test_catalog_complete`` fails then, too); set
``BANYAN_CRAWL_ANYWAY=1`` to crawl anyway and see what is left.
"""
from __future__ import annotations

import os
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from core.addons import discover
from core.admin.testing import admin_app, login  # noqa: F401

#: every addon this machine has (built-in and partner), so a new addon's pages are crawled too
ADDONS = tuple(sorted(discover()))
pytestmark = pytest.mark.addons(*ADDONS)

#: not interface text: scripts, and ``<code>``/``<kbd>``, literal identifiers a person types
#: (an import file's column names)
SKIP_TAGS = {"script", "style", "noscript", "template", "code", "kbd"}


class _Visible(HTMLParser):
    """The texts a person sees: text nodes (options included), placeholders, button captions."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self._skip += 1
            return
        a = dict(attrs)
        if a.get("placeholder"):
            self.texts.append(a["placeholder"])
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.texts.append(a["value"])

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data)


def visible_texts(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    return [" ".join(t.split()) for t in parser.texts]


def _catalogs_problems() -> list[str]:
    from core import i18n_tools

    found = []
    for comp in i18n_tools.components(None):
        found += i18n_tools.problems(comp)
    return found


def _english_texts(app) -> dict[str, str]:
    """Known English interface texts -> where they come from, minus those whose Chinese is
    the same text (``SKU``, ``API``)."""
    from babel.messages.pofile import read_po
    from flask_admin.model.helpers import prettify_name

    from core import i18n_tools
    from core.db import Base
    from core.i18n import force_locale, gettext

    english: dict[str, str] = {}
    for comp in i18n_tools.components(None):
        for msg in i18n_tools.extract_catalog(comp):
            if msg.id and isinstance(msg.id, str):
                english[msg.id] = f"msgid of {comp.name}"
    import flask_admin

    admin_dir = os.path.join(os.path.dirname(flask_admin.__file__), "translations")
    for root, _dirs, files in os.walk(os.path.join(admin_dir, "zh_Hans_CN")):
        for f in files:
            if f.endswith(".po"):
                with open(os.path.join(root, f), "rb") as fh:
                    for msg in read_po(fh):
                        if msg.id and isinstance(msg.id, str) and msg.string and msg.string != msg.id:
                            english[msg.id] = "Flask-Admin msgid"
    for mapper in Base.registry.mappers:
        for attr in mapper.attrs.keys():
            for auto in (prettify_name(attr), attr.replace("_", " ").strip().capitalize()):
                # Flask-Admin's label and BanyanModelView._prettify_name's
                english.setdefault(auto, f"Flask-Admin's label of {mapper.class_.__name__}.{attr}")
    with app.test_request_context(), force_locale("zh_Hans"):
        return {text: why for text, why in english.items()
                if len(text) > 1 and re.search(r"[A-Za-z]{2}", text) and gettext(text) != text
                or why.startswith("Flask-Admin's label")}


def _codes(app, session) -> set[str]:
    """The codes of every declared coded-value set, less the codes of records (a role's code
    ``cashier`` is the record's own identifier, shown as such in its ``code`` column)."""
    from core.db import Base
    from core.labels import LANGUAGE, choice_sets

    codes = set()
    with app.test_request_context():
        for name, choices in choice_sets().items():
            if choices is LANGUAGE:
                continue
            codes |= {c for c in choices.codes if isinstance(c, str) and str(choices.label(c)) != c}
    for mapper in Base.registry.mappers:
        if "code" in mapper.columns:
            codes -= set(session.execute(select(mapper.columns["code"])).scalars())
    return codes


def _pages(app, session) -> list[str]:
    from core.admin.base import BanyanModelView, BanyanView

    urls = []
    for admin in app.extensions["admin"]:
        for view in admin._views:
            if isinstance(view, BanyanModelView):
                base = view.url.rstrip("/")
                urls.append(f"{base}/")
                if view.allow_create:
                    urls.append(f"{base}/new/")
                row = session.execute(select(view.model).limit(1)).scalars().first()
                if row is None:
                    continue
                pk = view.get_pk_value(row)
                if view.can_view_details:
                    urls.append(f"{base}/details/?id={pk}")
                if view.allow_edit:
                    urls.append(f"{base}/edit/?id={pk}")
            elif isinstance(view, BanyanView):
                urls.append(view.url.rstrip("/") + "/")
    return urls


def _near(texts, i) -> str:
    if os.environ.get("BANYAN_CRAWL_CONTEXT") != "1":
        return ""
    return " near " + repr(" | ".join(texts[max(0, i - 3):i]))


def findings(html: str, english: dict[str, str], codes: set[str]) -> list[str]:
    """What is wrong with the visible text of one page (empty: nothing)."""
    out = []
    texts = visible_texts(html)
    for i, text in enumerate(texts):
        if "__None" in text:
            out.append(f"'__None' shown: {text!r}")
        elif text == "None" or text.startswith("{'"):
            out.append(f"a Python value shown: {text!r}")
        elif text in codes:
            out.append(f"raw code {text!r}" + _near(texts, i))
        elif text in english:
            out.append(f"English {text!r} ({english[text]})" + _near(texts, i))
    return sorted(set(out))


def test_findings_catch_what_they_should(monkeypatch):
    monkeypatch.delenv("BANYAN_CRAWL_CONTEXT", raising=False)
    html = ("<html><head><script>var x = 'cash';</script></head><body><td>partially_refunded</td>"
            "<option value='__None'>__None</option><label>Buy Qty</label><td>现金</td>"
            "<input type='submit' value='Save'><p>{'a': 1}</p></body></html>")
    got = findings(html + "<code>cash</code>", {"Buy Qty": "label", "Save": "msgid"}, {"cash", "partially_refunded"})
    assert got == sorted(["raw code 'partially_refunded'", "'__None' shown: '__None'", "English 'Buy Qty' (label)",
                          "English 'Save' (msgid)", "a Python value shown: \"{'a': 1}\""])


def test_every_page_in_chinese_shows_labels_not_codes(admin_app, rt, session, make):
    if os.environ.get("BANYAN_CRAWL_ANYWAY") != "1":
        problems = _catalogs_problems()
        if problems:
            pytest.skip(f"the catalogs are not current ({len(problems)} problems, e.g. {problems[0]}): "
                        "translate them first (scripts/i18n.py), or set BANYAN_CRAWL_ANYWAY=1")
    from core.demo import build_demo

    build_demo(rt, scale=0.05, months=1, seed=3, progress=False)
    boss = make.user(username="crawler", superuser=True, locale="zh_Hans")
    session.commit()
    client = login(admin_app, boss)
    english, codes = _english_texts(admin_app), _codes(admin_app, session)
    report, pages = {}, _pages(admin_app, session)
    assert len(pages) > 60
    for url in pages:
        resp = client.get(url)
        assert resp.status_code in (200, 302), (url, resp.status_code)
        if resp.status_code == 200:
            found = findings(resp.get_data(as_text=True), english, codes)
            if found:
                report[url] = found
    assert not report, "\n".join(f"{url}:\n  " + "\n  ".join(found) for url, found in report.items())
