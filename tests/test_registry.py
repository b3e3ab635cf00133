"""The registry's one way to collect what plugins declare (``core.plugins.collect``), the load
errors that name the addon, and plain ``Table``s in ``register_models``."""
from __future__ import annotations

import sys
import textwrap

import pluggy
import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

from core import hookimpl, hookspec
from core.contrib import Importer, SummaryPanel
from core.models import Customer
from core.errors import AddonError
from core.plugins import (build_registry, collect, collect_items, implementations, new_plugin_manager, owner_of,
                          table_of)

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "fixtures_addons"))

from fxtools import fabricate  # noqa: E402

from core.admin.testing import admin_app  # noqa: E402,F401
from core.api.testing import api, api_app  # noqa: E402,F401


class _Specs:
    @hookspec
    def regtest_things(self, x):
        """Return an iterable of things."""

    @hookspec(firstresult=True)
    def regtest_first(self, x):
        """First non-None wins."""


def _pm(*plugins):
    pm = pluggy.PluginManager("banyan")
    pm.add_hookspecs(_Specs)
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    return pm


def _plugin(**hooks):
    ns = type("P", (), {})()
    for name, fn in hooks.items():
        setattr(ns, name, hookimpl(fn))
    return ns


# ---------------------------------------------------------------------------------------
# collect
# ---------------------------------------------------------------------------------------

def test_collect_pairs_each_result_with_its_addon_in_registration_order():
    pm = _pm(("core.defaults.kernel", _plugin(regtest_things=lambda x: [x, "k"])),
             ("alpha", _plugin(regtest_things=lambda x: None)),
             ("beta", _plugin(regtest_things=lambda x: ["b"])))
    assert collect(pm, "regtest_things", {"x": 1}) == [("core", [1, "k"]), ("beta", ["b"])]
    assert collect_items(pm, "regtest_things", {"x": 1}) == [("core", 1), ("core", "k"), ("beta", "b")]
    # one addon's own implementation only
    assert collect(pm, "regtest_things", {"x": 1}, owner="beta") == [("beta", ["b"])]
    assert collect(pm, "regtest_things", {"x": 1}, owner="alpha") == []
    assert [i.owner for i in implementations(pm, "regtest_things")] == ["core", "alpha", "beta"]


def test_collect_goes_through_pluggys_call_path_so_monitoring_sees_it():
    pm = _pm(("alpha", _plugin(regtest_things=lambda x: ["a"])), ("beta", _plugin(regtest_things=lambda x: ["b"])))
    seen = []
    pm.add_hookcall_monitoring(lambda name, impls, kwargs: seen.append((name, [i.plugin_name for i in impls])),
                               lambda outcome, name, impls, kwargs: None)
    collect(pm, "regtest_things", {"x": 0})
    assert seen == [("regtest_things", ["alpha"]), ("regtest_things", ["beta"])]


def test_banyan_trace_hooks_prints_collected_calls(monkeypatch, capsys):
    monkeypatch.setenv("BANYAN_TRACE_HOOKS", "1")
    pm = new_plugin_manager()
    pm.register(_plugin(register_jobs=lambda: ["job"]), name="tracetest")
    assert collect(pm, "register_jobs") == [("tracetest", ["job"])]
    err = capsys.readouterr().err
    assert "[hook] register_jobs() -> ['tracetest']" in err and "['job']" in err


def test_collect_handles_firstresult_and_wrappers():
    calls = []

    def wrap(x):
        calls.append("wrapped")
        return (yield)

    wrapper = type("W", (), {"regtest_things": hookimpl(wrapper=True)(wrap)})()
    pm = _pm(("alpha", _plugin(regtest_first=lambda x: None)), ("beta", _plugin(regtest_first=lambda x: x * 2)),
             ("wrapper_only", wrapper), ("gamma", _plugin(regtest_things=lambda x: ["g"])))
    assert collect(pm, "regtest_first", {"x": 4}) == [("beta", 8)]
    # a plugin that only wraps is no implementation; nor does it wrap other plugins' calls
    assert collect(pm, "regtest_things", {"x": 0}) == [("gamma", ["g"])]
    assert calls == []


def test_collect_callers_follow_plugins_registered_later():
    pm = _pm(("alpha", _plugin(regtest_things=lambda x: ["a"])))
    assert collect(pm, "regtest_things", {"x": 0}) == [("alpha", ["a"])]
    pm.register(_plugin(regtest_things=lambda x: ["b"]), name="beta")
    assert collect(pm, "regtest_things", {"x": 0}) == [("alpha", ["a"]), ("beta", ["b"])]
    pm.unregister(name="alpha")
    assert collect(pm, "regtest_things", {"x": 0}) == [("beta", ["b"])]


