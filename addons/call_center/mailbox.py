"""The mailbox read directly: the job ``call_center.mailbox`` reads the IMAP folder of
``[call_center] imap_*`` with the standard library (``imaplib``, ``email``) and feeds every
unseen message to the same intake as the email webhook (``intake.intake_email``).

Rules:

1. **What is read.** The folder's UNSEEN messages (``UID SEARCH UNSEEN``), at most
   ``imap_batch`` per run, oldest first. Each is fetched with ``BODY.PEEK[]`` (which does not
   mark it seen), taken in in its own transaction, and only then marked ``\\Seen``. A crash
   between the commit and the mark leaves it unseen: the next run reads it again and the
   intake, idempotent on Message-ID, answers ``duplicate`` and changes nothing.
2. **The message.** ``From``, ``Subject`` (decoded), ``Message-ID``, ``In-Reply-To``,
   ``References`` and the text: the ``text/plain`` part, else the ``text/html`` part with its
   tags taken out. A message without a Message-ID gets ``<sha256 of its bytes@mailbox>``, so
   reading it twice still takes it once. Threading and the customer are the intake's.
3. **Refused messages** (no sender address, a text too long: the intake's ``BusinessError``)
   are marked seen, counted as ``rejected``, and the reason is kept on the run: they would be
   refused again on every run.
4. **Errors** (the server down, a refused login, an unknown folder, a dropped connection, a
   time-out of ``imap_timeout`` seconds) never leave the job: the run is recorded ``failed``
   with the error, what was taken in before stays committed, and the next run tries again.
   When the mailbox goes from read to failing, the holders of the roles that may configure
   the call center are told in the app, once (not at every run while it keeps failing).
5. **Every run is recorded** in ``call_center_mailbox_run`` (read / failed, counts, error),
   shown in the back office (Call Center > Mailbox runs) and on the supervisor board.
"""
from __future__ import annotations

import hashlib
import imaplib
import logging
import re
import ssl
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

from sqlalchemy import select

from core.db import transaction
from core.errors import BusinessError
from core.mixins import utcnow

from .models import MailboxRun

log = logging.getLogger("banyan.call_center.mailbox")

SECURITY = ("ssl", "starttls", "none")
#: the biggest message fetched whole (bigger: refused, marked seen)
MAX_BYTES = 10 * 1024 * 1024


def settings(rt) -> dict:
    """The ``[call_center] imap_*`` settings with their defaults (``host`` empty: off)."""
    cfg = dict(rt.config.get("call_center") or {})
    out = {"host": str(cfg.get("imap_host") or "").strip(), "port": int(cfg.get("imap_port") or 993),
           "security": str(cfg.get("imap_security") or "ssl").lower(),
           "username": str(cfg.get("imap_username") or ""), "password": str(cfg.get("imap_password") or ""),
           "folder": str(cfg.get("imap_folder") or "INBOX"), "timeout": float(cfg.get("imap_timeout") or 30),
           "batch": max(1, int(cfg.get("imap_batch") or 50))}
    return out


# --------------------------------------------------------------------------- parsing

class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4"):
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The text of an HTML body (tags, scripts and styles out; blank lines collapsed)."""
    p = _Text()
    p.feed(html)
    p.close()
    text = "".join(p.parts)
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()


def parse(raw: bytes) -> dict:
    """The intake's arguments from the bytes of one RFC 5322 message."""
    msg: EmailMessage = message_from_bytes(raw, policy=policy.default)

    def header(name):
        try:
            value = msg.get(name)
        except (ValueError, TypeError, IndexError):  # a header the parser cannot read
            value = None
        return None if value is None else str(value)

    body = None
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is not None:
            content = part.get_content()
            body = html_text(content) if part.get_content_type() == "text/html" else content
    except (LookupError, ValueError, UnicodeError):  # an unknown charset, a broken part
        part = None
    if body is None and not msg.is_multipart():
        payload = msg.get_payload(decode=True) or b""
        body = payload.decode("utf-8", "replace")
    mid = header("Message-ID")
    if not mid or "<" not in mid:
        mid = f"<{hashlib.sha256(raw).hexdigest()[:40]}@mailbox>"
    return {"message_id": mid, "from_address": header("From"), "subject": header("Subject"),
            "body": (body or "").strip() or None, "in_reply_to": header("In-Reply-To"),
            "references": header("References")}


# --------------------------------------------------------------------------- IMAP

def connect(cfg: dict) -> imaplib.IMAP4:
    """A logged-in IMAP connection with ``cfg`` (:func:`settings`), the folder selected."""
    if cfg["security"] not in SECURITY:
        raise ValueError(f"imap_security must be one of {', '.join(SECURITY)}, not {cfg['security']!r}")
    if cfg["security"] == "ssl":
        conn = imaplib.IMAP4_SSL(cfg["host"], cfg["port"], ssl_context=ssl.create_default_context(),
                                 timeout=cfg["timeout"])
    else:
        conn = imaplib.IMAP4(cfg["host"], cfg["port"], timeout=cfg["timeout"])
    try:
        if cfg["security"] == "starttls":
            conn.starttls(ssl_context=ssl.create_default_context())
        conn.login(cfg["username"], cfg["password"])
        typ, data = conn.select(_quoted(cfg["folder"]))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SELECT {cfg['folder']}: {_text(data)}")
    except BaseException:
        _close(conn)
        raise
    return conn


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data) -> str:
    out = []
    for d in data or ():
        if isinstance(d, tuple):
            d = d[0]
        if isinstance(d, bytes):
            d = d.decode("utf-8", "replace")
        if d:
            out.append(str(d))
    return " ".join(out)


