"""Open and click tracking of email, per recipient.

* **Opens**: each email carries an HTML part with a 1×1 image at
  ``/campaign/o/<recipient>.<signature>.gif``; loading it records an ``open`` event.
* **Clicks**: every ``http(s)://`` link of the body (except the unsubscribe link) becomes
  ``/campaign/c/<recipient>/<signature>?u=<link>``; the signature covers the recipient *and*
  the link, so the redirect only ever goes where the campaign pointed (no open redirect: a
  changed ``u`` or a forged signature is a 400 page, nothing is recorded and nobody is sent
  anywhere).

Events are rows of ``campaign_event`` (append-only, their own history). The results count the
recipients who opened and who clicked (distinct), and the clicks; an image blocked by the mail
program is an open that is not counted (as in every tracker).
"""
from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

from sqlalchemy import select

from .models import Event, Recipient

OPEN, CLICK = "campaign.open", "campaign.click"
#: a transparent 1×1 GIF
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
_URL = re.compile(r"https?://[^\s<>\"']+")


def _base(rt) -> str:
    from core.notify import mail_settings

    return mail_settings(rt)["base_url"].rstrip("/")


def pixel_url(rt, recipient_id: int) -> str:
    from .rendering import sign

    return f"{_base(rt)}/campaign/o/{recipient_id}.{sign(rt, OPEN, str(recipient_id))}.gif"


def click_url(rt, recipient_id: int, url: str) -> str:
    from .rendering import sign

    return f"{_base(rt)}/campaign/c/{recipient_id}/{sign(rt, CLICK, f'{recipient_id}|{url}')}?u={quote(url, safe='')}"


def read_open(rt, token: str) -> int | None:
    """The recipient id of a valid pixel token (``<id>.<signature>``), else None."""
    from .rendering import check_signature

    rid, _, sig = (token or "").partition(".")
    return int(rid) if rid.isdigit() and check_signature(rt, OPEN, rid, sig) else None


def read_click(rt, recipient_id: int, signature: str, url: str | None) -> str | None:
    """The link to redirect to when the signature covers this recipient and link and the link
    is http(s); else None (never redirect)."""
    from .rendering import check_signature

    if not url or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        return None
    return url if check_signature(rt, CLICK, f"{recipient_id}|{url}", signature) else None


def track_body(rt, recipient_id: int, body: str, keep: tuple[str, ...] = ()) -> tuple[str, str]:
    """``(text, html)`` of an email body: its links made tracked (those in ``keep``, e.g. the
    unsubscribe link, left as they are) and an HTML part with the same text, clickable links
    and the open pixel."""
    def swap(m):
        url = m.group(0).rstrip(".,;:!?)")
        tail = m.group(0)[len(url):]
        return (url if url in keep else click_url(rt, recipient_id, url)) + tail

    text = _URL.sub(swap, body)
    parts, pos = [], 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?)")
        parts.append(html.escape(text[pos:m.start()]))
        parts.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        pos = m.start() + len(url)
    parts.append(html.escape(text[pos:]))
    page = ("<!doctype html><html><body><div style=\"white-space:pre-wrap\">" + "".join(parts)
            + f'</div><img src="{html.escape(pixel_url(rt, recipient_id))}" width="1" height="1" alt=""></body></html>')
    return text, page


def record(session, recipient_id: int, kind: str, url: str | None = None) -> Event | None:
    """Record an ``open`` or ``click`` of a recipient who was sent the message (None for an
    unknown recipient or one never sent to: nothing recorded)."""
    rec = session.execute(select(Recipient.id, Recipient.plan_id, Recipient.store_id, Recipient.state)
                          .where(Recipient.id == recipient_id).execution_options(banyan_unscoped=True)).first()
    if rec is None or rec.state != "sent":
        return None
    ev = Event(recipient_id=rec.id, plan_id=rec.plan_id, store_id=rec.store_id, kind=kind,
               url=(url or None) and url[:2000])
    session.add(ev)
    session.flush()
    return ev
