"""Notifications: in the app (the back office's bell, ``/api/v1/notifications``) and by email.

One call, inside the caller's transaction::

    from core.notify import notify, role

    notify(session, recipients=[user, employee, role("store_manager"), "ops@example.com"],
           subject=_l("Ticket %(number)s is yours", number=t.number), body=_l("..."),
           link=(Ticket, t.id), kind="ticket.assigned", store=t.store_id)

* Recipients: a :class:`~core.models.User`; an :class:`~core.models.Employee` (their active
  users, or the employee's own email when they have no login); a role (:func:`role` or a
  :class:`~core.models.Role`), i.e. the active users holding it whose store scope covers the
  ``store`` given (every holder when no store is given); an email address (a ``str``). Each
  person is notified once however many ways they were named.
* Each text is rendered in the RECIPIENT's language: the user's ``locale``, else the chain's
  ``[locale] default`` (employees without login and plain addresses get the default).
  ``subject``/``body`` may be lazy strings (``_l(...)``, with their ``%(name)s`` arguments),
  or ``template="<path>"`` names a Jinja2 template (sandboxed) found in ``core/templates`` or
  an installed addon's ``templates/`` folder, which defines ``{% block subject %}`` and
  ``{% block body %}``; it sees ``context`` and ``recipient`` (the user or ``None``), and
  ``_()`` translates in the recipient's language.
* ``channels``: ``"app"`` writes a :class:`~core.models.Notification` per user; ``"email"``
  writes a :class:`~core.models.MailMessage` per address (users without an address get
  none). Both are rows of the caller's transaction: a rollback leaves no notification and
  sends nothing.
* Sending: after the caller's transaction COMMITS, the job ``core.mail.send`` is queued
  (``banyan worker`` runs it). It claims due messages (``queued`` -> ``sending`` by a
  conditional update, rows locked with SKIP LOCKED on PostgreSQL, so two workers never send
  the same message), sends them over ``[mail]`` SMTP and records each outcome: ``sent``, or
  ``queued`` again with ``next_attempt_at`` = now + ``retry_delay`` × 2^(attempt-1), or
  ``failed`` after ``max_attempts`` (shown in Settings > Email outbox, where it can be
  queued again). The same job runs every minute, so a message whose enqueue was lost (a
  crash right after the commit) and every retry that falls due is picked up. A message left
  ``sending`` for :data:`STALE_CLAIM` (its worker died mid-send) is queued again: the only
  case where an email may go out twice.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Iterable

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from core.db import RUNTIME, InfoKey, is_postgres, transaction
from core.errors import BusinessError
from core.i18n import LOCALES, default_locale, force_locale, lazy_gettext as _l
from core.mixins import utcnow

log = logging.getLogger("banyan.notify")

#: the job that sends the outbox (queued after each commit that wrote mail, and every minute)
MAIL_JOB = "core.mail.send"
#: who sees the outbox; holders of the roles granted it hear of every email that gave up
MAIL_ADMIN = "core.mail.admin"
CHANNELS = ("app", "email")
#: a message claimed longer ago than this (its worker died while sending) is queued again
STALE_CLAIM = timedelta(minutes=15)
#: the back-office address that opens a notification's subject record
GO_PATH = "/admin/notifications/go/{model}/{id}"

_PENDING: InfoKey[bool] = InfoKey("core.notify.mail_pending")
_ARMED: InfoKey[bool] = InfoKey("core.notify.mail_armed")


# --------------------------------------------------------------------------- recipients

@dataclass(frozen=True)
class ToRole:
    """The users holding role ``code`` (only those whose store scope covers ``store_id``)."""

    code: str
    store_id: int | None = None


def role(code: str, store=None) -> ToRole:
    """A role as a recipient: ``role("store_manager", store=s)`` is the store managers who
    may see store ``s`` (a Store or its id); without ``store``, ``notify(store=...)``
    applies, and without either every active holder of the role."""
    return ToRole(code, _id_of(store))


@dataclass
class _Target:
    user: Any = None
    address: str | None = None
    locale: str = ""


@dataclass
class Sent:
    """What :func:`notify` wrote: the in-app notifications and the queued emails."""

    notifications: list = field(default_factory=list)
    mails: list = field(default_factory=list)


def _id_of(obj) -> int | None:
    if obj is None:
        return None
    return obj if isinstance(obj, int) else obj.id


def chain_locale(rt) -> str:
    """The chain's ``[locale] default`` of this runtime (not the process-wide fallback, which
    the last runtime built in the process set)."""
    loc = rt.config.get("locale", {}).get("default")
    return loc if loc in LOCALES else default_locale()


def _locale_of(user, rt) -> str:
    loc = getattr(user, "locale", None)
    return loc if loc in LOCALES else chain_locale(rt)


def users_with_role(session: Session, code: str, store_id: int | None = None) -> list:
    """Active users holding role ``code``; with ``store_id``, only those who may see that store."""
    from core.models import Role, User, user_role
    from core.security.scope import store_ids_for

    if session.get(Role, code) is None:
        raise BusinessError({"recipients": _l("Unknown role %(code)s.", code=code)})
    users = session.execute(select(User).join(user_role, user_role.c.user_id == User.id)
                            .where(user_role.c.role_code == code, User.active.is_(True))
                            .order_by(User.id)).scalars().all()
    if store_id is None:
        return list(users)
    out = []
    for u in users:
        ids = store_ids_for(session, u)
        if ids is None or store_id in ids:
            out.append(u)
    return out


def _targets(session: Session, recipients, store_id: int | None) -> list[_Target]:
    from core.models import Employee, Role, User
    from core.runtime import runtime_of
    from core.validation import normalize_email

    rt = runtime_of(session)

    users: dict[int, Any] = {}
    addresses: list[str] = []
    if recipients is None or isinstance(recipients, (str, bytes)) or not isinstance(recipients, Iterable):
        recipients = [recipients]
    for r in recipients:
        if isinstance(r, User):
            if r.active:
                users.setdefault(r.id, r)
        elif isinstance(r, Employee):
            linked = session.execute(select(User).where(User.employee_id == r.id, User.active.is_(True))
                                     .order_by(User.id)).scalars().all()
            for u in linked:
                users.setdefault(u.id, u)
            if not linked and r.active and r.email:
                addresses.append(r.email)
        elif isinstance(r, (ToRole, Role)):
            code = r.code
            sid = r.store_id if isinstance(r, ToRole) and r.store_id is not None else store_id
            for u in users_with_role(session, code, sid):
                users.setdefault(u.id, u)
        elif isinstance(r, str):
            addresses.append(normalize_email(r, field="recipients"))
        else:
            raise TypeError(f"notify(): cannot notify {r!r}: pass users, employees, roles or email addresses")
    out = [_Target(user=u, address=u.mail_address, locale=_locale_of(u, rt)) for u in users.values()]
    seen = {t.address for t in out if t.address}
    for a in addresses:
        if a and a not in seen:
            seen.add(a)
            out.append(_Target(address=a, locale=chain_locale(rt)))
    return out


# --------------------------------------------------------------------------- rendering

def _template_env(rt):
    """The sandboxed Jinja2 environment of notification templates (kernel and addon folders)."""
    key = ("notify_jinja", id(rt.registry))
    env = rt.extra.get(key)
    if env is None:
        from importlib.resources import files
        from pathlib import Path

        from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        from core.i18n import gettext, ngettext, pgettext

        dirs = [str(Path(__file__).resolve().parent / "templates")]
        for info in rt.registry.addons:
            d = Path(str(files(info.package).joinpath("templates")))
            if d.is_dir():
                dirs.append(str(d))
        env = SandboxedEnvironment(loader=ChoiceLoader([FileSystemLoader(d) for d in dirs]),
                                   autoescape=False, undefined=StrictUndefined,
                                   extensions=["jinja2.ext.i18n"], keep_trailing_newline=False)
        env.install_gettext_callables(gettext, ngettext, newstyle=True, pgettext=pgettext)
        from core.labels import MAIL_PROBLEM

        # an email's last error for people: the worker's own codes as their labels
        env.globals["mail_problem"] = lambda value: str(MAIL_PROBLEM.label(value))
        rt.extra[key] = env
    return env


def _render(rt, target: _Target, subject, body, template: str | None, context: dict) -> tuple[str, str]:
    with force_locale(target.locale):
        if template is not None:
            tmpl = _template_env(rt).get_template(template)
            missing = [b for b in ("subject", "body") if b not in tmpl.blocks]
            if missing:
                raise ValueError(f"notification template {template!r} lacks block(s) {', '.join(missing)}")
            ctx = tmpl.new_context(dict(context or {}, recipient=target.user))
            subject_text = "".join(tmpl.blocks["subject"](ctx))
            body_text = "".join(tmpl.blocks["body"](ctx))
        else:
            subject_text, body_text = str(subject), "" if body is None else str(body)
    subject_text = " ".join(subject_text.split())[:255]  # one header line
    return subject_text, body_text.strip()


def _link(link) -> tuple[str | None, int | None, str | None]:
    """(link_model, link_id, url) of ``link``: ``(Model or table name, id)`` or an address."""
    if link is None:
        return None, None, None
    if isinstance(link, str):
        if not (link.startswith("/") or link.startswith(("http://", "https://"))):
            raise ValueError(f"notify(): link {link!r} must be a path (/...) or an http(s) address")
        return None, None, link[:500]
    model, ident = link
    table = model if isinstance(model, str) else getattr(model, "__tablename__", None)
    if not table or not isinstance(ident, int):
        raise ValueError(f"notify(): link must be (Model or table name, id), not {link!r}")
    return table, ident, None


def link_path(link_model: str | None, link_id: int | None, url: str | None) -> str | None:
    """The address (path or absolute) that opens a notification's subject."""
    if link_model and link_id is not None:
        return GO_PATH.format(model=link_model, id=link_id)
    return url


