"""What a reviewer found looking at the back office as the chain's people use it (Chinese
first, a phone and a desktop), each fault checked as a class:

- a custom page names itself once: Flask-Admin's page title (the view's name) is not drawn
  above a page's own heading that says the same;
- report figures are grouped as the locale writes them (``37,728.90``), not ``37728.9``;
- a list row's phone card shows the row's money when the view names no ``column_card``;
- a record shown in another's column says what it is in words (a commission rule: its basis's
  label and its rate), not its codes and raw numbers.
"""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from core.addons import discover
from core.admin.testing import admin_app, login  # noqa: F401

ADDONS = tuple(sorted(discover()))
HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.S)
TAG = re.compile(r"<[^>]+>")


def _headings(html: str) -> list[str]:
    return [" ".join(TAG.sub(" ", h).split()) for h in HEADING.findall(html)]


@pytest.mark.addons(*ADDONS)
def test_custom_pages_name_themselves_once(admin_app, make, session):
    from core.admin.base import BanyanModelView, BanyanView
    from core.i18n import force_locale

    boss = make.user(username="reviewer", superuser=True, locale="zh_Hans")
    session.commit()
    client = login(admin_app, boss)
    twice, seen = {}, 0
    for admin in admin_app.extensions["admin"]:
        for view in admin._views:
            if not isinstance(view, BanyanView) or isinstance(view, BanyanModelView):
                continue
            resp = client.get(view.url.rstrip("/") + "/")
            if resp.status_code != 200:
                continue
            seen += 1
            with force_locale("zh_Hans"):
                name = str(view.name)
            heads = _headings(resp.get_data(as_text=True))
            if sum(1 for h in heads if h == name) > 1:
                twice[view.url] = heads[:4]
    assert seen > 15
    assert not twice, "\n".join(f"{u}: {h}" for u, h in twice.items())
