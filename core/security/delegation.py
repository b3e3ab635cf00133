"""Nobody hands out more than they hold: the delegation check of every write that changes
what a login may do.

The record scope (``core.security.scope``) decides *which rows* a user may write; this
module decides whether a write would give someone (the writer included) *permissions* the
writer does not hold. It runs in the same ``before_flush`` check of a session scoped to a
user (``core.security.scope._check_writes``), so every surface (back-office forms, bulk
actions, custom pages, the API, imports) obeys it; unscoped sessions (``banyan`` CLI,
``sync_roles``, jobs) are not limited.

For a writer who is not a superuser:

- **Roles** apply to the whole chain: creating, renaming or deleting a role or changing its
  permissions needs a chain-level scope (``scope_kind == "all"``), like the addons page and
  other users' API tokens. A permission may be granted to or withdrawn from a role only by
  a writer who holds it (error on ``grants``).
- **Users**: a user may be created, changed or deleted only when everything they may do,
  before and after the change, is among the writer's permissions (error on ``roles``), and
  never when they are or become a superuser (``is_superuser``). So a user administrator
  cannot give themselves or anyone a role that holds more than they do, nor reset the
  password of an account that may do more than they may.
- **API tokens** of another user follow the same rule as that user (error on ``user``): a
  token acts with its owner's permissions.
"""
from __future__ import annotations

from sqlalchemy import inspect as sa_inspect, select

from core.i18n import lazy_gettext as _l
from core.models import ApiToken, Role, RolePermission, User, user_role

ROLE_NEEDS_CHAIN = _l("Roles apply to the whole chain: only an administrator of the whole chain may change them.")
SUPERUSER_ONLY = _l("Only a superuser can change a superuser.")

_WATCHED = (Role, RolePermission, User, ApiToken)


def _role_permissions(session, codes) -> frozenset[str]:
    codes = sorted({c for c in codes if c})
    if not codes:
        return frozenset()
    return frozenset(session.execute(select(RolePermission.permission).where(RolePermission.role_code.in_(codes))
                                     .execution_options(banyan_unscoped=True)).scalars())


def _stored_permissions(session, user_id) -> frozenset[str]:
    return frozenset(session.execute(
        select(RolePermission.permission).join(user_role, user_role.c.role_code == RolePermission.role_code)
        .where(user_role.c.user_id == user_id).execution_options(banyan_unscoped=True)).scalars())


def _stored_superuser(session, user_id) -> bool:
    return bool(session.execute(select(User.is_superuser).where(User.id == user_id)
                                .execution_options(banyan_unscoped=True)).scalar())


def _names(perms) -> str:
    return ", ".join(sorted(perms))


class DelegationCheck:
    """One flush of a session scoped to ``writer`` (see the module docstring); ``refuse``
    collects ``{field: [messages]}`` (the scope check's ``refuse``)."""

    def __init__(self, session, writer: User, refuse):
        from core.security.permissions import user_permissions

        self.session = session
        self.writer = writer
        self.refuse = refuse
        self.super = bool(writer.is_superuser)
        self.held = None if self.super else user_permissions(session, writer)
        self.chain_level = self.super or writer.scope_kind == "all"

    def _missing(self, perms) -> set[str]:
        return set() if self.held is None else set(perms) - self.held

    def check(self, obj, kind: str) -> None:
        if isinstance(obj, RolePermission):
            self.role_permission(obj, kind)
        elif isinstance(obj, Role):
            if not self.chain_level:
                self.refuse("grants", ROLE_NEEDS_CHAIN)
        elif isinstance(obj, User):
            self.user(obj, kind)
        elif isinstance(obj, ApiToken):
            if obj.user_id is not None and obj.user_id != self.writer.id:
                self.user_id_within(obj.user_id, "user")

    def role_permission(self, obj: RolePermission, kind: str) -> None:
        if not self.chain_level:
            self.refuse("grants", ROLE_NEEDS_CHAIN)
            return
        changed = {obj.permission}
        if kind == "dirty":  # the primary key itself changed: both names count
            hist = sa_inspect(obj).attrs.permission.history
            changed |= set(hist.deleted or ())
        missing = self._missing(changed)
        if missing:
            self.refuse("grants", _l("You may only grant or withdraw permissions you hold yourself: %(names)s.",
                                     names=_names(missing)))

    def user(self, obj: User, kind: str) -> None:
        if self.super:
            return
        state = sa_inspect(obj)
        before_super = state.key is not None and _stored_superuser(self.session, obj.id)
        if obj.is_superuser or before_super:
            self.refuse("is_superuser", SUPERUSER_ONLY)
            return
        wanted = set() if kind == "deleted" else set(_role_permissions(self.session, [r.code for r in obj.roles]))
        if state.key is not None:
            wanted |= _stored_permissions(self.session, obj.id)
        missing = self._missing(wanted)
        if missing:
            self.refuse("roles", _l("This user would hold permissions you do not hold yourself: %(names)s.",
                                    names=_names(missing)))

    def user_id_within(self, user_id: int, field: str) -> None:
        if self.super:
            return
        if _stored_superuser(self.session, user_id):
            self.refuse(field, SUPERUSER_ONLY)
            return
        missing = self._missing(_stored_permissions(self.session, user_id))
        if missing:
            self.refuse(field, _l("This user would hold permissions you do not hold yourself: %(names)s.",
                                  names=_names(missing)))


def check_flush(session, scope, refuse) -> None:
    """Run the delegation check over the pending changes of ``session`` (scoped to
    ``scope``); called by the scope's ``before_flush`` check. Cheap when the flush touches
    no role, user or token."""
    if not scope.user_id:
        return
    todo = [(o, "new") for o in session.new if isinstance(o, _WATCHED)]
    todo += [(o, "dirty") for o in session.dirty if isinstance(o, _WATCHED) and session.is_modified(o)]
    todo += [(o, "deleted") for o in session.deleted if isinstance(o, _WATCHED)]
    if not todo:
        return
    with session.no_autoflush:
        writer = session.execute(select(User).where(User.id == scope.user_id)
                                 .execution_options(banyan_unscoped=True)).scalar()
        if writer is None:
            return
        check = DelegationCheck(session, writer, refuse)
        for obj, kind in todo:
            if isinstance(obj, ApiToken) and kind == "dirty" and obj.user_id == writer.id:
                continue
            check.check(obj, kind)
