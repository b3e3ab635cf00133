"""One test per kernel hookspec: each registers a throwaway plugin and checks that the kernel
calls the hook where the contract (docs/hooks.md) says, and applies what it returns.

``tests/test_docs.py::test_hooks_tested`` fails when a spec has no ``test_hook_<name>`` here.
"""
from __future__ import annotations

import sys
import types
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.contrib import (Adjustment, Balance, Breach, DashboardWidget, Job, PaymentMethod, Permission,
                          RecordRule, SensitiveAction, SummaryPanel, sort_by_priority)
from core.db import RUNTIME
from core.errors import AddonError, BusinessError
from core.hookspecs import hookimpl
from core.models import Customer, Product, Sale, SalePayment
from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest, checkout, preview
from core.services.refund import refund


def _flat(results):
    return [x for group in results if group for x in group]


def _ring(session, store, products, **kw):
    req = CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal(1)) for p in products], **kw)
    return checkout(session, req)


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


# ---------------------------------------------------------------------------------------
# startup declarations
# ---------------------------------------------------------------------------------------

class _OtherBase(DeclarativeBase):
    """Throwaway models live outside core.db.Base so they never reach a real database."""


class _GoodModel(_OtherBase):
    __tablename__ = "core_hooktest_thing"
    id: Mapped[int] = mapped_column(primary_key=True)


class _BadModel(_OtherBase):
    __tablename__ = "elsewhere_thing"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(10))


_KERNEL_PLUGINS = None


def _fake_kernel_plugin(monkeypatch, model):
    """Add a module named like a kernel plugin whose register_models returns ``model``."""
    import core.plugins

    global _KERNEL_PLUGINS
    if _KERNEL_PLUGINS is None:
        _KERNEL_PLUGINS = core.plugins.KERNEL_PLUGINS
    mod = types.ModuleType(f"core._hooktest_{model.__name__.lower()}")

    @hookimpl
    def register_models():
        return [model]

    mod.register_models = register_models
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setattr(core.plugins, "KERNEL_PLUGINS", _KERNEL_PLUGINS + (mod.__name__,))


def test_hook_register_models(rt, monkeypatch):
    from core.models import KERNEL_MODELS
    from core.plugins import build_registry

    # the kernel's own declaration decides ownership of the core_* tables
    assert set(KERNEL_MODELS) <= set(rt.registry.models_by_addon["core"])
    assert "core_customer" in {t.name for t in rt.registry.tables()}
    # a declared model is recorded under its owner ...
    _fake_kernel_plugin(monkeypatch, _GoodModel)
    reg = build_registry([], available={})
    assert _GoodModel in reg.models_by_addon["core"]
    assert reg.owner_of_table("core_hooktest_thing") == "core"
    # ... and one whose table lacks the owner's prefix is refused at load
    _fake_kernel_plugin(monkeypatch, _BadModel)
    with pytest.raises(AddonError, match="elsewhere_thing"):
        build_registry([], available={})