def _close(conn) -> None:
    try:
        conn.logout()
    except Exception:  # the connection is gone already
        try:
            conn.shutdown()
        except Exception:
            pass


def _fetch(conn, uid: bytes) -> bytes | None:
    typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH {uid.decode()}: {_text(data)}")
    for item in data or ():
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _mark_seen(conn, uid: bytes) -> None:
    typ, data = conn.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"STORE {uid.decode()}: {_text(data)}")


# --------------------------------------------------------------------------- the run

def _take_in(rt, raw: bytes) -> tuple[str, str | None]:
    """Take one message in, in its own transaction: ``("created"|"replies"|"duplicates"|
    "rejected", reason)``."""
    from .intake import DuplicateEmail, intake_email

    if len(raw) > MAX_BYTES:
        return "rejected", f"message of {len(raw)} bytes is larger than {MAX_BYTES}"
    args = parse(raw)
    try:
        with rt.session() as s, transaction(s):
            out = intake_email(s, **args)
    except DuplicateEmail:
        return "duplicates", None
    except BusinessError as exc:
        reason = "; ".join(f"{k}: {', '.join(str(m) for m in (v if isinstance(v, (list, tuple)) else [v]))}"
                           for k, v in exc.errors.items())
        return "rejected", f"{args['message_id']}: {reason}"
    if out["duplicate"]:
        return "duplicates", None
    return ("created" if out["created"] else "replies"), None


def poll(rt, at: datetime | None = None) -> dict:
    """Read the mailbox once (see the module docstring). Returns the run's figures
    ``{"state": "ok"|"failed"|"off", "fetched", "created", "replies", "duplicates",
    "rejected", "error"}``; never raises for the mailbox's faults."""
    cfg = settings(rt)
    counts = {"fetched": 0, "created": 0, "replies": 0, "duplicates": 0, "rejected": 0}
    if not cfg["host"]:
        return {"state": "off", **counts, "error": None}
    started = at or utcnow()
    errors: list[str] = []
    failure = None
    conn = None
    try:
        conn = connect(cfg)
        typ, data = conn.uid("SEARCH", None, "UNSEEN")
        if typ != "OK":
            raise imaplib.IMAP4.error(f"SEARCH: {_text(data)}")
        uids = (data[0] or b"").split() if data else []
        for uid in sorted(uids, key=int)[: cfg["batch"]]:
            raw = _fetch(conn, uid)
            if raw is None:
                continue
            counts["fetched"] += 1
            outcome, reason = _take_in(rt, raw)
            counts[outcome] += 1
            if reason:
                errors.append(reason)
            _mark_seen(conn, uid)
    except (imaplib.IMAP4.error, OSError, ssl.SSLError, ValueError, EOFError) as exc:
        failure = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a database fault in the middle: recorded, the next run retries
        log.exception("mailbox run stopped")
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        if conn is not None:
            _close(conn)
    state = "failed" if failure else "ok"
    text = "\n".join([failure] * bool(failure) + errors)[:4000] or None
    if failure:
        log.warning("mailbox %s/%s: %s", cfg["host"], cfg["folder"], failure)
    _record(rt, cfg, started, state, counts, text)
    return {"state": state, **counts, "error": text}


def _record(rt, cfg: dict, started: datetime, state: str, counts: dict, error: str | None) -> None:
    try:
        with rt.session() as s, transaction(s):
            before = s.execute(select(MailboxRun.state).order_by(MailboxRun.id.desc()).limit(1)).scalar()
            run = MailboxRun(started_at=started, finished_at=utcnow(), state=state, host=cfg["host"][:200],
                             folder=cfg["folder"][:200], error=error, **counts)
            s.add(run)
            s.flush()
            if state == "failed" and before != "failed":
                _tell(s, run)
    except Exception:  # the log keeps the outcome; the job itself must not fail for it
        log.exception("could not record the mailbox run (%s)", state)


def _tell(session, run: MailboxRun) -> None:
    """In-app notice to the holders of the roles that may configure the call center."""
    from core.i18n import lazy_gettext as _l
    from core.models import RolePermission
    from core.notify import ToRole, notify

    from .permissions import CONFIG

    roles = session.execute(select(RolePermission.role_code).where(RolePermission.permission == CONFIG)
                            .order_by(RolePermission.role_code)).scalars().all()
    if roles:
        notify(session, [ToRole(code) for code in roles], kind="call_center.mailbox.failed", channels=("app",),
               subject=_l("The mailbox %(host)s cannot be read", host=run.host),
               body=(run.error or "")[:500], link=(MailboxRun, run.id))


def last_run(session) -> MailboxRun | None:
    """The latest mailbox run (the supervisor board shows it)."""
    return session.execute(select(MailboxRun).order_by(MailboxRun.id.desc()).limit(1)).scalar()
