"""``Idempotency-Key``: a retried request that moves money or stock takes effect once.

Every API endpoint that moves money or stock (a sale, a refund, a stored-value top-up or
adjustment, a points redemption or transfer, a card issued with value...) is decorated with
:func:`idempotent`, placed right under ``core.api.requires``::

    @blp.route("/members/<int:customer_id>/topup", methods=["POST"])
    @requires("membership.stored_value.topup")
    @idempotent()
    @blp.arguments(TopupIn)
    @blp.response(201, EntrySchema)
    def topup(data, customer_id): ...

The contract, for a request carrying ``Idempotency-Key: <1 to 80 printable characters>``:

* the first request runs; its answer (status, content type and the exact body bytes) is
  stored in ``core_idempotency`` under (the user, the endpoint, the key) **in the same
  transaction as the operation** (``core.db.transaction`` leaves the commit to this
  decorator), so either both are recorded or neither is;
* a retry with the same key and the same request (method, path and JSON body, compared by
  a SHA-256 fingerprint of the canonical JSON) is answered byte for byte with the stored
  answer, with the header ``Idempotent-Replayed: true``, and does nothing else. An endpoint
  may document another replay status (``POST /sales`` answers 200 instead of 201);
* the same key with a different request is refused with 409;
* the record is looked up only when the operation cannot be recorded: the request runs
  first, then inserts its record. A retry or a concurrent duplicate fails on the unique key
  (PostgreSQL waits for the winner's commit) or on its own checks (nothing left to refund,
  a 4xx of any kind); its whole operation rolls back, nothing of it stays, and it answers
  the stored answer (or 409). A first attempt, which is nearly every request, so costs one
  statement (the insert) instead of two. This is safe because nothing leaves the database
  before the commit: mail and jobs are queued after it (``core.notify``,
  ``session.after_commit``), and payment captures write only rows. An endpoint that must
  not run twice even inside a rolled-back transaction passes ``look_first=True``;
* only successful answers (2xx) are stored: a refused request changed nothing, and a retry
  is judged afresh (and may succeed once the cause is fixed).

Without the header the endpoint behaves as before (no protection against retries).

Retention: a record is kept ``[idempotency] retention_days`` (default 7) after its request;
the daily job ``core.idempotency.purge`` (:func:`purge_expired`, also ``banyan jobs run
core.idempotency.purge``) deletes older ones in batches. A retry sent later than that runs
again, where the operation's own business key does not stop it (a sale's and the ledgers'
``idempotency_key`` columns are kept for good and still refuse a second effect).
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from functools import wraps

from flask import Response, request
from sqlalchemy import delete, select

from core.db import HOLD_COMMIT
from core.errors import BusinessError, ConfigError, Conflict
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow

log = logging.getLogger("banyan.idempotency")

#: the periodic job that deletes expired records, daily at 03:43 (business time)
PURGE_JOB = "core.idempotency.purge"
#: rows deleted per statement by :func:`purge_expired`
PURGE_BATCH = 1000
DEFAULT_RETENTION_DAYS = 7

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
_UNSCOPED = {"banyan_unscoped": True}


def user_key(user, key: str | None, prefix: str = "") -> str | None:
    """``key`` as a stored business key of ``user`` (at most 80 characters): an
    ``Idempotency-Key`` belongs to the user who sent it, so two cashiers who happen to send
    the same key never meet on the sale's or a ledger's own unique key. None stays None."""
    if not key:
        return None
    text = f"{prefix}u{getattr(user, 'id', 0)}:{key}"
    return text if len(text) <= 80 else f"{prefix}h:{hashlib.sha256(text.encode()).hexdigest()}"


def request_key() -> str | None:
    """The request's ``Idempotency-Key`` (stripped), None without one; 422 when malformed."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 80 or not key.isprintable():
        raise BusinessError({HEADER: _l("1 to 80 printable characters.")})
    return key