class _Wallet(_OtherBase):
    """Keyed by (customer, currency): two wallets in one currency must add up on a merge."""

    __tablename__ = "core_hooktest_wallet"
    __table_args__ = (UniqueConstraint("customer_id", "currency"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey(Customer.__table__.c.id))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class _Profile(_OtherBase):
    """A 1:1 extension (PK = FK) whose newest row wins on a merge."""

    __tablename__ = "core_hooktest_profile"
    customer_id: Mapped[int] = mapped_column(ForeignKey(Customer.__table__.c.id), primary_key=True)
    nickname: Mapped[str] = mapped_column(String(20), unique=True)
    updated: Mapped[int] = mapped_column()


def test_hook_register_merge_rules(rt, session, make, monkeypatch):
    from core.contrib import MergeRule
    from core.plugins import build_registry
    from core.services.customers import merge_customers

    # a table keyed by customer without a rule from its owner refuses to load, naming it
    _fake_kernel_plugin(monkeypatch, _Wallet)
    with pytest.raises(AddonError, match="core_hooktest_wallet.*register_merge_rules"):
        build_registry([], available={})
    rules = [MergeRule("core_hooktest_wallet", "sum", columns=("amount",)),
             MergeRule("core_hooktest_profile", "keep_newest", newest_by="updated")]
    mod = sys.modules[f"core._hooktest_{_Wallet.__name__.lower()}"]
    mod.register_models = hookimpl(lambda: [_Wallet, _Profile])
    mod.register_merge_rules = hookimpl(lambda: rules)
    reg = build_registry([], available={})
    assert reg.merge_rules["core_hooktest_wallet"] is rules[0]
    assert reg.merge_rules["core_hooktest_profile"] is rules[1]
    with pytest.raises(ValueError, match="sum"):
        MergeRule("x", "sum")
    with pytest.raises(ValueError, match="keep_kept"):
        MergeRule("x", "drop_everything")
    # the kernel applies the owner's rule in merge_customers
    for model in (_Wallet, _Profile):
        model.__table__.create(session.connection())
    monkeypatch.setitem(rt.registry.tables_by_addon, "core",
                        rt.registry.tables_by_addon["core"] + [_Wallet.__table__, _Profile.__table__])
    monkeypatch.setattr(rt.registry, "merge_rules", {**rt.registry.merge_rules, **reg.merge_rules})
    kept, removed = make.customer(), make.customer()
    w, p = _Wallet.__table__, _Profile.__table__
    session.execute(w.insert(), [dict(customer_id=kept.id, currency="CNY", amount=Decimal("10.50")),
                                 dict(customer_id=removed.id, currency="CNY", amount=Decimal("4.25")),
                                 dict(customer_id=removed.id, currency="HKD", amount=Decimal("7.00"))])
    session.execute(p.insert(), [dict(customer_id=kept.id, nickname="old", updated=1),
                                 dict(customer_id=removed.id, nickname="new", updated=2)])
    merge_customers(session, kept.id, removed.id)
    wallets = session.execute(select(w.c.customer_id, w.c.currency, w.c.amount).order_by(w.c.currency)).all()
    assert wallets == [(kept.id, "CNY", Decimal("14.75")), (kept.id, "HKD", Decimal("7.00"))]
    assert session.execute(select(p.c.customer_id, p.c.nickname, p.c.updated)).all() == [(kept.id, "new", 2)]


def test_hook_register_permissions(rt, session, register_plugin):
    from core.models import RolePermission
    from core.security.permissions import sync_roles

    class P:
        @hookimpl
        def register_permissions(self):
            return [Permission("hooktest.thing.read", "See things", ("cashier",))]

    register_plugin(P())
    perms = rt.registry.permissions()
    assert "core.sale.refund" in perms  # the kernel's own
    assert perms["hooktest.thing.read"].default_roles == ("cashier",)
    sync_roles(session, rt.registry)
    grants = set(session.execute(select(RolePermission.role_code, RolePermission.permission)).all())
    assert ("cashier", "hooktest.thing.read") in grants
    assert ("hq_admin", "hooktest.thing.read") not in grants


def test_hook_register_roles(rt, session, register_plugin):
    from core.contrib import RoleDef
    from core.models import Role, RolePermission
    from core.security.permissions import sync_roles

    # the kernel declares its own roles through the hook
    assert {r.code for r in rt.registry.roles().values() if r.addon == "core"} >= {"hq_admin", "cashier"}

    class R:
        @hookimpl
        def register_roles(self):
            return [RoleDef("hooktest_fitter", "Fitter", "Fits things.")]

        @hookimpl
        def register_permissions(self):
            return [Permission("hooktest.thing.fit", "Fit things", ("hooktest_fitter",))]

    name = register_plugin(R())
    role = rt.registry.roles()["hooktest_fitter"]
    assert role.addon == name and role.description == "Fits things."
    sync_roles(session, rt.registry)
    assert session.get(Role, "hooktest_fitter").name == "Fitter"
    assert session.get(RolePermission, ("hooktest_fitter", "hooktest.thing.fit")) is not None


def test_hook_register_price_list_kinds(rt, session, make, register_plugin):
    from core.api.testing import ApiClient, build_app
    from core.contrib import PriceListKind
    from core.services.pricing import price_list_kinds
    from core.security.permissions import sync_roles

    assert set(price_list_kinds(rt.registry)) == {"retail", "wholesale"}  # the kernel's own

    class K:
        @hookimpl
        def register_price_list_kinds(self):
            return [PriceListKind("hooktest", "Hook test prices")]

    name = register_plugin(K())
    assert price_list_kinds(rt.registry)["hooktest"].addon == name
    # the API takes the declared kind and still refuses others, on the field
    sync_roles(session, rt.registry)
    api = ApiClient(build_app(rt), session)
    user = make.user()
    ok = api.post("/api/v1/price-lists", user=user, json={"code": "HT1", "name": "x", "kind": "hooktest"})
    assert ok.status_code == 201, ok.json
    bad = api.post("/api/v1/price-lists", user=user, json={"code": "HT2", "name": "x", "kind": "nothook"})
    assert bad.status_code == 422 and "kind" in bad.json["errors"]["json"]


def test_hook_register_record_rules(rt, session, make, register_plugin):
    store_a, store_b = make.store(), make.store()
    cheap = make.product(price="1.00", name="cheap thing")
    dear = make.product(price="1.00", name="dear thing")
    user = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=store_a.id)
    boss = make.user(roles=("hq_admin",), scope_kind="all")
    make.customer(home_store_id=store_a.id)
    make.customer(home_store_id=store_b.id)
    session.commit()
    seen = []

    class OnlyCheap:
        @hookimpl
        def register_record_rules(self):
            def where(scope):
                seen.append(scope)
                return Product.name != "dear thing"

            return [RecordRule(Product, "hooktest.no_dear", where)]

    register_plugin(OnlyCheap())
    scoped = rt.session(user, scoped=True)
    try:
        names = set(scoped.execute(select(Product.name)).scalars())
        assert "cheap thing" in names and "dear thing" not in names
        assert seen and seen[0].store_ids == frozenset({store_a.id})
        # the kernel's automatic store scope applies next to the addon rule
        homes = set(scoped.execute(select(Customer.home_store_id)).scalars())
        assert homes == {store_a.id}
        assert scoped.get(Product, cheap.id) is not None
    finally:
        scoped.close()
    # a user who sees every store gets no criteria at all: the rule is not even asked
    seen.clear()
    wide = rt.session(boss, scoped=True)
    try:
        assert dear.id in set(wide.execute(select(Product.id)).scalars())
        assert seen == []
    finally:
        wide.close()


