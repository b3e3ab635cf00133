"""Creating logins outside the back office (``banyan users create``), with the back office's
rules: a unique user name, a password of at least :data:`MIN_PASSWORD` characters, known
roles, and a scope (``all``, or a company, region or store named by code or id).

Functions flush, never commit; they raise :class:`core.errors.BusinessError` naming the field.
"""
from __future__ import annotations

import re

from sqlalchemy import select

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.models import Company, Region, Role, Store, User
from core.models.employee import SCOPE_KINDS

from core.security.passwords import MIN_PASSWORD, password_errors  # noqa: F401 (MIN_PASSWORD: re-exported)

_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,60}")
_SCOPE_MODELS = {"company": Company, "region": Region, "store": Store}


def resolve_scope_ref(session, scope_kind: str, ref) -> int | None:
    """The id of the company, region or store ``ref`` (its code or its id) for ``scope_kind``;
    None for ``all``. Raises BusinessError({"scope_ref": "No store has the code or id S001."})
    (company, region, store alike) when there is no such row."""
    if scope_kind not in SCOPE_KINDS:
        raise BusinessError({"scope_kind": _l("One of: %(kinds)s.", kinds=", ".join(SCOPE_KINDS))})
    if scope_kind == "all":
        if ref not in (None, ""):
            raise BusinessError({"scope_ref": _l("A user who sees every store has no scope reference.")})
        return None
    if ref in (None, ""):
        raise BusinessError({"scope_ref": _l("Say which company, region or store.")})
    model = _SCOPE_MODELS[scope_kind]
    ref = str(ref).strip()
    row = session.execute(select(model.id).where(model.code == ref).execution_options(banyan_unscoped=True)).scalar()
    if row is None and ref.isdigit() and int(ref) <= 2**31 - 1:
        row = session.execute(select(model.id).where(model.id == int(ref))
                              .execution_options(banyan_unscoped=True)).scalar()
    if row is None:
        missing = {"company": _l("No company has the code or id %(ref)s.", ref=ref),
                   "region": _l("No region has the code or id %(ref)s.", ref=ref),
                   "store": _l("No store has the code or id %(ref)s.", ref=ref)}
        raise BusinessError({"scope_ref": missing[scope_kind]})
    return row


def create_user(session, username: str, password: str, *, roles=(), scope_kind: str = "all", scope_ref=None,
                superuser: bool = False, locale: str | None = None) -> User:
    """A new active login. ``roles``: role codes (e.g. ``hq_admin``, ``technician``);
    ``scope_ref``: the code or id of the company, region or store of the scope."""
    from core.security.passwords import hash_password

    errors: dict = {}
    username = (username or "").strip()
    if not _USERNAME.fullmatch(username):
        errors["username"] = [_l("1 to 60 letters, digits and . _ @ -")]
    elif session.execute(select(User.id).where(User.username == username)).first() is not None:
        errors["username"] = [_l("Already in use.")]
    if password_errors(password):
        errors["password"] = password_errors(password)
    found = {r.code: r for r in session.execute(select(Role).where(Role.code.in_(list(roles)))).scalars()}
    missing = sorted(set(roles) - set(found))
    if missing:
        errors["roles"] = [_l("No such role: %(roles)s.", roles=", ".join(missing))]
    if locale not in (None, "zh_Hans", "en"):
        errors["locale"] = [_l("One of: %(kinds)s.", kinds="zh_Hans, en")]
    try:
        ref_id = resolve_scope_ref(session, scope_kind, scope_ref)
    except BusinessError as exc:
        errors.update(exc.errors)
        ref_id = None
    if errors:
        raise BusinessError(errors)
    user = User(username=username, password_hash=hash_password(password), is_superuser=bool(superuser),
                scope_kind=scope_kind, scope_ref_id=ref_id, locale=locale, active=True,
                roles=[found[c] for c in roles])
    session.add(user)
    session.flush()
    return user