def fingerprint() -> str:
    """SHA-256 of the request's method, path and canonical JSON body (key order and
    whitespace do not matter; a body that is not JSON is hashed as sent)."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(raw or b"null"), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        body = raw
    return hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + body).hexdigest()


_FIND = None
_INSERT = None


def _statements():
    """The lookup and the insert of a record, built once (Core: no ORM flush per request)."""
    global _FIND, _INSERT
    if _FIND is None:
        from sqlalchemy import bindparam, insert

        from core.models import IdempotencyRecord

        t = IdempotencyRecord.__table__
        _INSERT = insert(t)
        _FIND = (select(t.c.fingerprint, t.c.status, t.c.content_type, t.c.body)
                 .where(t.c.scope == bindparam("scope"), t.c.endpoint == bindparam("endpoint"),
                        t.c.key == bindparam("key")).execution_options(**_UNSCOPED))
    return _FIND, _INSERT


def _find(session, scope: str, endpoint: str, key: str):
    """The stored answer ``(fingerprint, status, content_type, body)`` or None."""
    find, _ = _statements()
    return session.execute(find, {"scope": scope, "endpoint": endpoint[:120], "key": key}).first()


def _replay(record, fp: str, replay_status: int | None) -> Response:
    if record.fingerprint != fp:
        raise Conflict({HEADER: _l("This key was used for a different request.")})
    resp = Response(record.body, status=replay_status or record.status, content_type=record.content_type)
    resp.headers[REPLAY_HEADER] = "true"
    return resp


def idempotent(replay_status: int | None = None, look_first: bool = False):
    """Make a flask-smorest view honour ``Idempotency-Key`` (see the module docstring).
    ``replay_status``: the status of a replayed answer when it is not the first one's
    (document it on the endpoint). ``look_first``: look the key up before running (one
    statement more per request), for an operation with an effect outside the database
    inside its transaction; no endpoint needs it today."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            from core.api import request_user
            from core.web import db_session

            key = request_key()
            if key is None:
                return func(*args, **kwargs)
            user = request_user()
            scope = f"user:{getattr(user, 'id', '')}"
            endpoint = request.endpoint or request.path
            fp = fingerprint()
            s = db_session()

            def replayed():
                record = _find(s, scope, endpoint, key)
                if record is None:
                    return None
                resp = _replay(record, fp, replay_status)
                s.rollback()
                return resp

            if look_first:
                resp = replayed()
                if resp is not None:
                    return resp
            HOLD_COMMIT.set(s, True)
            try:
                resp = func(*args, **kwargs)
                if not isinstance(resp, Response):  # pragma: no cover - smorest always answers a Response
                    raise TypeError("@idempotent must sit above the flask-smorest decorators")
                if 200 <= resp.status_code < 300:
                    _store(s, scope, endpoint, key, fp, resp)
                    s.commit()
                else:  # an answer that is not a success: a retry of a recorded request?
                    s.rollback()
                    resp = replayed() or resp
            except Exception:
                # A retry, or a concurrent duplicate that lost: our record's insert failed on
                # the unique key, or the operation itself was refused because of what the
                # first one did (say, nothing left to refund). Nothing of this run stays;
                # the recorded answer is the answer (409 for another request under the key).
                s.rollback()
                resp = replayed()
                if resp is None:
                    raise
            except BaseException:
                s.rollback()
                raise
            finally:
                HOLD_COMMIT.pop(s)
            return resp

        wrapper._banyan_idempotent = True
        #: the status of a replayed answer when it is not the first one's (None: the same)
        wrapper._banyan_replay_status = replay_status
        return wrapper

    return decorator


def _store(session, scope, endpoint, key, fp, resp: Response) -> None:
    """Insert the answer's record in the operation's transaction (IntegrityError when the
    key is taken)."""
    _, ins = _statements()
    session.connection().execute(ins, {
        "scope": scope, "endpoint": endpoint[:120], "key": key, "fingerprint": fp,
        "status": resp.status_code, "content_type": resp.content_type or "application/json",
        "body": resp.get_data(), "created_at": utcnow()})


# --------------------------------------------------------------------------- retention


def retention_days(config: dict) -> int:
    """``[idempotency] retention_days`` of a configuration dict (``core.config.load_config``):
    whole days, at least 1 (default 7). ConfigError for anything else."""
    raw = (config.get("idempotency") or {}).get("retention_days", DEFAULT_RETENTION_DAYS)
    try:
        days = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"[idempotency] retention_days must be a whole number of days, not {raw!r}") from None
    if isinstance(raw, bool) or days < 1 or str(raw).strip() != str(days):
        raise ConfigError(f"[idempotency] retention_days must be a whole number of days, at least 1, not {raw!r}")
    return days


def purge_expired(session, now: datetime | None = None, days: int | None = None,
                  batch: int = PURGE_BATCH) -> int:
    """Delete the ``core_idempotency`` records created before ``now - days`` (``now``: naive
    UTC, default the current time; ``days``: default ``[idempotency] retention_days`` of the
    session's runtime) and return how many were deleted. A record exactly ``days`` old is
    kept. Rows go ``batch`` at a time (oldest ids first, one bounded ``DELETE ... WHERE id IN
    (SELECT ... LIMIT batch)`` per round, using the index on ``created_at``), all in the
    caller's transaction; a second run deletes nothing. Works on the caller's session:
    flushes nothing of its own, never commits."""
    from core.models import IdempotencyRecord

    if days is None:
        from core.runtime import runtime_of

        days = retention_days(runtime_of(session).config)
    if batch < 1:
        raise ValueError("batch must be at least 1")
    cutoff = (now or utcnow()) - timedelta(days=days)
    table = IdempotencyRecord.__table__
    total = 0
    while True:
        ids = (select(table.c.id).where(table.c.created_at < cutoff).order_by(table.c.id).limit(batch)
               .scalar_subquery())
        done = session.execute(delete(table).where(table.c.id.in_(ids)).execution_options(**_UNSCOPED)).rowcount
        total += done or 0
        if not done or done < batch:
            break
    if total:
        log.info("idempotency: %d record(s) older than %d day(s) deleted", total, days)
    return total


def purge_job(session) -> int:
    """The job ``core.idempotency.purge``: :func:`purge_expired` with the configured retention."""
    return purge_expired(session)