def _module_exists(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _app(rt):
    from core.app import create_app

    return create_app(runtime=rt)


def test_hook_register_admin_views(rt, session, register_plugin):
    from flask_admin import BaseView, expose

    calls = []

    class HookTestView(BaseView):
        permission = "core.sale.read"

        @expose("/")
        def index(self):
            return "hook test view"

    class V:
        @hookimpl
        def register_admin_views(self, app):
            calls.append(app)
            return [HookTestView(name="Hook test", endpoint="hooktest")]

    # named like a kernel plugin: the back office files addon views under their manifest's
    # category, and a throwaway plugin has no manifest
    register_plugin(V(), name="core.hooktest_views")
    app = _app(rt)
    assert calls == [app]
    admin = app.extensions["banyan_admin"]
    assert any(isinstance(v, HookTestView) for v in admin._views)
    assert "hooktest.index" in app.view_functions

    class Undeclared(BaseView):
        permission = "hooktest.nobody.declared.this"

        @expose("/")
        def index(self):
            return "never"

    class Bad:
        @hookimpl
        def register_admin_views(self, app):
            return [Undeclared(name="Bad", endpoint="hooktest_bad")]

    register_plugin(Bad(), name="core.hooktest_bad")
    with pytest.raises(AddonError, match="undeclared permission"):
        _app(rt)


def test_hook_register_blueprints(rt, session, register_plugin):
    from core.api import Blueprint, requires

    calls = []
    bp = Blueprint("hooktest", __name__, description="hook test")

    @bp.route("/ping")
    @requires("core.sale.read")
    def ping():
        return {"pong": True}

    class B:
        @hookimpl
        def register_blueprints(self, app):
            calls.append(app)
            return [bp]

    register_plugin(B())
    app = _app(rt)
    assert calls == [app]
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert any(r.startswith("/api/v1/") and r.endswith("/ping") for r in rules), sorted(rules)


def test_hook_register_cli_commands(rt, session, register_plugin, monkeypatch):
    import click
    from click.testing import CliRunner

    from core.cli import main

    session.commit()
    calls = []

    class C:
        @hookimpl
        def register_cli_commands(self, cli):
            calls.append(cli)

            @cli.command("hooktest-hello")
            @click.argument("who")
            def hello(who):
                click.echo(f"hello {who} from a hook")

    register_plugin(C())
    # `banyan` builds the configured database's runtime and asks its addons for commands
    monkeypatch.setenv("BANYAN_DATABASE_URL", rt.engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(main, ["hooktest-hello", "Li"], obj={"runtime": rt})
    assert result.exit_code == 0, result.output
    assert "hello Li from a hook" in result.output
    assert len(calls) == 1 and isinstance(calls[0], click.Group)
    assert "hooktest-hello" not in main.commands  # added to the run's own group, not globally


def test_hook_register_jobs(rt, session, make, register_plugin):
    from core.jobs import declared_jobs, execute_job
    from core.models import JobRun

    store = make.store()
    session.commit()

    def rename(s):
        s.get(type(store), store.id).name = "renamed by job"

    class J:
        @hookimpl
        def register_jobs(self):
            return [Job("hooktest.rename", rename, schedule="0 3 * * *")]

    register_plugin(J())
    jobs = declared_jobs(rt)
    assert jobs["hooktest.rename"].schedule == "0 3 * * *"
    execute_job(rt, jobs["hooktest.rename"])
    session.expire_all()
    assert session.get(type(store), store.id).name == "renamed by job"
    assert session.execute(select(JobRun.state).where(JobRun.job == "hooktest.rename")).scalar() == "success"

    class Twice:
        @hookimpl
        def register_jobs(self):
            return [Job("hooktest.rename", rename)]

    register_plugin(Twice())
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="declared twice"):
        declared_jobs(rt)


def test_hook_register_file_owners(rt, session, make, register_plugin, tmp_path, monkeypatch):
    """A declared owner's records take attachments, under the owner's permissions; an owner
    declared twice, or for a table no addon registered, refuses to resolve."""
    from core import files
    from core.contrib import FileOwner
    from core.files.storage import LocalFolderStorage
    from core.models import Warehouse

    monkeypatch.setitem(rt.extra, "file_storage", LocalFolderStorage(tmp_path))
    store = make.store()
    wh = Warehouse(code="W1", name="Main", store_id=store.id, company_id=store.operating_company_id)
    session.add(wh)
    session.flush()
    with pytest.raises(BusinessError):
        files.attach(session, "core_warehouse", wh.id, "plan.pdf", b"%PDF-1.4\n", None)

    class Owners:
        @hookimpl
        def register_file_owners(self):
            return [FileOwner(Warehouse, "core.org.read", "core.org.write")]

    register_plugin(Owners())
    assert files.owners(rt.registry)["core_warehouse"][0] == "core"
    row = files.attach(session, "core_warehouse", wh.id, "plan.pdf", b"%PDF-1.4\n", None)
    assert (row.owner_addon, row.store_id) == ("core", wh.store_id)
    cashier = make.user(roles=("cashier",))
    assert files.list_for(session, Warehouse, wh.id, cashier)[0].id == row.id
    with pytest.raises(BusinessError):
        files.attach(session, "core_warehouse", wh.id, "plan.pdf", b"%PDF-1.4\n", cashier)

    register_plugin(Owners())
    with pytest.raises(AddonError, match="declared twice"):
        files.owners(rt.registry)


def test_hook_register_importers(rt, session, make, register_plugin):
    """An addon's importer is listed with its owner, runs on the kernel's machinery (file,
    conversion, parse, batch write, report), and a second one with its name is refused."""
    from core.contrib import Importer, ImportColumn
    from core.db import transaction
    from core.errors import AddonError
    from core.imports import create, execute, importers
    from core.models import ImportRun, Store

    written = []

    def load_batch(ctx, rows):
        written.extend(v["code"] for _n, v in rows)
        return {n: {"code": "taken"} for n, v in rows if v["code"] == "TAKEN"}

    imp = Importer("hooktest.codes", "Codes", (ImportColumn("code", "Code", required=True, type="code"),),
                   "core.product.write", parse=lambda ctx, v: v, load_batch=load_batch, unique=("code",))

    class P:
        @hookimpl
        def register_importers(self):
            return [imp]

    name = register_plugin(P())
    assert importers(rt.registry)["hooktest.codes"].addon == name
    assert list(importers(rt.registry))[:4] == ["customers", "products", "price_list_items", "employees"]
    with transaction(session):
        rec = create(session, "hooktest.codes", "c.csv", b"code\na 1\ntaken\nA1\n", None, "valid_only")
    execute(rt, rec.id)
    session.expire_all()
    rec = session.get(ImportRun, rec.id)
    assert written == ["A1", "TAKEN"] and rec.written_rows == 1
    assert rec.errors == [{"row": 3, "column": "code", "message": "taken"},
                          {"row": 4, "column": "code", "message": "Repeats row 2."}]
    register_plugin(P())
    with pytest.raises(AddonError, match="hooktest.codes"):
        importers(rt.registry)


def test_hook_register_sensitive_actions(session, make, register_plugin, monkeypatch):
    from core import approvals

    class S:
        @hookimpl
        def register_sensitive_actions(self):
            return [SensitiveAction("hooktest.big_adjust", "Big adjustment", approvals=3,
                                    threshold=Decimal("1000"))]

    register_plugin(S())
    ran = []
    monkeypatch.setitem(approvals._executors, "hooktest.big_adjust",
                        lambda session, req, user: ran.append((req.payload, user.id)) or "done")
    declared = approvals.sensitive_actions(session)
    assert declared["core.sale.refund"].approvals == 2  # the kernel's own: large refunds
    assert approvals.needs_approval(session, "hooktest.big_adjust", Decimal("999")) is False
    assert approvals.needs_approval(session, "hooktest.big_adjust", Decimal("1500")) is True
    clerk = make.user(roles=("cashier",))
    bosses = [make.user(roles=("hq_admin",)) for _ in range(3)]
    from core.security.permissions import sync_roles

    sync_roles(session, RUNTIME.require(session).registry)
    req = approvals.request_approval(session, "hooktest.big_adjust", {"card": "C1"}, Decimal("1500"), clerk)
    assert req.required == 3  # from the declared action
    approvals.approve(session, req.id, bosses[0])
    approvals.approve(session, req.id, bosses[1])
    assert ran == [] and req.state == "pending"
    approvals.approve(session, req.id, bosses[2])
    assert ran == [({"card": "C1"}, bosses[2].id)] and req.state == "approved"
    with pytest.raises(BusinessError):
        approvals.request_approval(session, "hooktest.undeclared", {}, None, clerk)


def test_hook_startup(rt, session, register_plugin):
    seen = []

    class Early:
        @hookimpl
        def startup(self, app):
            seen.append(("early", app))
            app.jinja_env.filters["hooktest_shout"] = lambda v: str(v).upper()

    register_plugin(Early())
    app = _app(rt)  # the app factory calls the hook once the app is built
    assert seen[-1] == ("early", app)
    assert [a for who, a in seen if a is app] == [app]
    assert app.jinja_env.from_string("{{ 'ok' | hooktest_shout }}").render() == "OK"

    class Late:
        @hookimpl
        def startup(self, app):
            seen.append(("late", app))

    # historic: a plugin registered afterwards is still initialised with the app
    register_plugin(Late())
    assert ("late", app) in seen


# ---------------------------------------------------------------------------------------
# checkout and pricing
# ---------------------------------------------------------------------------------------

def test_hook_resolve_price(session, make, register_plugin):
    store, customer = make.store(), make.customer()
    p = make.product(price="10.00")
    # the kernel default: the retail price list
    assert _ring(session, store, [p]).total == Decimal("10.00")
    seen = []

    class MemberPrice:
        @hookimpl
        def resolve_price(self, session, product, store, customer, at):
            seen.append((product.id, store.id, customer and customer.id))
            return Decimal("7.50") if customer is not None else None

    register_plugin(MemberPrice())
    # first non-None wins over the kernel's trylast default
    sale = _ring(session, store, [p], customer_id=customer.id)
    assert sale.lines[0].unit_price == Decimal("7.50") and sale.total == Decimal("7.50")
    # None falls through to the price list
    assert _ring(session, store, [p]).total == Decimal("10.00")
    assert (p.id, store.id, customer.id) in seen and (p.id, store.id, None) in seen
    # no price from anyone: the line is refused with a field error
    bare = make.product(price=None)
    with pytest.raises(BusinessError) as exc:
        _ring(session, store, [bare])
    assert "lines.0.product_id" in exc.value.errors


def test_hook_claim_codes(session, make, register_plugin):
    from core.contrib import CodeClaim

    store, p = make.store(), make.product(price="10.00")
    seen = []

    class Vouchers:
        @hookimpl
        def claim_codes(self, session, ticket, codes, adjustments):
            seen.append((list(codes), [a.rule_code for a in adjustments]))
            return [CodeClaim(c, None if c == "V1" else "expired", "hooktest") for c in codes if c.startswith("V")]

    register_plugin(Vouchers())
    req = CheckoutRequest(store.id, [LineRequest(p.id, Decimal(1))], codes=[" v1", "Ｖ1"])
    assert preview(session, req).total == Decimal("10.00")
    assert seen == [(["V1"], [])]  # canonical, once each
    with pytest.raises(BusinessError) as exc:
        preview(session, CheckoutRequest(store.id, [LineRequest(p.id, Decimal(1))], codes=["v2", "x"]))
    assert exc.value.errors == {"codes": ["Code V2: expired", "Code X: unknown code."]}


def test_hook_price_ticket(session, make, register_plugin):
    store = make.store()
    p1, p2 = make.product(price="10.00"), make.product(price="30.00")

    class Promo:
        @hookimpl
        def price_ticket(self, session, ticket):
            first = ticket.lines[0]
            return [Adjustment(Decimal("-4.00"), "hooktest.ticket", "Ticket off", priority=20),
                    Adjustment(Decimal("-2.00"), "hooktest.line", "Line off", line=first, priority=10)]

    register_plugin(Promo())
    assert preview(session, CheckoutRequest(store.id, [LineRequest(p1.id, Decimal(1)),
                                                       LineRequest(p2.id, Decimal(1))])).total == Decimal("34.00")
    sale = _ring(session, store, [p1, p2])
    assert sale.subtotal == Decimal("40.00")
    assert sale.total == Decimal("34.00")
    assert sale.discount_total == Decimal("-6.00")
    assert [a.rule_code for a in sale.adjustments] == ["hooktest.line", "hooktest.ticket"]
    # line 1 took -2 then its pro-rata share of -4 over 8 + 30
    assert sale.lines[0].total + sale.lines[1].total == Decimal("34.00")
    assert sale.lines[0].total == Decimal("8.00") - (Decimal("4.00") * 8 / 38).quantize(Decimal("0.01"))
    assert sum(p.amount for p in sale.payments) == Decimal("34.00")


def test_hook_payment_methods(session, make, register_plugin):
    store, p = make.store(), make.product(price="25.00")
    captured, given_back = [], []

    def capture(session, sale, amount, reference):
        captured.append((sale.id, amount, reference))
        return f"VOUCHER-{reference}"

    def give_back(session, refund_doc, payment, amount):
        given_back.append((refund_doc.origin_id, payment.method, amount))

    class Voucher:
        @hookimpl
        def payment_methods(self, session, ticket, user):
            return [PaymentMethod("hooktest.voucher", "Voucher", capture=capture, refund=give_back)]

    register_plugin(Voucher())
    sale = _ring(session, store, [p], payments=[PaymentRequest("hooktest.voucher", Decimal("5.00"), "V1"),
                                                PaymentRequest("cash")])
    assert captured == [(sale.id, Decimal("5.00"), "V1")]
    by_method = {pay.method: pay for pay in sale.payments}
    assert by_method["hooktest.voucher"].reference == "VOUCHER-V1"
    assert by_method["cash"].amount == Decimal("20.00")  # the kernel's cash takes the rest
    refund(session, sale.id)
    assert given_back == [(sale.id, "hooktest.voucher", Decimal("5.00"))]
    with pytest.raises(BusinessError) as exc:
        _ring(session, store, [p], payments=[PaymentRequest("no-such-method")])
    assert "payments.0.method" in exc.value.errors


def test_hook_validate_sale(session, make, register_plugin):
    store, p = make.store(), make.product(price="5.00")
    blocked = make.customer()
    session.commit()

    class Blacklist:
        @hookimpl
        def validate_sale(self, session, sale):
            assert sale.number and sale.payments  # after pricing, numbering and payments
            if sale.customer_id == blocked.id:
                raise BusinessError({"customer_id": "This customer may not buy."})

    register_plugin(Blacklist())
    sales, payments = _count(session, Sale), _count(session, SalePayment)
    with pytest.raises(BusinessError) as exc:
        _ring(session, store, [p], customer_id=blocked.id)
    assert "customer_id" in exc.value.errors
    session.rollback()
    # the refusal rolls the whole sale back: no sale, no payment left behind
    assert (_count(session, Sale), _count(session, SalePayment)) == (sales, payments)
    assert _ring(session, store, [p]).state == "confirmed"


# ---------------------------------------------------------------------------------------
# business events
# ---------------------------------------------------------------------------------------

class _Recorder:
    def __init__(self):
        self.confirmed, self.refunded = [], []

    @hookimpl
    def on_sale_confirmed(self, session, sale):
        self.confirmed.append((sale.id, sale.state, sale.number, sale.total))

    @hookimpl
    def on_sale_refunded(self, session, refund, sale):
        self.refunded.append((refund.id, refund.kind, refund.total, sale.id, sale.state))


def test_hook_on_sale_confirmed(session, make, register_plugin):
    store, p = make.store(), make.product(price="9.00")
    rec = _Recorder()
    register_plugin(rec)
    sale = _ring(session, store, [p])
    assert rec.confirmed == [(sale.id, "confirmed", sale.number, Decimal("9.00"))]
    assert rec.refunded == []
    # an idempotent replay does not confirm (or call the hook) twice
    req = CheckoutRequest(store.id, [LineRequest(p.id, Decimal(1))], idempotency_key="hooktest-1")
    checkout(session, req)
    checkout(session, req)
    assert len(rec.confirmed) == 2


def test_hook_on_sale_refunded(session, make, register_plugin):
    from core.services.refund import RefundLineRequest

    store = make.store()
    p1, p2 = make.product(price="10.00"), make.product(price="6.00")
    rec = _Recorder()
    register_plugin(rec)
    sale = _ring(session, store, [p1, p2])
    part = refund(session, sale.id, [RefundLineRequest(sale.lines[1].id, Decimal(1))])
    assert rec.refunded == [(part.id, "refund", Decimal("-6.00"), sale.id, "partially_refunded")]
    rest = refund(session, sale.id)
    assert rec.refunded[1] == (rest.id, "refund", Decimal("-10.00"), sale.id, "refunded")
    assert len(rec.confirmed) == 1  # a refund is not a confirmation

    class Refuse:
        @hookimpl
        def on_sale_refunded(self, session, refund, sale):
            raise BusinessError("cannot reverse")

    other = _ring(session, store, [p1])
    session.commit()
    register_plugin(Refuse())
    refunds = session.scalar(select(func.count()).select_from(Sale).where(Sale.kind == "refund"))
    with pytest.raises(BusinessError):
        refund(session, other.id)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Sale).where(Sale.kind == "refund")) == refunds
    assert session.get(Sale, other.id).state == "confirmed"