def absolute_url(rt, path: str | None) -> str | None:
    if not path:
        return None
    if path.startswith(("http://", "https://")):
        return path
    return mail_settings(rt)["base_url"].rstrip("/") + path


# --------------------------------------------------------------------------- notify

def notify(session: Session, recipients, subject=None, body=None, *, kind: str, link=None,
           channels: Iterable[str] = CHANNELS, template: str | None = None, context: dict | None = None,
           store=None) -> Sent:
    """Notify ``recipients`` (see the module docstring) inside ``session``'s transaction.

    ``kind`` is a dotted code naming the event (``"ticket.assigned"``, at most 80
    characters); ``link`` is ``(Model or table name, id)`` or a path/URL; ``store`` (a Store
    or id) limits role recipients to the users who may see it. Returns :class:`Sent`.
    Emails go out only after the transaction commits. Raises ``BusinessError`` for an
    unknown role or a malformed address (field ``recipients``), ``ValueError``/``TypeError``
    for a malformed call."""
    from core.models import MailMessage, Notification
    from core.runtime import runtime_of

    channels = tuple(channels)
    if not channels or any(c not in CHANNELS for c in channels):
        raise ValueError(f"notify(): channels must be among {CHANNELS}, not {channels!r}")
    if not kind or len(kind) > 80:
        raise ValueError("notify(): kind is required (at most 80 characters)")
    if template is None and subject is None:
        raise ValueError("notify(): give a subject (and body) or a template")
    rt = runtime_of(session)
    link_model, link_id, url = _link(link)
    path = link_path(link_model, link_id, url)
    sent = Sent()
    for target in _targets(session, recipients, _id_of(store)):
        subj, text = _render(rt, target, subject, body, template, context or {})
        if "app" in channels and target.user is not None:
            n = Notification(user_id=target.user.id, kind=kind, subject=subj, body=text,
                             link_model=link_model, link_id=link_id, url=url, created_at=utcnow())
            session.add(n)
            sent.notifications.append(n)
        if "email" in channels and target.address:
            mail_body = text
            if path:
                with force_locale(target.locale):
                    line = str(_l("Open in Banyan: %(url)s", url=absolute_url(rt, path)))
                mail_body = f"{text}\n\n{line}" if text else line
            m = MailMessage(kind=kind, to_address=target.address,
                            user_id=target.user.id if target.user is not None else None,
                            locale=target.locale, subject=subj, body=mail_body, state="queued",
                            attempts=0, created_at=utcnow(), next_attempt_at=utcnow())
            session.add(m)
            sent.mails.append(m)
    if sent.notifications or sent.mails:
        session.flush()
    if sent.mails:
        send_after_commit(session)
    return sent


