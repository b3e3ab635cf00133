"""Roles are a registry: the kernel and addons declare them (``register_roles``); a permission
may only grant a declared role (``AddonError`` at startup, naming the addon); ``sync_roles``
seeds ``core_role`` from the registry; purge removes an addon's roles."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from core import hookimpl
from core.contrib import Permission, RoleDef
from core.errors import AddonError
from core.models import Role, RolePermission, user_role
from core.plugins import build_registry
from core.security.permissions import KERNEL_ROLES, declared_roles, sync_roles

sys.path.insert(0, str(Path(__file__).parent / "fixtures_addons"))

from fxtools import fabricate, fresh_runtime, info, use_addons  # noqa: E402


def _addon(tmp_path, monkeypatch, name: str, hooks: str):
    found = fabricate(name)
    pkg = tmp_path / found.package
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "hooks.py").write_text(textwrap.dedent(hooks))
    monkeypatch.syspath_prepend(str(tmp_path))
    return found


def test_the_kernel_declares_its_roles_through_the_hook(rt):
    roles = rt.registry.roles()
    assert list(roles)[:len(KERNEL_ROLES)] == [r.code for r in KERNEL_ROLES]
    assert {"hq_admin", "store_manager", "cashier", "agent", "technician"} <= set(roles)
    assert all(r.addon == "core" and str(r.label) and str(r.description) for r in roles.values())


def test_a_permission_naming_an_unknown_role_fails_at_startup_naming_the_addon(tmp_path, monkeypatch):
    bad = _addon(tmp_path, monkeypatch, "roletypo", """
        from core import hookimpl
        from core.contrib import Permission


        @hookimpl
        def register_permissions():
            return [Permission("roletypo.thing.read", "See things", ("store_manger",))]
        """)
    with pytest.raises(AddonError) as exc:
        build_registry(["roletypo"], available={"roletypo": bad}, only=[])
    msg = str(exc.value)
    assert msg.startswith("addon roletypo: permission roletypo.thing.read grants unknown role(s) 'store_manger'")
    assert "register_roles" in msg


def test_an_addon_role_makes_its_grant_valid(rt, session, register_plugin):
    class Adds:
        @hookimpl
        def register_roles(self):
            return [RoleDef("regtest_fitter", "Fitter", "Fits things.")]

        @hookimpl
        def register_permissions(self):
            return [Permission("regtest.thing.fit", "Fit things", ("regtest_fitter",))]

    name = register_plugin(Adds())
    assert rt.registry.roles()["regtest_fitter"].addon == name
    sync_roles(session, rt.registry)
    assert session.get(Role, "regtest_fitter").name == "Fitter"
    assert session.get(RolePermission, ("regtest_fitter", "regtest.thing.fit")) is not None


def test_sync_refuses_a_grant_to_an_undeclared_role_instead_of_creating_it(rt, session, register_plugin):
    class Typo:
        @hookimpl
        def register_permissions(self):
            return [Permission("regtest.thing.read", "See things", ("casheir",))]

    name = register_plugin(Typo())
    with pytest.raises(AddonError, match=f"addon {name}: permission regtest.thing.read grants unknown role"):
        sync_roles(session, rt.registry)
    assert session.get(Role, "casheir") is None


@pytest.mark.parametrize("roles, message", [
    ([RoleDef("cashier", "Another cashier")], "role 'cashier' is already declared by core"),
    ([RoleDef("Bad Code", "Bad")], "role code 'Bad Code' must be lowercase"),
    ([RoleDef("x" * 41, "Long")], "at most 40 characters"),
    (["cashier"], "not a core.contrib.RoleDef"),
])
def test_malformed_or_duplicate_roles_are_refused(rt, register_plugin, roles, message):
    class Declares:
        @hookimpl
        def register_roles(self):
            return roles

    name = register_plugin(Declares())
    with pytest.raises(AddonError, match=f"addon {name}: .*{message}"):
        declared_roles(rt.registry)


def test_existing_rows_are_kept_and_unnamed_ones_get_their_label(rt, session):
    # a database from before the registry: a role an admin renamed, and one a permission
    # created silently (named by its code)
    session.get(Role, "cashier").name = "Till staff"
    session.get(Role, "agent").name = "agent"
    session.flush()
    sync_roles(session, rt.registry)
    assert session.get(Role, "cashier").name == "Till staff"
    assert session.get(Role, "agent").name == "Call-center agent"


@pytest.fixture
def roles_rt(monkeypatch, banyan_databases):
    use_addons(monkeypatch, info("fx_roles"))
    rt = fresh_runtime(banyan_databases)
    yield rt
    rt.dispose()


def test_install_uninstall_purge_and_reinstall_of_an_addon_role(roles_rt):
    from core.addons.installer import install, uninstall
    from core.security.users import create_user

    rt = roles_rt
    install(rt, ["fxroles"])
    with rt.session() as s:
        assert s.get(Role, "fxroles_clerk").name == "Fixture clerk"
        grants = set(s.execute(select(RolePermission.role_code, RolePermission.permission)
                               .where(RolePermission.permission == "fxroles.thing.read")).all())
        assert grants == {("fxroles_clerk", "fxroles.thing.read"), ("store_manager", "fxroles.thing.read")}
        create_user(s, "clerk1", "secret-pass-1", roles=["fxroles_clerk"])
        s.commit()
    # uninstall keeps the role, its users and the grants: a reinstall finds them
    uninstall(rt, "fxroles")
    with rt.session() as s:
        assert s.get(Role, "fxroles_clerk") is not None
        assert s.execute(select(user_role.c.role_code)).scalars().all() == ["fxroles_clerk"]
    install(rt, ["fxroles"])
    # purge removes the role, who held it and every grant of the addon's permissions
    uninstall(rt, "fxroles", purge=True)
    with rt.session() as s:
        assert s.get(Role, "fxroles_clerk") is None
        assert s.execute(select(user_role.c.role_code)).scalars().all() == []
        assert s.execute(select(RolePermission).where(RolePermission.permission == "fxroles.thing.read")).all() == []
        assert s.get(Role, "store_manager") is not None  # the kernel's roles stay
    install(rt, ["fxroles"])
    with rt.session() as s:
        assert s.get(RolePermission, ("fxroles_clerk", "fxroles.thing.read")) is not None


def test_the_role_list_shows_each_roles_description(rt, session, make):
    from core.admin.testing import login
    from core.app import create_app

    sync_roles(session, rt.registry)
    app = create_app(runtime=rt)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=True, SECRET_KEY="test-secret")
    client = login(app, make.user(username="boss"))
    session.commit()
    html = client.get("/admin/role/").get_data(as_text=True)
    assert "Rings up sales and serves customers at the till." in html