def test_hook_on_customer_merged(session, make, register_plugin):
    from core.services.customers import merge_customers

    store, p = make.store(), make.product(price="3.00")
    kept, removed = make.customer(name="Li Lei"), make.customer(name="Li Lei (dup)")
    sale = _ring(session, store, [p], customer_id=removed.id)
    seen = []

    class M:
        @hookimpl
        def on_customer_merged(self, session, kept, removed):
            # the kernel has already re-pointed plain foreign keys, removed is still active
            owners = set(session.execute(select(Sale.customer_id).where(Sale.id == sale.id)).scalars())
            seen.append((kept.id, removed.id, removed.active, owners))

    register_plugin(M())
    merge_customers(session, kept.id, removed.id)
    assert seen == [(kept.id, removed.id, True, {kept.id})]
    session.expire_all()
    gone = session.get(Customer, removed.id)
    assert gone.active is False and gone.merged_into_id == kept.id


# ---------------------------------------------------------------------------------------
# customer data, dashboard, integrity
# ---------------------------------------------------------------------------------------

def test_hook_customer_summary(rt, session, make, register_plugin):
    store, p = make.store(), make.product(price="12.00")
    customer = make.customer()
    sale = _ring(session, store, [p], customer_id=customer.id)

    class Card:
        @hookimpl
        def customer_summary(self, session, customer, user):
            return [SummaryPanel("Hook test card", (("level", "gold"),), priority=5, addon="hooktest")]

    register_plugin(Card())
    panels = sort_by_priority(rt.hook.customer_summary(session=session, customer=customer, user=None))
    assert [pl.addon for pl in panels] == ["hooktest", "core"]
    kernel = panels[1]
    assert kernel.permission == "core.sale.read"
    assert kernel.fields[0][0] == sale.number and kernel.fields[0][1].endswith("12.00")
    nobody = make.customer()
    empty = [pl for pl in _flat(rt.hook.customer_summary(session=session, customer=nobody, user=None))
             if pl.addon == "core"]
    assert len(empty[0].fields) == 1  # "none"