def test_collect_items_fills_in_the_owning_addon():
    pm = new_plugin_manager()
    pm.register(_plugin(customer_summary=lambda session, customer, user: [SummaryPanel("T", ())]), name="cardx")
    ((owner, panel),) = collect_items(pm, "customer_summary", {"session": None, "customer": None, "user": None})
    assert owner == "cardx" and panel.addon == "cardx"
    pm.register(_plugin(customer_summary=lambda session, customer, user: [SummaryPanel("T", (), addon="other")]),
                name="liar")
    with pytest.raises(AddonError, match="addon liar: returned a SummaryPanel that names addon 'other'"):
        collect_items(pm, "customer_summary", {"session": None, "customer": None, "user": None})
    imp = Importer("regtest", "Regtest", (), "core.customer.write", lambda ctx, v: v, load_row=lambda ctx, v: None)
    pm2 = new_plugin_manager()
    pm2.register(_plugin(register_importers=lambda: [imp]), name="core.regtest")
    ((owner, got),) = collect_items(pm2, "register_importers")
    assert owner == "core" and got.addon == "core" and got.name == "regtest"


def test_owner_of():
    assert owner_of("core.defaults.kernel") == "core"
    assert owner_of("membership") == "membership"


def test_customer_summary_endpoint_fills_in_the_addon(api, make, register_plugin):
    register_plugin(_plugin(customer_summary=lambda session, customer, user: [SummaryPanel("Regtest", (), priority=1)]),
                    name="regtestpanel")
    customer = make.customer()
    resp = api.get(f"/api/v1/customers/{customer.id}/summary", user=make.user())
    assert resp.status_code == 200, resp.json
    assert [(p["title"], p["addon"]) for p in resp.json][:2] == [("Regtest", "regtestpanel"),
                                                                  ("Recent purchases", "core")]


# ---------------------------------------------------------------------------------------
# admin views: the category a view passes is kept; an addon view's endpoint gets its prefix
# ---------------------------------------------------------------------------------------

def test_admin_view_keeps_its_category_and_gets_the_owner_prefix():
    from flask_admin import BaseView, expose

    from core.admin import fill_owner

    class View(BaseView):
        @expose("/")
        def index(self):
            return "x"

    manifest = fabricate("regtest", category="Sales/From manifest").manifest
    passed = View(name="Passed", category="Its own", endpoint="things")
    fill_owner("regtest", passed, manifest)
    assert passed.category == "Its own" and passed.endpoint == "regtest_things"
    bare = View(name="Bare", endpoint="regtest_bare")
    fill_owner("regtest", bare, manifest)
    assert str(bare.category) == "From manifest" and bare.endpoint == "regtest_bare"


@pytest.mark.addons("loyalty")
def test_addon_views_keep_the_category_they_pass(rt, session, monkeypatch):
    from dataclasses import replace

    from core.app import create_app

    # loyalty passes category=_l("Loyalty"); its manifest now says otherwise: the view wins
    infos = [replace(i, manifest=replace(i.manifest, category="Sales/Renamed")) if i.name == "loyalty" else i
             for i in rt.registry.addons]
    monkeypatch.setattr(rt.registry, "addons", infos)
    admin = create_app(runtime=rt).extensions["banyan_admin"]
    views = {v.endpoint: v for v in admin._views}
    assert str(views["loyalty_rules"].category) == "Loyalty"


# ---------------------------------------------------------------------------------------
# load errors name the addon
# ---------------------------------------------------------------------------------------

def _fixture_addon(tmp_path, monkeypatch, name: str, hooks: str):
    info = fabricate(name)
    pkg = tmp_path / info.package
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "hooks.py").write_text(textwrap.dedent(hooks))
    monkeypatch.syspath_prepend(str(tmp_path))
    return info


def test_unknown_hook_names_the_addon(tmp_path, monkeypatch):
    info = _fixture_addon(tmp_path, monkeypatch, "regtypo", """
        from core import hookimpl

        @hookimpl
        def on_sale_confirmd(session, sale):
            pass
        """)
    with pytest.raises(AddonError) as exc:
        build_registry(["regtypo"], available={"regtypo": info}, only=[])
    msg = str(exc.value)
    assert msg.startswith("addon regtypo: ") and "on_sale_confirmd" in msg and "?" not in msg.split(":")[0]