def send_after_commit(session: Session) -> None:
    """Queue the mail job once ``session``'s transaction commits (nothing if it rolls back)."""
    _PENDING.set(session, True)
    if not _ARMED.get(session):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)
        _ARMED.set(session, True)


def _after_commit(session: Session) -> None:
    if not _PENDING.pop(session, False):
        return
    rt = RUNTIME.get(session)
    try:
        from core.jobs import enqueue

        enqueue(rt, MAIL_JOB)
    except Exception:  # committed already: the every-minute run sends it
        log.exception("could not queue %s after commit; the periodic run will send the mail", MAIL_JOB)


def _after_rollback(session: Session) -> None:
    _PENDING.pop(session)


# --------------------------------------------------------------------------- reading

def unread_count(session: Session, user) -> int:
    from core.models import Notification

    return session.execute(select(func.count()).select_from(Notification)
                           .where(Notification.user_id == user.id, Notification.read_at.is_(None))).scalar()


def last_id(session: Session, user) -> int:
    """The id of ``user``'s newest notification (0 when none): the cursor a page starts the
    live feed from, so it shows only what arrives after it was drawn."""
    from core.models import Notification

    return session.execute(select(func.max(Notification.id)).where(Notification.user_id == user.id)).scalar() or 0


def live_feed(session: Session, user, after: int, limit: int = 20) -> dict:
    """``user``'s notifications with an id above ``after`` (oldest first, at most ``limit``),
    ``cursor`` (the last id returned, else ``after``) and ``unread`` (the bell's count).

    This is the back office's live channel (the bell polls it): the rows are the ones
    :func:`notify` committed, so any web worker answers it, and a user only ever reads their
    own. A notification made before ``after`` was reached is never returned twice."""
    from core.models import Notification

    rows = session.execute(select(Notification).where(Notification.user_id == user.id, Notification.id > after)
                           .order_by(Notification.id).limit(limit)).scalars().all()
    return {"items": rows, "cursor": rows[-1].id if rows else after, "unread": unread_count(session, user)}