def test_hook_segment_fields(rt, session, make, register_plugin):
    from core import segments
    from core.contrib import SegmentField

    a, b = make.customer(), make.customer()
    a.note = "vip"
    session.flush()

    class Notes:
        @hookimpl
        def segment_fields(self):
            return [SegmentField("hooktest.note", "Note", "text", lambda params: Customer.note)]

    register_plugin(Notes(), name="hooktest")
    known = segments.fields(rt.registry)
    assert known["hooktest.note"].addon == "hooktest" and "core.spend" in known
    stmt = segments.audience(session, {"op": "and", "rules": [
        {"field": "hooktest.note", "operator": "eq", "value": "vip"}]})
    assert session.execute(stmt).scalars().all() == [a.id]

    class Stray:
        @hookimpl
        def segment_fields(self):
            return [SegmentField("other.note", "Note", "text", lambda params: Customer.note)]

    register_plugin(Stray(), name="hookstray")
    with pytest.raises(AddonError, match="must start with"):
        segments.fields(rt.registry)


def test_hook_ticket_preview(rt, session, make, register_plugin):
    from core.services.till import till_preview

    store, p = make.store(), make.product(price="25.00")
    customer = make.customer()
    seen = []

    class Stamps:
        @hookimpl
        def ticket_preview(self, session, ticket):
            seen.append((ticket.customer_id, [ln.total for ln in ticket.lines]))
            return [SummaryPanel("Stamps", (("Stamps to be earned", len(ticket.lines)),), priority=5, addon="stamps"),
                    SummaryPanel("Secret", (("x", 1),), permission="nobody.has.this", addon="stamps")]

    register_plugin(Stamps())
    req = CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal("2"))], customer_id=customer.id)
    out = till_preview(session, req, make.user())
    assert seen == [(customer.id, [Decimal("50.00")])]
    assert out["earn"] == [{"title": "Stamps", "addon": "stamps", "fields": [["Stamps to be earned", "1"]]}]
    session.rollback()


