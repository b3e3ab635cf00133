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
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.contrib import (Adjustment, Balance, Breach, DashboardWidget, Job, PaymentMethod, Permission,
                          RecordRule, SensitiveAction, SummaryPanel, sort_by_priority)
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

    register_plugin(V())
    app = _app(rt)
    assert calls == [app]
    admin = app.extensions["admin"][0] if isinstance(app.extensions["admin"], list) else app.extensions["admin"]
    assert any(isinstance(v, HookTestView) for v in admin._views)
    assert "hooktest.index" in app.view_functions


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


def test_hook_register_cli_commands(rt, register_plugin):
    import click

    from core.cli import main

    calls = []

    class C:
        @hookimpl
        def register_cli_commands(self, cli):
            calls.append(cli)

            @click.command("hooktest-hello")
            def hello():
                click.echo("hello from a hook")

            cli.add_command(hello)

    register_plugin(C())
    # the kernel hands the real ``banyan`` group to the hook (done by core.cli when it loads
    # the configured database's addons); here we call the hook as core.cli does and run it
    try:
        rt.hook.register_cli_commands(cli=main)
        assert calls == [main]
        from click.testing import CliRunner

        result = CliRunner().invoke(main, ["hooktest-hello"])
        assert result.exit_code == 0, result.output
        assert "hello from a hook" in result.output
    finally:
        main.commands.pop("hooktest-hello", None)


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


def test_hook_register_sensitive_actions(rt, register_plugin):
    class S:
        @hookimpl
        def register_sensitive_actions(self):
            return [SensitiveAction("hooktest.big_adjust", "Big adjustment", approvals=3,
                                    threshold=Decimal("1000"))]

    register_plugin(S())
    actions = {a.name: a for a in _flat(rt.hook.register_sensitive_actions())}
    # the kernel's default: refunds need two approvers
    assert actions["core.sale.refund"].approvals == 2
    assert actions["hooktest.big_adjust"].threshold == Decimal("1000")


def test_hook_startup(rt, register_plugin):
    import flask

    seen = []

    class Early:
        @hookimpl
        def startup(self, app):
            seen.append(("early", app))

    register_plugin(Early())
    app = flask.Flask("hooktest")
    # the app factory calls the hook historically, exactly like this ...
    rt.hook.startup.call_historic(kwargs={"app": app})
    assert seen == [("early", app)]

    class Late:
        @hookimpl
        def startup(self, app):
            seen.append(("late", app))

    # ... so a plugin registered afterwards is still initialised with the same app
    register_plugin(Late())
    assert seen == [("early", app), ("late", app)]


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
            assert sale.state == "draft" and sale.payments  # after pricing and payments
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


def test_hook_dashboard_widgets(rt, session, make, register_plugin):
    a, b = make.store(), make.store()
    p = make.product(price="10.00")
    _ring(session, a, [p])
    _ring(session, b, [p])
    _ring(session, b, [p])

    class W:
        @hookimpl
        def dashboard_widgets(self, session, user, store_ids):
            return [DashboardWidget("hooktest.n", "Stores seen", "number",
                                    {"value": str(len(store_ids) if store_ids is not None else "all")},
                                    priority=1)]

    register_plugin(W())
    every = {w.key: w for w in _flat(rt.hook.dashboard_widgets(session=session, user=None, store_ids=None))}
    assert every["hooktest.n"].data["value"] == "all"
    by_store = dict(zip(every["core.sales_by_store"].data["labels"], every["core.sales_by_store"].data["values"]))
    assert by_store[a.code] == 10.0 and by_store[b.code] == 20.0
    only_a = {w.key: w for w in _flat(rt.hook.dashboard_widgets(session=session, user=None, store_ids=[a.id]))}
    assert only_a["core.revenue_30d"].data["value"] == "10.00"
    assert only_a["core.sales_by_store"].data["labels"] == [a.code]
    assert only_a["hooktest.n"].data["value"] == "1"


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
    store, p = make.store(), make.product(price="10.00")
    sale = _ring(session, store, [p])

    def kernel_breaches():
        return [b for b in _flat(rt.hook.check_invariants(session=session)) if b.check == "core.sale_totals"]

    assert kernel_breaches() == []
    # a sale whose total no longer matches its lines and payments is reported by the kernel
    sale.total = Decimal("11.00")
    session.flush()
    found = kernel_breaches()
    assert len(found) == 1 and found[0].records == (f"core_sale:{sale.id}",)

    class Extra:
        @hookimpl
        def check_invariants(self, session):
            return [Breach("hooktest.always", "always broken", ("x:1",))]

    register_plugin(Extra())
    assert {b.check for b in _flat(rt.hook.check_invariants(session=session))} == {"core.sale_totals",
                                                                                   "hooktest.always"}


# ---------------------------------------------------------------------------------------
# lifecycle and demo
# ---------------------------------------------------------------------------------------

def test_hook_load_demo_data(rt, session, make, register_plugin):
    import random

    from core.contrib import DemoContext

    store = make.store()
    customer = make.customer()
    calls = []

    class Demo:
        @hookimpl
        def load_demo_data(self, session, demo):
            calls.append(demo)
            demo.extra["hooktest"] = len(demo.stores)
            c = demo.customers[0]
            c.note_for_hooktest = demo.rng.random()

    register_plugin(Demo())
    demo = DemoContext(rng=random.Random(7), stores=[store], customers=[customer])
    rt.hook.load_demo_data(session=session, demo=demo)
    assert calls == [demo] and demo.extra["hooktest"] == 1
    # the seeded RNG makes demo data reproducible
    assert customer.note_for_hooktest == random.Random(7).random()