def test_hook_with_arguments_the_spec_lacks_names_the_addon(tmp_path, monkeypatch):
    info = _fixture_addon(tmp_path, monkeypatch, "regbadargs", """
        from core import hookimpl

        @hookimpl
        def customer_summary(session, customer, user, colour):
            return []
        """)
    with pytest.raises(AddonError) as exc:
        build_registry(["regbadargs"], available={"regbadargs": info}, only=[])
    assert str(exc.value).startswith("addon regbadargs: ") and "colour" in str(exc.value)


# ---------------------------------------------------------------------------------------
# register_models takes plain Tables
# ---------------------------------------------------------------------------------------

def test_kernel_association_tables_are_declared_like_its_models(rt):
    from core.models import KERNEL_TABLES

    names = {t.name for t in rt.registry.tables_by_addon["core"]}
    assert {"core_customer_tag", "core_user_role"} <= names
    assert set(KERNEL_TABLES) <= set(rt.registry.tables(["core"]))
    assert rt.registry.owner_of_table("core_user_role") == "core"
    # only mapped classes are models
    assert all(isinstance(m, type) for m in rt.registry.models_by_addon["core"])


def test_table_of():
    t = Table("regtest_x", MetaData(), Column("id", Integer, primary_key=True))
    assert table_of(t) is t
    with pytest.raises(TypeError):
        table_of(object())


_META = MetaData()
_GOOD_LINK = Table("fxtab_link", _META, Column("a", Integer, primary_key=True), Column("b", Integer, primary_key=True))
_CUSTOMER_LINK = Table("fxtab_customer_link", _META, Column("a", Integer, primary_key=True),
                       Column("customer_id", ForeignKey(Customer.__table__.c.id), primary_key=True))
_BAD_LINK = Table("elsewhere_link", _META, Column("a", Integer, primary_key=True))


def test_plain_tables_are_owned_and_checked_like_models(tmp_path, monkeypatch):
    info = _fixture_addon(tmp_path, monkeypatch, "fxtab", """
        from core import hookimpl
        import tests_regtables


        @hookimpl
        def register_models():
            return tests_regtables.TABLES
        """)
    mod = type(sys)("tests_regtables")
    monkeypatch.setitem(sys.modules, "tests_regtables", mod)
    available = {"fxtab": info}
    mod.TABLES = [_GOOD_LINK]
    reg = build_registry(["fxtab"], available=available, only=[])
    assert reg.tables(["fxtab"]) == [_GOOD_LINK]
    assert reg.owner_of_table("fxtab_link") == "fxtab" and "fxtab" not in reg.models_by_addon
    # the prefix check ...
    mod.TABLES = [_BAD_LINK]
    with pytest.raises(AddonError, match="addon fxtab: table elsewhere_link must be prefixed 'fxtab_'"):
        build_registry(["fxtab"], available=available, only=[])
    # ... the merge-rule check (a unique key on a customer column) ...
    mod.TABLES = [_CUSTOMER_LINK]
    with pytest.raises(AddonError, match="addon fxtab: table fxtab_customer_link has unique key"):
        build_registry(["fxtab"], available=available, only=[])
    # ... and anything else is refused, naming the addon
    mod.TABLES = [object()]
    with pytest.raises(AddonError, match="addon fxtab: register_models returned"):
        build_registry(["fxtab"], available=available, only=[])


@pytest.fixture
def tables_rt(monkeypatch, banyan_databases):
    from fxtools import fresh_runtime, info, use_addons

    use_addons(monkeypatch, info("fx_tables"))
    rt = fresh_runtime(banyan_databases)
    yield rt
    rt.dispose()


def test_plain_tables_are_created_and_purged_with_their_addon(tables_rt):
    from sqlalchemy import inspect

    from core.addons.installer import install, uninstall

    install(tables_rt, ["fxtables"])
    assert {"fxtables_thing", "fxtables_thing_tag"} <= set(inspect(tables_rt.engine).get_table_names())
    uninstall(tables_rt, "fxtables")
    assert "fxtables_thing_tag" in set(inspect(tables_rt.engine).get_table_names())  # kept unless purged
    install(tables_rt, ["fxtables"])
    uninstall(tables_rt, "fxtables", purge=True)
    left = set(inspect(tables_rt.engine).get_table_names())
    assert "fxtables_thing" not in left and "fxtables_thing_tag" not in left
    assert "core_customer_tag" in left