def test_hook_receipt_panels(rt, session, make, register_plugin):
    from core.services.checkout import checkout
    from core.services.till import receipt, receipt_text

    store, p = make.store(), make.product(price="25.00")
    customer = make.customer()
    seen = []

    class Stamps:
        @hookimpl
        def receipt_panels(self, session, sale):
            seen.append((sale.number, sale.customer_id))
            return [SummaryPanel("Stamps", (("Stamps on the card", 7),), priority=5, addon="stamps")]

    register_plugin(Stamps())
    sale = checkout(session, CheckoutRequest(store_id=store.id, lines=[LineRequest(p.id, Decimal("2"))],
                                             customer_id=customer.id))
    user = make.user()
    data = receipt(session, sale.id, user)
    assert seen == [(sale.number, customer.id)]
    assert data["panels"] == [{"title": "Stamps", "addon": "stamps", "fields": [("Stamps on the card", "7")]}]
    assert receipt_text(data).splitlines()[-1].split() == ["Stamps", "on", "the", "card", "7"]
    session.rollback()


def test_hook_dashboard_widgets(rt, session, make, register_plugin):
    a, b = make.store(code="HOOKTEST-A"), make.store(code="HOOKTEST-B")
    p = make.product(price="10.00")
    _ring(session, a, [p])
    _ring(session, b, [p])
    _ring(session, b, [p])
    manager = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=a.id, password="pw-123456")
    from core.security.permissions import sync_roles

    sync_roles(session, rt.registry)
    session.commit()
    asked = []

    class W:
        @hookimpl
        def dashboard_widgets(self, session, user, store_ids):
            asked.append((user and user.id, store_ids))
            return [DashboardWidget("hooktest.n", "Hook test widget", "number",
                                    {"value": str(len(store_ids) if store_ids is not None else "all")},
                                    priority=1)]

    register_plugin(W())
    # the kernel's own widgets, called directly for every store and for one
    every = {w.key: w for w in _flat(rt.hook.dashboard_widgets(session=session, user=None, store_ids=None))}
    by_store = dict(zip(every["core.sales_by_store"].data["labels"], every["core.sales_by_store"].data["values"]))
    assert by_store[a.code] == 10.0 and by_store[b.code] == 20.0
    only_a = {w.key: w for w in _flat(rt.hook.dashboard_widgets(session=session, user=None, store_ids=[a.id]))}
    assert only_a["core.revenue_30d"].data["value"] == "10.00"
    assert only_a["core.sales_by_store"].data["labels"] == [a.code]
    # the back-office home page asks with the signed-in user's stores and shows the result
    app = _app(rt)
    app.config["WTF_CSRF_ENABLED"] = False
    asked.clear()
    with app.test_client() as client:
        r = client.post("/login", data={"username": manager.username, "password": "pw-123456"})
        assert r.status_code in (302, 303), r.status_code
        page = client.get("/admin/?lang=en")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
    assert asked == [(manager.id, [a.id])]
    assert "Hook test widget" in html
    assert a.code in html and b.code not in html


