"""Permission checks, and the roles: a registry every addon can add to (``register_roles``).

The kernel declares its roles (:data:`KERNEL_ROLES`) through the same hook as the addons.
:func:`declared_roles` collects them (one owner per code), :func:`check_grants` refuses a
permission that grants an undeclared role (``AddonError`` naming the addon, at startup), and
:func:`sync_roles` writes the roles into ``core_role`` and the default grants into
``core_role_permission``.
"""
from __future__ import annotations

import re

from sqlalchemy import delete, select

from core.contrib import RoleDef
from core.db import InfoKey
from core.errors import AddonError
from core.i18n import lazy_gettext as _l
from core.models import Role, RolePermission, User, user_role

#: the kernel's roles, declared by ``core.defaults.kernel.register_roles``
KERNEL_ROLES = (
    RoleDef("hq_admin", _l("HQ administrator"), _l("Runs the chain: every setting, user and record.")),
    RoleDef("region_manager", _l("Region manager"), _l("Manages the stores of one region.")),
    RoleDef("franchisee", _l("Franchisee"), _l("Owns and runs franchised stores.")),
    RoleDef("store_manager", _l("Store manager"), _l("Runs one store: staff, sales, refunds and approvals.")),
    RoleDef("cashier", _l("Cashier"), _l("Rings up sales and serves customers at the till.")),
    RoleDef("agent", _l("Call-center agent"), _l("Answers customers by phone and looks them up.")),
    RoleDef("marketer", _l("Marketer"), _l("Plans promotions and reads customer and sales reports.")),
    RoleDef("technician", _l("Technician"), _l("Repairs and services products for customers.")),
)

#: {code: label} of the kernel's roles (kept for callers of the former constant)
DEFAULT_ROLES = {r.code: r.label for r in KERNEL_ROLES}

ROLE_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def declared_roles(registry) -> dict[str, RoleDef]:
    """{code: RoleDef} of every role the kernel and the loaded addons declare, kernel first,
    each with its ``addon`` filled in. ``AddonError`` (naming the addon) for a malformed code
    or a code declared twice."""
    out: dict[str, RoleDef] = {}
    for owner, role in registry.collect_items("register_roles"):
        if not isinstance(role, RoleDef):
            raise AddonError(f"addon {owner}: register_roles returned {role!r}, not a core.contrib.RoleDef")
        if not ROLE_CODE.match(role.code):
            raise AddonError(f"addon {owner}: role code {role.code!r} must be lowercase letters, digits "
                             f"and '_', start with a letter and be at most 40 characters")
        if role.code in out:
            raise AddonError(f"addon {owner}: role {role.code!r} is already declared by {out[role.code].addon}")
        out[role.code] = role
    return out


def role_labels(registry) -> dict:
    """{code: translated label} of every declared role (:func:`declared_roles`), computed once
    per registry."""
    cached = registry.__dict__.get("_role_labels")
    if cached is None:
        cached = {code: role.label for code, role in declared_roles(registry).items()}
        registry.__dict__["_role_labels"] = cached
    return cached


def check_grants(registry, roles: dict[str, RoleDef] | None = None) -> None:
    """Refuse (``AddonError`` naming the addon) a permission whose ``default_roles`` names a
    role no one declares: a typo would otherwise become a new, empty role."""
    roles = declared_roles(registry) if roles is None else roles
    for owner, perm in registry.collect_items("register_permissions"):
        unknown = [r for r in perm.default_roles if r not in roles]
        if unknown:
            raise AddonError(f"addon {owner}: permission {perm.name} grants unknown role(s) "
                             f"{', '.join(map(repr, unknown))}; declared roles: {', '.join(sorted(roles))} "
                             f"(an addon adds its own with register_roles)")


#: ``register_*`` hooks whose items name permissions the user needs, and those fields.
NAMED_PERMISSIONS = {"register_importers": ("permission",),
                     "register_file_owners": ("read_permission", "write_permission")}


def check_named_permissions(registry) -> None:
    """Refuse (``AddonError`` naming the addon, the item and the code) an ``Importer`` or a
    ``FileOwner`` whose permission no installed addon (nor the kernel) declares: a typo
    would otherwise hide the importer or the files from everyone but superusers, silently."""
    declared = {perm.name for _, perm in registry.collect_items("register_permissions")}
    for hook, attrs in NAMED_PERMISSIONS.items():
        for owner, item in registry.collect_items(hook):
            for attr in attrs:
                code = getattr(item, attr, None)
                if code and code not in declared:
                    what = getattr(item, "name", None) or getattr(getattr(item, "model", None), "__name__", "")
                    raise AddonError(f"addon {owner}: {hook} returned {type(item).__name__} {what} whose "
                                     f"{attr} {code!r} no installed addon declares (register_permissions)")


def sync_roles(session, registry) -> None:
    """Create a ``core_role`` row for every declared role (one left unnamed by an older
    version, whose name is its code, gets its label) and grant each declared permission to
    its default roles. Existing rows and grants, including ones an admin added or renamed,
    are kept. Raises ``AddonError`` as :func:`check_grants`. Flushes, never commits."""
    declared = declared_roles(registry)
    check_grants(registry, declared)
    rows = {r.code: r for r in session.execute(select(Role)).scalars()}
    for code, role in declared.items():
        row = rows.get(code)
        if row is None:
            session.add(Role(code=code, name=str(role.label)[:120]))
        elif row.name == code:
            row.name = str(role.label)[:120]
    session.flush()
    have = set(session.execute(select(RolePermission.role_code, RolePermission.permission)).all())
    for perm in registry.permissions().values():
        for role in perm.default_roles:
            if (role, perm.name) not in have:
                session.add(RolePermission(role_code=role, permission=perm.name))
                have.add((role, perm.name))
    session.flush()


def purge_roles(session, registry, addon: str) -> list[str]:
    """Delete what ``addon`` put into the role tables (``uninstall --purge``): the roles it
    declared (their users lose them) and every grant of the permissions it declared. Returns
    the role codes removed. Flushes, never commits."""
    codes = [code for code, role in declared_roles(registry).items() if role.addon == addon]
    perms = [p.name for owner, p in registry.collect_items("register_permissions") if owner == addon]
    if perms:
        session.execute(delete(RolePermission).where(RolePermission.permission.in_(perms)))
    if codes:
        session.execute(delete(RolePermission).where(RolePermission.role_code.in_(codes)))
        session.execute(delete(user_role).where(user_role.c.role_code.in_(codes)))
        session.execute(delete(Role).where(Role.code.in_(codes)))
    session.flush()
    return codes


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
