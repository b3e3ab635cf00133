"""Per-user API tokens: ``Authorization: Bearer <token>``.

Only the SHA-256 of a token is stored, with a short prefix so people can tell their
tokens apart. The plain token is shown once, when it is created. A revoked token, or one
whose user is inactive, authenticates nobody.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import ApiToken, User

TOKEN_PREFIX = "bnyn_"
#: last_used_at is refreshed at most this often (one cheap UPDATE, not one per request)
TOUCH_EVERY = timedelta(minutes=1)


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def create_token(session, user: User, name: str) -> tuple[str, ApiToken]:
    """Make a token for ``user``; returns ``(plain_token, ApiToken)``. Flushes, never commits."""
    name = (name or "").strip()
    if not name:
        raise BusinessError({"name": _l("A token needs a name.")})
    if len(name) > 80:
        raise BusinessError({"name": _l("At most 80 characters.")})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(plain), prefix=plain[:12])
    session.add(token)
    session.flush()
    return plain, token


def revoke(session, token_id: int, user: User | None = None) -> ApiToken:
    """Revoke token ``token_id`` (only among ``user``'s tokens when ``user`` is given)."""
    stmt = select(ApiToken).where(ApiToken.id == token_id)
    if user is not None:
        stmt = stmt.where(ApiToken.user_id == user.id)
    token = session.execute(stmt).scalar()
    if token is None:
        raise NotFound({"id": _l("No such token.")})
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


def user_for_token(session, plain: str | None) -> User | None:
    """The active user owning the live token ``plain``, or None. The lookup is its own
    short transaction on ``session`` (``last_used_at`` is refreshed at most once a minute)."""
    if not plain or len(plain) > 200:
        return None
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(plain))).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or not user.active:
        session.rollback()
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
                        .execution_options(synchronize_session=False))
    # end the lookup's transaction at once (on SQLite every transaction holds the write lock)
    session.commit()
    return user