def mark_read(session: Session, user, ids: Iterable[int] | None = None) -> int:
    """Mark ``user``'s notifications ``ids`` (all unread ones when None) read; returns how
    many changed. Another user's ids are ignored. The caller commits."""
    from core.models import Notification

    stmt = (update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
            .values(read_at=utcnow()).execution_options(synchronize_session=False))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    return session.execute(stmt).rowcount


# --------------------------------------------------------------------------- sending

def mail_settings(rt) -> dict:
    cfg = dict(rt.config.get("mail", {}))
    cfg.setdefault("host", "127.0.0.1")
    cfg.setdefault("port", 25)
    cfg.setdefault("timeout", 30)
    cfg.setdefault("max_attempts", 5)
    cfg.setdefault("retry_delay", 60)
    cfg.setdefault("base_url", "http://127.0.0.1:5000")
    return cfg


def backoff(cfg: dict, attempts: int) -> timedelta:
    """Wait before attempt ``attempts + 1``: ``retry_delay`` seconds, doubled per attempt."""
    return timedelta(seconds=int(cfg["retry_delay"]) * 2 ** max(attempts - 1, 0))


def _connect(cfg: dict) -> smtplib.SMTP:
    smtp = smtplib.SMTP(cfg["host"], int(cfg["port"]), timeout=float(cfg["timeout"]))
    try:
        if cfg.get("use_tls"):
            smtp.starttls(context=ssl.create_default_context())
        if cfg.get("username"):
            smtp.login(cfg["username"], cfg.get("password") or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def connect_smtp(cfg: dict) -> smtplib.SMTP:
    """An SMTP connection with the ``[mail]`` settings ``cfg`` (:func:`mail_settings`):
    STARTTLS and login when configured. For addons that send mail of their own (campaigns)."""
    return _connect(cfg)


def build_message(cfg: dict, msg) -> EmailMessage:
    """The RFC 5322 message of outbox row ``msg`` (UTF-8 text, subject encoded as needed)."""
    em = EmailMessage()
    sender = cfg.get("sender") or "banyan@localhost"
    em["From"] = sender
    em["To"] = msg.to_address
    em["Subject"] = msg.subject
    em["Date"] = formatdate(usegmt=True)
    em["Message-ID"] = make_msgid(f"banyan.{msg.id}", domain=sender.rpartition("@")[2] or "localhost")
    em["Content-Language"] = msg.locale.replace("_", "-")
    em["X-Banyan-Kind"] = msg.kind
    em.set_content(msg.body or "")
    return em


def _recover_stale(rt) -> int:
    from core.models import MailMessage

    with rt.session() as s, transaction(s):
        return s.execute(update(MailMessage)
                         .where(MailMessage.state == "sending", MailMessage.claimed_at < utcnow() - STALE_CLAIM)
                         .values(state="queued", claim=None,
                                 last_error="worker_stopped")  # a code: core.labels.MAIL_PROBLEM
                         .execution_options(synchronize_session=False)).rowcount


def _claim(rt, now: datetime, limit: int) -> tuple[str, list]:
    from core.models import MailMessage

    token = uuid.uuid4().hex
    with rt.session() as s, transaction(s):
        q = (select(MailMessage.id).where(MailMessage.state == "queued", MailMessage.next_attempt_at <= now)
             .order_by(MailMessage.next_attempt_at, MailMessage.id).limit(limit))
        if is_postgres(s.get_bind()):
            q = q.with_for_update(skip_locked=True)
        ids = s.execute(q).scalars().all()
        if not ids:
            return token, []
        # conditional: a row another worker claimed meanwhile is no longer 'queued'
        s.execute(update(MailMessage).where(MailMessage.id.in_(ids), MailMessage.state == "queued")
                  .values(state="sending", claim=token, claimed_at=utcnow(), attempts=MailMessage.attempts + 1)
                  .execution_options(synchronize_session=False))
        rows = s.execute(select(MailMessage).where(MailMessage.claim == token).order_by(MailMessage.id)
                         ).scalars().all()
        s.expunge_all()
    return token, rows


def _finish(rt, msg, token: str, cfg: dict, now: datetime, error: str | None) -> str:
    from core.models import MailMessage

    if error is None:
        values = dict(state="sent", sent_at=utcnow(), claim=None, last_error=None)
    elif msg.attempts >= int(cfg["max_attempts"]):
        values = dict(state="failed", claim=None, last_error=error[:4000])
    else:
        values = dict(state="queued", claim=None, last_error=error[:4000],
                      next_attempt_at=now + backoff(cfg, msg.attempts))
    with rt.session() as s, transaction(s):
        done = s.execute(update(MailMessage).where(MailMessage.id == msg.id, MailMessage.claim == token)
                         .values(**values).execution_options(synchronize_session=False)).rowcount
        if done and values["state"] == "failed":
            _tell_mail_admins(s, s.get(MailMessage, msg.id))
    if values["state"] == "failed":
        log.error("email %s to %s failed after %d attempt(s): %s", msg.id, msg.to_address, msg.attempts, error)
    elif error is not None:
        log.warning("email %s to %s: attempt %d failed, retrying: %s", msg.id, msg.to_address, msg.attempts, error)
    return values["state"]


def _tell_mail_admins(session: Session, msg) -> None:
    """In-app notice to the holders of the roles granted ``core.mail.admin``: an email gave up."""
    from core.models import RolePermission

    roles = session.execute(select(RolePermission.role_code).where(RolePermission.permission == MAIL_ADMIN)
                            .order_by(RolePermission.role_code)).scalars().all()
    if roles:
        notify(session, [ToRole(code) for code in roles], kind="core.mail.failed", channels=("app",),
               template="notifications/mail_failed.txt", context={"message": msg},
               link=("core_mail_message", msg.id))


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"SMTP {exc.smtp_code}: {text}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt}: SMTP {code} {err.decode('utf-8', 'replace') if isinstance(err, bytes) else err}"
                         for rcpt, (code, err) in exc.recipients.items())
    return f"{type(exc).__name__}: {exc}"