def test_hook_derived_balances(rt, session, make, register_plugin):
    from core.services.refund import RefundLineRequest

    store, p = make.store(), make.product(price="10.00")
    customer = make.customer()
    # the kernel declares no balance of its own
    assert _flat(rt.hook.derived_balances(session=session, customer=customer)) == []

    class Spend:
        """A balance derived from the kernel's sales: what the customer spent, net."""

        @hookimpl
        def derived_balances(self, session, customer):
            total = session.scalar(select(func.coalesce(func.sum(Sale.total), 0))
                                   .where(Sale.customer_id == customer.id, Sale.state != "draft"))
            return [Balance("hooktest.spend", Decimal(total))]

    register_plugin(Spend())

    def balances():
        return {b.name: b.value for b in _flat(rt.hook.derived_balances(session=session, customer=customer))}

    before = balances()
    sale = _ring(session, store, [p, p], customer_id=customer.id)
    assert balances()["hooktest.spend"] == before["hooktest.spend"] + Decimal("20.00")
    refund(session, sale.id, [RefundLineRequest(sale.lines[0].id, Decimal(1))])
    refund(session, sale.id)
    # confirm then refund leaves every derived balance unchanged
    assert balances() == before


def test_hook_check_invariants(rt, session, make, register_plugin):
    from core.services.check import run_checks

    store, p = make.store(), make.product(price="10.00")
    sale = _ring(session, store, [p])
    assert [b for b in run_checks(session) if b.check == "core.sale_totals"] == []
    # the kernel's own implementation reports a sale whose total no longer matches
    sale.total = Decimal("11.00")
    session.flush()
    found = [b for b in run_checks(session) if b.check == "core.sale_totals"]
    assert len(found) == 1 and found[0].records == (f"core_sale:{sale.id}",)

    class Extra:
        @hookimpl
        def check_invariants(self, session):
            return [Breach("hooktest.always", "always broken", ("x:1",))]

    class Crashes:
        @hookimpl
        def check_invariants(self, session):
            raise RuntimeError("boom")

    register_plugin(Extra())
    name = register_plugin(Crashes())
    checks = {b.check for b in run_checks(session)}
    assert {"core.sale_totals", "hooktest.always", f"{name}.check_failed"} <= checks


# ---------------------------------------------------------------------------------------
# lifecycle and demo
# ---------------------------------------------------------------------------------------

def test_hook_load_demo_data(rt, session, register_plugin):
    from core.demo import build_demo
    from core.models import Store

    calls = []

    class Demo:
        @hookimpl
        def load_demo_data(self, session, demo):
            # the kernel built the chain first; sales are rung up after the addons ran
            calls.append((len(demo.stores), len(demo.customers), len(demo.products), len(demo.sales)))
            demo.extra["hooktest.first_store"] = demo.stores[0].id
            demo.customers[0].note = f"hooktest {demo.rng.random()}"

    register_plugin(Demo())
    demo = build_demo(rt, scale=0.02, months=1, seed=5, progress=False)
    assert len(calls) == 1
    stores, customers, products, sales = calls[0]
    assert stores > 0 and customers > 0 and products > 0
    assert demo.extra["result"]["sales"] > 0  # then the sales went through the checkout
    assert session.get(Store, demo.extra["hooktest.first_store"]) is not None
    noted = session.execute(select(Customer.note).where(Customer.note.like("hooktest %"))).scalars().all()
    assert len(noted) == 1
