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

import importlib
import random
from importlib.resources import files

import pytest
from sqlalchemy import func, inspect, select


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
        hooks = importlib.import_module(f"{info.package}.hooks")
        perms = list(hooks.register_permissions()) if hasattr(hooks, "register_permissions") else []
        folder = str(files(info.package).joinpath("translations"))
        catalogs = {loc: Translations.load(folder, [loc], domain="messages") for loc in ("zh_Hans", "en")}
        for loc, cat in catalogs.items():
            if perms:
                assert isinstance(cat, Translations), f"{self.addon}: no compiled {loc} catalog in {folder}"
        for p in perms:
            assert p.name.startswith(self.addon + "."), f"permission {p.name} must start with {self.addon}."
            msgid = _msgid(p.label)
            zh = catalogs["zh_Hans"].ugettext(msgid)
            assert zh and zh != msgid, f"permission {p.name}: label {msgid!r} has no zh_Hans translation"
            assert catalogs["en"]._catalog.get(msgid), f"permission {p.name}: label {msgid!r} missing in en"

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