def send_due(rt, now: datetime | None = None, limit: int = 50) -> dict:
    """Send every message due at ``now`` (default: the present), in batches of ``limit``.

    Returns ``{"sent": n, "retrying": n, "failed": n, "requeued": n}``. SMTP errors are
    recorded on the messages (never raised); one SMTP connection serves a batch."""
    cfg = mail_settings(rt)
    now = now or utcnow()
    counts = {"sent": 0, "retrying": 0, "failed": 0, "requeued": _recover_stale(rt)}
    while True:
        token, batch = _claim(rt, now, limit)
        if not batch:
            break
        smtp = None
        try:
            for msg in batch:
                error = None
                try:
                    if smtp is None:
                        smtp = _connect(cfg)
                    smtp.send_message(build_message(cfg, msg))
                except (smtplib.SMTPException, OSError) as exc:
                    error = _error_text(exc)
                    if isinstance(exc, (smtplib.SMTPServerDisconnected, OSError)) and smtp is not None:
                        _close(smtp)
                        smtp = None
                state = _finish(rt, msg, token, cfg, now, error)
                counts["retrying" if state == "queued" else state] += 1
        finally:
            if smtp is not None:
                _close(smtp)
        if len(batch) < limit:
            break
    return counts


def _close(smtp) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def mail_job(session: Session) -> None:
    """The ``core.mail.send`` job: send what is due (own sessions; ``session`` stays unused,
    so no database lock is held while talking to the SMTP server)."""
    from core.runtime import runtime_of

    counts = send_due(runtime_of(session))
    if any(counts.values()):
        log.info("mail: %s", counts)


def requeue(session: Session, ids: Iterable[int]) -> int:
    """Queue failed messages ``ids`` again with fresh attempts (back office); sent after commit."""
    from core.models import MailMessage

    n = session.execute(update(MailMessage).where(MailMessage.id.in_(list(ids)), MailMessage.state == "failed")
                        .values(state="queued", attempts=0, next_attempt_at=utcnow(), claim=None)
                        .execution_options(synchronize_session=False)).rowcount
    if n:
        send_after_commit(session)
    return n
