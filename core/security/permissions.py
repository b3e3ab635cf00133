"""Permission checks and the default roles every database starts with."""
from __future__ import annotations

from sqlalchemy import select

from core.db import InfoKey
from core.i18n import lazy_gettext as _l
from core.models import Role, RolePermission, User, user_role

#: roles created on ``banyan init``; addons' permissions name them in ``default_roles``
DEFAULT_ROLES = {
    "hq_admin": _l("HQ administrator"),
    "region_manager": _l("Region manager"),
    "franchisee": _l("Franchisee"),
    "store_manager": _l("Store manager"),
    "cashier": _l("Cashier"),
    "agent": _l("Call-center agent"),
    "marketer": _l("Marketer"),
    "technician": _l("Technician"),
}


def sync_roles(session, registry) -> None:
    """Create the default roles and grant each declared permission to its default roles
    (existing grants, including ones an admin added, are kept)."""
    roles = {r.code: r for r in session.execute(select(Role)).scalars()}
    for code, label in DEFAULT_ROLES.items():
        if code not in roles:
            roles[code] = Role(code=code, name=str(label))
            session.add(roles[code])
    session.flush()
    have = set(session.execute(select(RolePermission.role_code, RolePermission.permission)).all())
    for perm in registry.permissions().values():
        for role in perm.default_roles:
            if role not in roles:
                roles[role] = Role(code=role, name=role)
                session.add(roles[role])
                session.flush()
            if (role, perm.name) not in have:
                session.add(RolePermission(role_code=role, permission=perm.name))
                have.add((role, perm.name))
    session.flush()


#: ``(user id, permission names)`` read once per session
_PERMS: InfoKey[tuple[int, frozenset[str]]] = InfoKey("core.security.permissions")


def user_permissions(session, user: User) -> frozenset[str]:
    if user is None:
        return frozenset()
    cached = _PERMS.get(session)
    if cached is not None and cached[0] == user.id:
        return cached[1]
    perms = frozenset(session.execute(
        select(RolePermission.permission).join(user_role, user_role.c.role_code == RolePermission.role_code)
        .where(user_role.c.user_id == user.id)).scalars())
    _PERMS.set(session, (user.id, perms))
    return perms


def preset_permissions(session, user: User, perms: frozenset[str]) -> None:
    """Give ``session`` ``user``'s permission names already read (e.g. with a cached token)."""
    _PERMS.set(session, (user.id, frozenset(perms)))


def has_permission(session, user: User | None, name: str) -> bool:
    if user is None or not user.active:
        return False
    if user.is_superuser:
        return True
    return name in user_permissions(session, user)
