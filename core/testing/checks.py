"""Generic checks every addon gets for free (after Tryton's ``ModuleTestCase``).

In ``<addon>/tests/test_addon.py``::

    from core.testing.checks import AddonChecks

    class TestLoyalty(AddonChecks):
        addon = "loyalty"

The subclass is marked ``@pytest.mark.addons(<addon>)`` automatically, so the kernel
plugin's ``rt``/``session``/``make`` fixtures give a database with the addon installed.
Schema and lifecycle checks use their own fresh databases (SQLite or, with ``--db-url``,
PostgreSQL) built through the real migrations.
"""
from __future__ import annotations

import random
from importlib.resources import files

import pytest
from sqlalchemy import func, inspect, select

from core.plugins import collect_items


def _msgid(label) -> str:
    args = getattr(label, "_args", None)
    if args:
        return args[0]
    return str(label)


class AddonChecks:
    """Base class: set ``addon`` to the addon's technical name."""

    addon: str = ""
    #: set True when the symmetry customer's balances must move on a sale (proves the
    #: check is not vacuous); override ``symmetry_customer`` to enrol them first
    symmetry_expects_change: bool = False

    def symmetry_customer(self, session, make):
        """The customer for the symmetry check; override to make one the addon reacts to
        (e.g. enrolled as a member)."""
        return make.customer()

    def symmetry_payments(self, session, customer):
        """Payments (``PaymentRequest`` list) for the symmetry sale; None means cash."""
        return None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.addon:
            marks = [m for m in getattr(cls, "pytestmark", []) if getattr(m, "name", "") != "addons"]
            cls.pytestmark = marks + [pytest.mark.addons(cls.addon)]

    # ---- helpers -----------------------------------------------------------------------

    def _available(self):
        from core.addons.discovery import discover

        return discover()

    def _info(self):
        available = self._available()
        assert self.addon in available, (
            f"addon {self.addon!r} is not discovered: declare it in setup.cfg under "
            f"[options.entry_points] banyan.addons and pip install the distribution")
        return available[self.addon]

    def _registry(self):
        from core.addons.graph import closure
        from core.plugins import build_registry

        available = self._available()
        return build_registry(closure([self.addon], available), available=available, only=[])

    def _fresh_runtime(self, dbs):
        from core.addons.installer import init_db
        from core.config import load_config
        from core.runtime import Runtime

        cfg = load_config(overrides={"database": {"url": dbs.new_url()},
                                     "instance": {"path": dbs.tmp.name},
                                     "jobs": {"immediate": True, "backend": "memory"},
                                     "locale": {"default": "en"}})
        rt = Runtime.from_config(cfg, load=False)
        rt.reload()
        init_db(rt)
        return rt

    def _owned_tables(self, registry) -> list[str]:
        return [t.name for t in registry.tables([self.addon])]

    # ---- static checks -----------------------------------------------------------------

    def test_manifest_valid_and_matches_entry_point(self):
        from core.addons.manifest import read_manifest

        info = self._info()
        manifest = read_manifest(info.package)
        assert manifest.name == self.addon == info.name
        assert manifest.version and manifest.title and manifest.summary
        assert info.package.split(".")[-1] in (self.addon, f"banyan_addon_{self.addon}"), (
            f"package {info.package} should be addons.{self.addon} or banyan_addon_{self.addon}")

    def test_dependencies_resolve(self):
        from core import __version__
        from core.addons.graph import check_versions, closure

        available = self._available()
        order = closure([self.addon], available)
        assert order[-1] == self.addon
        check_versions({n: available[n] for n in order}, __version__)

    def test_check_pending_and_tables_prefixed(self):
        registry = self._registry()  # build_registry runs pm.check_pending()
        assert registry.pm.get_plugin(self.addon) is not None
        for name in self._owned_tables(registry):
            assert name.startswith(self.addon + "_"), f"table {name} must be prefixed {self.addon}_"

    def test_merge_rules_cover_customer_keys(self):
        """Every owned table whose unique key contains a customer column has a MergeRule
        from this addon (``register_merge_rules``), so a customer merge never stops on a
        duplicate key; the loader refuses the addon otherwise (build_registry)."""
        from core.services.merge_rules import collect_rules, customer_unique_keys

        registry = self._registry()
        rules = collect_rules(registry)
        owned = self._owned_tables(registry)
        for key in customer_unique_keys(registry.tables([self.addon])):
            assert key.table.name in rules and rules[key.table.name][0] == self.addon, (
                f"{self.addon}: table {key.table.name} has unique key ({', '.join(key.key)}) on the "
                f"customer column {key.column} but no MergeRule from register_merge_rules")
        for table, (owner, _rule) in rules.items():
            if owner == self.addon:
                assert table in owned, f"{self.addon}: merge rule for {table}, which it does not own"

    def test_permissions_have_translated_labels(self):
        from babel.support import Translations

        info = self._info()
        perms = self._own_permissions()
        roles = self._own_roles()
        folder = str(files(info.package).joinpath("translations"))
        catalogs = {loc: Translations.load(folder, [loc], domain="messages") for loc in ("zh_Hans", "en")}
        for loc, cat in catalogs.items():
            if perms or roles:
                assert isinstance(cat, Translations), f"{self.addon}: no compiled {loc} catalog in {folder}"
        for p in perms:
            assert p.name.startswith(self.addon + "."), f"permission {p.name} must start with {self.addon}."
            msgid = _msgid(p.label)
            zh = catalogs["zh_Hans"].ugettext(msgid)
            assert zh and zh != msgid, f"permission {p.name}: label {msgid!r} has no zh_Hans translation"
        for r in roles:
            for what, text in (("label", r.label), ("description", r.description)):
                msgid = _msgid(text)
                zh = catalogs["zh_Hans"].ugettext(msgid)
                assert msgid and zh and zh != msgid, f"role {r.code}: {what} {msgid!r} has no zh_Hans translation"
            assert catalogs["en"]._catalog.get(msgid), f"permission {p.name}: label {msgid!r} missing in en"

    def test_services_declare_public_api(self):
        """``services`` declares ``__all__`` (its public API), every listed name exists and
        every listed function or class has a docstring (``core.testing.contract``)."""
        from core.testing.contract import services_problems

        problems = services_problems(self._info().package)
        assert not problems, f"{self.addon}:\n" + "\n".join(problems)

    def test_imports_other_addons_through_services_only(self):
        """No module of this addon (tests included) imports another addon's anything but
        ``services`` or ``hookspecs``, nor a name of its ``services`` missing from its
        ``__all__`` (a static scan: ``core.testing.contract.scan_addon``)."""
        from core.testing.contract import scan_addon

        found = scan_addon(self.addon, self._available())
        assert not found, f"{self.addon} breaks the addon import contract:\n" + "\n".join(map(str, found))

    # ---- schema and lifecycle (fresh databases, real migrations) -------------------------

    def test_migrations_match_models(self, banyan_databases):
        from core import migrations
        from core.addons.installer import install

        rt = self._fresh_runtime(banyan_databases)
        try:
            install(rt, [self.addon])
            assert self.addon in migrations.branch_labels(rt), (
                f"addon {self.addon} has no migrations branch: banyan db revision --addon {self.addon} -m init")
            assert migrations.diff(rt, self.addon) == []
        finally:
            rt.dispose()

    def test_install_uninstall_reinstall_purge(self, banyan_databases):
        from core import migrations
        from core.addons.installer import install, installed_versions, uninstall

        rt = self._fresh_runtime(banyan_databases)
        try:
            install(rt, [self.addon])
            owned = self._owned_tables(rt.registry)
            assert set(owned) <= set(inspect(rt.engine).get_table_names())
            uninstall(rt, self.addon)
            assert self.addon not in installed_versions(rt)
            assert rt.registry.pm.get_plugin(self.addon) is None
            assert set(owned) <= set(inspect(rt.engine).get_table_names()), "uninstall must keep tables"
            install(rt, [self.addon])
            assert self.addon in installed_versions(rt)
            uninstall(rt, self.addon, purge=True)
            left = [t for t in inspect(rt.engine).get_table_names() if t.startswith(self.addon + "_")]
            assert left == [], f"--purge left tables: {left}"
            script = migrations.script_directory(rt)
            for head in migrations.current_heads(rt):
                assert self.addon not in (script.get_revision(head).branch_labels or ())
            install(rt, [self.addon])  # the branch migrates again from its base
            assert set(owned) <= set(inspect(rt.engine).get_table_names())
            assert migrations.diff(rt, self.addon) == []
        finally:
            rt.dispose()

    # ---- behaviour -----------------------------------------------------------------------

    def test_load_demo_data(self, rt, session, make):
        from core.contrib import DemoContext

        info = self._info()
        if not info.manifest.demo:
            pytest.skip(f"{self.addon}: manifest does not declare demo data")
        demo = DemoContext(rng=random.Random(7), scale=0.05, months=1)
        demo.companies = [make.hq]
        demo.regions = [make.region(company=demo.companies[0])]
        demo.stores = [make.store(region=demo.regions[0]) for _ in range(2)]
        demo.customers = [make.customer() for _ in range(5)]
        demo.products = [make.product(price=f"{10 + i}.00") for i in range(5)]
        demo.employees = [make.employee(store=demo.stores[0])]
        demo.users = [make.user()]
        rt.hook.load_demo_data(session=session, demo=demo)
        session.flush()
        rows = sum(session.execute(select(func.count()).select_from(t)).scalar()
                   for t in rt.registry.tables([self.addon]))
        assert rows > 0, f"{self.addon}: load_demo_data added no rows"

    def test_refund_restores_derived_balances(self, rt, session, make):
        """Symmetry: a confirmed sale with a customer, refunded fully, leaves every
        ``derived_balances`` value of that customer where it started."""
        from core.services.refund import refund

        def balances(customer):
            out = {}
            for group in rt.hook.derived_balances(session=session, customer=customer):
                for b in group or ():
                    out[b.name] = b.value
            return out

        store = make.store()
        customer = self.symmetry_customer(session, make)
        products = [make.product(price="120.00"), make.product(price="35.50")]
        payments = self.symmetry_payments(session, customer)
        session.flush()
        before = balances(customer)
        sale = make.sale(store=store, products=products, customer=customer, qty="2", payments=payments)
        assert sale.state == "confirmed"
        session.flush()
        if self.symmetry_expects_change:
            assert balances(customer) != before, f"{self.addon}: the sale moved no balance"
        refund(session, sale.id)
        session.flush()
        session.expire_all()
        after = balances(customer)
        assert after == before, f"{self.addon}: balances not restored by a full refund: {before} -> {after}"


    # ---- optional dependencies, roles and access (issue 12) ------------------------------

    def test_optional_dependencies_present_and_absent(self, banyan_databases):
        """Each ``optional_depends`` addon (Tryton's *extras*): this addon loads, installs and
        matches its migrations both without it and with it installed (its ``optionalhook``
        bridges then bind); skipped when the manifest declares none."""
        from core import migrations
        from core.addons.graph import closure
        from core.addons.installer import install, installed_versions
        from core.plugins import build_registry

        info = self._info()
        optional = info.manifest.optional_depends
        if not optional:
            pytest.skip(f"{self.addon}: manifest declares no optional_depends")
        available = self._available()
        base = closure([self.addon], available)
        for extra in optional:
            assert extra in available, (
                f"{self.addon}: optional dependency {extra!r} is not discovered (declare only addons "
                "that exist; an optional dependency that is never present is never tested)")
            for with_extra in (False, True):
                names = closure([self.addon, extra], available) if with_extra else base
                registry = build_registry(names, available=available, only=[])  # runs check_pending
                assert registry.pm.get_plugin(self.addon) is not None
                assert (registry.pm.get_plugin(extra) is not None) == (with_extra or extra in base)
                rt = self._fresh_runtime(banyan_databases)
                try:
                    install(rt, [self.addon, extra] if with_extra else [self.addon])
                    assert self.addon in installed_versions(rt)
                    assert (extra in installed_versions(rt)) == (with_extra or extra in base)
                    assert migrations.diff(rt, self.addon) == [], (
                        f"{self.addon} {'with' if with_extra else 'without'} {extra}: models differ from migrations")
                finally:
                    rt.dispose()

    def _own_permissions(self):
        """The permissions this addon declares (``register_permissions``, through the registry)."""
        return [p for _owner, p in collect_items(self._registry().pm, "register_permissions", owner=self.addon)]

    def _own_roles(self):
        """The roles this addon declares (``register_roles``)."""
        return [r for r in self._registry().roles().values() if r.addon == self.addon]

    def test_every_permission_granted_to_a_known_role(self):
        """Each declared permission names at least one default role, and only declared roles
        (the kernel's and those of the addon and its dependencies, ``register_roles``): a
        permission no role holds is given to nobody on install. (An unknown role already
        fails the load; see ``core.security.permissions.check_grants``.)"""
        roles = self._registry().roles()
        for perm in self._own_permissions():
            assert perm.default_roles, f"{self.addon}: permission {perm.name} is granted to no role"
            unknown = [r for r in perm.default_roles if r not in roles]
            assert not unknown, (f"{self.addon}: permission {perm.name} names unknown roles {unknown}; "
                                 f"declared: {sorted(roles)}")

    def _role_with(self, session, code: str, permission: str | None):
        from core.models import Role, RolePermission

        role = Role(code=code, name=code)
        session.add(role)
        session.flush()
        if permission:
            session.add(RolePermission(role_code=code, permission=permission))
            session.flush()
        return role

    def test_views_and_endpoints_reachable_with_their_permission_only(self, rt, session, make):
        """Every back-office view and API endpoint of this addon answers a user whose only
        role holds its permission (anything but 401/403 and 5xx: a 404 or 422 for the
        placeholder ids and the empty body sent is fine), and refuses a signed-in user whose
        role lacks it: 403 from the API, 403 or a redirect to the login page from the back
        office. The views and endpoints come from this addon's hooks, so a new one is
        covered without writing a test."""
        import uuid

        from werkzeug.routing import IntegerConverter

        from core.admin import collect_views
        from core.admin.testing import login
        from core.api import AUTHENTICATED, collect_blueprints
        from core.api.testing import ApiClient, build_app
        from core.security.permissions import sync_roles

        sync_roles(session, rt.registry)
        app = build_app(rt)
        app.config.update(SECRET_KEY="addon-checks", WTF_CSRF_ENABLED=True)
        endpoints = {v.endpoint for owner, v in collect_views(None, rt) if owner == self.addon}
        admin = app.extensions["banyan_admin"]
        views = [v for v in admin._views if v.endpoint in endpoints]
        blueprints = [b.name for owner, b in collect_blueprints(None, rt.registry) if owner == self.addon]
        targets = []  # (kind, permission, method, url)
        for v in views:
            targets.append(("view", v.permission, "GET", v.url.rstrip("/") + "/", None))
        urls = app.url_map.bind("localhost")
        for rule in app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] not in blueprints:
                continue
            view = app.view_functions[rule.endpoint]
            values = {a: (999999 if isinstance(rule._converters[a], IntegerConverter) else "zz-none")
                      for a in rule.arguments}
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                func = getattr(view.view_class, method.lower()) if hasattr(view, "view_class") else view
                perm = getattr(func, "_banyan_permission", None)
                # an endpoint authenticated by credentials of its own (a webhook's token)
                # says how to make them for a user: ``_banyan_test_headers(session, user)``
                targets.append(("api", perm, method, urls.build(rule.endpoint, values, method=method),
                                getattr(func, "_banyan_test_headers", None)))
        if not targets:
            pytest.skip(f"{self.addon}: no back-office view and no API endpoint")
        session.commit()
        api = ApiClient(app, session)
        none_role = self._role_with(session, f"zz_{uuid.uuid4().hex[:8]}", None)
        nobody = make.user(roles=(none_role.code,))
        holders = {}
        failures = []
        for kind, perm, method, url, own_auth in targets:
            assert perm, f"{self.addon}: {kind} {method} {url} declares no permission"
            if perm not in holders:
                role = self._role_with(session, f"zz_{uuid.uuid4().hex[:8]}",
                                       None if perm == AUTHENTICATED else perm)
                holders[perm] = make.user(roles=(role.code,))
            checks = [(holders[perm], True)] + ([(nobody, False)] if perm != AUTHENTICATED else [])
            for user, allowed in checks:
                if kind == "api":
                    headers = {"Idempotency-Key": uuid.uuid4().hex}
                    if own_auth is not None:
                        headers.update(own_auth(session, user))
                        session.commit()
                    resp = api.request(method, url, user=None if own_auth else user,
                                       json={} if method != "GET" else None, headers=headers)
                    refused = resp.status_code == 403
                else:
                    session.commit()
                    client = login(app, user)
                    resp = client.get(url)
                    refused = resp.status_code == 403 or (
                        resp.status_code == 302 and "/login" in resp.headers.get("Location", ""))
                if allowed and (refused or resp.status_code in (401, 403) or resp.status_code >= 500):
                    failures.append(f"{kind} {method} {url}: {resp.status_code} for a role holding {perm}")
                if not allowed and not refused:
                    failures.append(f"{kind} {method} {url}: {resp.status_code} for a role without {perm}")
                session.rollback()
        assert not failures, f"{self.addon}:\n" + "\n".join(failures)
