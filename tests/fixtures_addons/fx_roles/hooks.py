"""Declares a role of its own and grants its permission to it (and to a kernel role)."""
from core import hookimpl
from core.contrib import Permission, RoleDef


@hookimpl
def register_roles():
    return [RoleDef("fxroles_clerk", "Fixture clerk", "Looks after fixture things.")]


@hookimpl
def register_permissions():
    return [Permission("fxroles.thing.read", "See fixture things", ("fxroles_clerk", "store_manager"))]
