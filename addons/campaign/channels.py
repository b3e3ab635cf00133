"""Channel adapters: how a rendered message reaches a customer.

Adapters are registered through the ``campaign_channels`` hook (see ``hookspecs.py``). The
campaign addon brings two: ``email`` over the kernel's SMTP settings (``core.notify``), and
``outbox``, a development adapter that writes each message into ``campaign_outbox``.
"""
from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Callable

from sqlalchemy import func

from core.errors import AddonError
from core.i18n import lazy_gettext as _l, lazy_pgettext
from core.models import Customer


class ChannelError(Exception):
    """The channel refused one message; ``permanent`` errors are not retried."""

    def __init__(self, text: str, permanent: bool = False):
        super().__init__(text)
        self.permanent = permanent


@dataclass(frozen=True)
class Message:
    """One rendered message: ``to`` (address), ``subject`` (None on channels without one),
    ``body`` (text), ``headers`` (extra, e.g. List-Unsubscribe), ``key`` (unique per plan and
    recipient, e.g. a Message-ID seed)."""

    to: str
    subject: str | None
    body: str
    headers: tuple = ()
    key: str = ""
    #: an HTML alternative (email: clickable tracked links and the open pixel), or None
    html: str | None = None


@dataclass(frozen=True)
class ChannelAdapter:
    """A channel. ``address()`` is the SQL expression of the customer's address on it (over
    ``core.models.Customer``); ``connect(rt)`` returns a sender with ``send(session, message,
    recipient)`` (raises :class:`ChannelError`) and ``close()``. ``transactional`` senders
    write in ``session`` (the transaction that marks the recipient sent), so they deliver
    exactly once; others (SMTP) are called between two commits. ``rate_per_minute`` (None:
    unlimited) caps one worker's sending on this channel. ``consent`` says which of the
    customer's consents the channel needs (see the field)."""

    code: str
    label: Any
    address: Callable[[], Any]
    connect: Callable[[Any], Any]
    transactional: bool = False
    rate_per_minute: int | None = None
    addon: str = ""
    #: the consent a customer must have given for this channel: ``""`` (default) the kind
    #: its code names (``email``, ``sms``, ``wechat``: the kernel's consent flags); one of
    #: those kinds (a partner's ``aliyun_sms`` says ``consent="sms"``); None for no consent
    #: at all (the development outbox only). A kind the kernel has no flag for is consented
    #: by nobody.
    consent: str | None = ""


# --------------------------------------------------------------------------- email

def _boundary(message: Message) -> str:
    """A MIME boundary found in neither part. Set by us, because the standard library's
    generator otherwise compiles a regular expression around each message's random boundary,
    and ``re``'s module cache keeps up to 512 of them: the sender's memory grew with every
    message up to that many."""
    import uuid

    while True:
        b = f"==banyan-{uuid.uuid4().hex}=="
        if b not in message.body and b not in (message.html or ""):
            return b


class _SmtpSender:
    def __init__(self, rt):
        from core.notify import mail_settings

        self.cfg = mail_settings(rt)
        self.smtp = None

    def send(self, session, message: Message, recipient) -> None:
        from core.notify import connect_smtp

        em = EmailMessage()
        sender = self.cfg.get("sender") or "banyan@localhost"
        em["From"], em["To"], em["Subject"] = sender, message.to, message.subject or ""
        em["Date"] = formatdate(usegmt=True)
        em["Message-ID"] = make_msgid(f"campaign.{message.key}", domain=sender.rpartition("@")[2] or "localhost")
        for name, value in message.headers:
            em[name] = value
        em.set_content(message.body)
        if message.html:
            em.add_alternative(message.html, subtype="html")
            em.set_boundary(_boundary(message))
        try:
            if self.smtp is None:
                self.smtp = connect_smtp(self.cfg)
            self.smtp.send_message(em)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(f"refused: {exc}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise ChannelError(f"SMTP {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise ChannelError(str(exc) or type(exc).__name__) from None

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                self.smtp.close()
            self.smtp = None


class _OutboxSender:
    def send(self, session, message: Message, recipient) -> None:
        from .models import Outbox

        session.add(Outbox(plan_id=recipient.plan_id, recipient_id=recipient.id, store_id=recipient.store_id,
                           channel="outbox", to_address=message.to, subject=message.subject, body=message.body))

    def close(self) -> None:
        return None


def builtin_channels() -> list[ChannelAdapter]:
    return [
        ChannelAdapter("email", lazy_pgettext("channel", "Email"), lambda: Customer.email, _SmtpSender),
        ChannelAdapter("outbox", _l("Development outbox"), lambda: func.coalesce(Customer.email, Customer.phone),
                       lambda rt: _OutboxSender(), transactional=True, consent=None),
    ]


def code_errors(session, *, channel=None, language=None) -> dict:
    """``{field: [message]}`` for a ``channel`` no installed adapter registers, or a
    ``language`` that is not one of the kernel's (``core.labels.LANGUAGE``): what a template,
    a plan and an opt-out check before they are saved (an unknown code is never stored)."""
    from core.db import RUNTIME
    from core.labels import LANGUAGE

    errors = {}
    if channel is not None and channel not in channels(RUNTIME.get(session)):
        errors["channel"] = [_l("Unknown channel.")]
    if language is not None and language not in LANGUAGE:
        errors["language"] = [_l("Unknown language.")]
    return errors


def channels(rt) -> dict[str, ChannelAdapter]:
    """Every channel adapter of the installed addons, by code (a code twice: ``AddonError``)."""
    from core.plugins import collect_items

    out: dict[str, ChannelAdapter] = {}
    for owner, ch in collect_items(rt.registry.pm, "campaign_channels"):
        if ch.code in out:
            raise AddonError(f"addon {owner}: campaign channel {ch.code!r} is declared twice")
        out[ch.code] = ch
    return out
