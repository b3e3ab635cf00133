"""The checkout: one function every surface uses (back office, API, CLI, demo, benchmarks).

It prices the ticket through hooks, takes payments through hooks, confirms and fires
``on_sale_confirmed``, all on the caller's session and transaction. It flushes, never
commits: wrap the call in ``core.db.transaction`` so that a failure anywhere (a bad line,
a refused payment, an addon's reaction) leaves nothing of the sale behind.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, bindparam, select

from core import cache
from core.codes import claim_ticket_codes, ticket_codes
from core.contrib import DEFAULT_PRICING_STAGE, sort_by_priority
from core.db import LOCKING_READS, ZERO, money
from core.errors import BusinessError, Conflict, NotFound
from core.i18n import lazy_gettext as _l, lazy_source
from core.localtime import business_date
from core.mixins import utcnow
from core.models import (
    Customer,
    Employee,
    Product,
    Sale,
    SaleLine,
    SalePayment,
    Store,
)
from core.runtime import hook_of, runtime_of
from core.security.scope import scoped_statement
from core.services.pricing import clear_prefetch, prefetch_for, products_with_retail, retail_price_column
from core.services.sale_writer import NewAdjustment, NewSale, add_adjustments, insert_payments, new_sale, write
from core.validation import decimal_input, is_id, money_input, quantity_input, unit_quantity


@dataclass
class LineRequest:
    product_id: int
    qty: Decimal
    clerk_id: int | None = None


@dataclass
class PaymentRequest:
    method: str
    amount: Decimal | None = None  # None: whatever is left to pay
    reference: str | None = None


@dataclass
class CheckoutRequest:
    store_id: int
    lines: list[LineRequest]
    payments: list[PaymentRequest] = field(default_factory=list)
    customer_id: int | None = None
    cashier_id: int | None = None
    idempotency_key: str | None = None
    at: datetime | None = None
    note: str | None = None
    codes: list[str] = field(default_factory=list)  # coupon/voucher codes, read by price_ticket hooks
    #: a signed reference from a chain-wide lookup (``core.lookup``): the customer, even one
    #: outside the user's record scope; needs the user who looked up (checkout/preview ``user``)
    customer_ref: str | None = None

    def fingerprint(self) -> str:
        """A hash of everything the request asks for (not its key or time): a retry under
        the same key must carry the same fingerprint. The same JSON as
        ``asdict()`` without those two fields, built without its deep copies."""
        data = {"store_id": self.store_id, "customer_id": self.customer_id, "cashier_id": self.cashier_id,
                "note": self.note, "codes": self.codes, **({"customer_ref": self.customer_ref} if self.customer_ref else {}),
                "lines": [{"product_id": ln.product_id, "qty": ln.qty, "clerk_id": ln.clerk_id}
                          for ln in self.lines],
                "payments": [{"method": p.method, "amount": p.amount, "reference": p.reference}
                             for p in self.payments]}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(slots=True, eq=False)
class LoadedTicket:
    """What the checkout reads before pricing (:func:`load_ticket`): the ``store``, the
    ``customer`` (None: walk-in), the time ``at``, and, when read with the store,
    ``products`` (``{id: Product}``) and their ``retail`` prices (``{id: Decimal}``, a
    product without a retail price is missing). ``products`` None: not read yet."""

    store: Store
    customer: Customer | None
    at: datetime
    products: dict[int, Product] | None = None
    retail: dict[int, Decimal] | None = None
    #: whether the customer's balances may be shown to this user (:func:`ticket_customer`)
    customer_proven: bool = True
    #: the cashier when the ticket names none: the signed-in user's own employee, when the
    #: user's scope shows it (a sale rung at the till is the cashier's, for commissions too)
    cashier_id: int | None = None


@dataclass(slots=True, eq=False)
class PlannedPayment:
    """One payment of the request, checked against the total (:func:`plan_payments`):
    the addon's ``method`` (``core.contrib.PaymentMethod``), the ``amount`` it takes and the
    request's ``reference``; ``index`` is its position in the request (error paths)."""

    method: object
    amount: Decimal
    reference: str | None
    index: int


def _decimal(value, field_name: str) -> Decimal:
    """A finite Decimal or ``BusinessError`` naming the field (``core.validation``)."""
    return decimal_input(value, field_name)


def _validate(req: CheckoutRequest) -> None:
    """The ticket's own checks, before anything is read: at least one line, quantities and
    payment amounts as ``core.validation`` wants them (precision, range, sign). The refund
    and the addons' money-moving operations use the same checks."""
    errors: dict[str, list] = {}
    if not req.lines:
        errors["lines"] = [_l("A sale needs at least one line.")]
    for i, line in enumerate(req.lines):
        try:
            line.qty = quantity_input(line.qty, f"lines.{i}.qty")
        except BusinessError as exc:
            errors.update(exc.errors)
    for i, pay in enumerate(req.payments):
        if pay.amount is not None:
            try:
                pay.amount = money_input(pay.amount, f"payments.{i}.amount")
            except BusinessError as exc:
                errors.update(exc.errors)
    if errors:
        raise BusinessError(errors)


def find_replay(session, req: CheckoutRequest) -> Sale | None:
    """The sale already recorded under this idempotency key, or None. A key reused with a
    different request is a conflict (HTTP 409)."""
    if not req.idempotency_key:
        return None
    sale = session.execute(select(Sale).where(Sale.store_id == req.store_id,
                                              Sale.idempotency_key == req.idempotency_key)).scalar()
    if sale is not None and sale.request_hash != req.fingerprint():
        raise Conflict({"idempotency_key": _l("This key was used for a different sale.")})
    return sale


def apply_adjustments(sale: Sale, adjustments) -> None:
    """Apply discounts/surcharges in priority order; no line ever goes below zero.

    A ticket-level adjustment is spread over the lines pro rata, so every line carries its
    share (refunds, commissions and margins stay exact per line)."""
    new: list[NewAdjustment] = []
    _apply(sale, adjustments, new)
    # a new ticket's rows are linked the writer's way, a saved sale's through the ORM
    add_adjustments(sale, new)


def _label(label) -> tuple:
    """``(text as written, msgid, args)`` of an adjustment's label: a lazy string keeps what
    it was made of, so that every reader sees it in their language (``core.i18n.lazy_source``;
    a msgid too long for its column is not kept); a plain string is data, as typed."""
    text = str(label)[:160]
    source = lazy_source(label)
    if source is None or len(source[0]) > 255:
        return text, None, None
    return text, source[0], source[1]


def _apply(sale: Sale, adjustments, new: list[NewAdjustment]) -> None:
    labels: dict[int, tuple] = {}  # one label object for many lines (a tier): translated once
    for adj in adjustments:
        amount = money(adj.amount)
        if amount == 0:
            continue
        label = labels.get(id(adj.label))
        if label is None:
            label = labels[id(adj.label)] = _label(adj.label)
        if adj.line is not None:
            line = adj.line
            amount = max(amount, -line.total)
            if amount == 0:
                continue
            line.discount += amount
            line.total += amount
            new.append(NewAdjustment(line, amount, adj.rule_code, *label))
            continue
        base = sum((ln.total for ln in sale.lines), ZERO)
        amount = max(amount, -base)
        if amount == 0 or base == 0:
            continue
        left = amount
        for idx, line in enumerate(sale.lines):
            share = left if idx == len(sale.lines) - 1 else money(amount * line.total / base)
            share = max(share, -line.total)
            line.discount += share
            line.total += share
            left -= share
        new.append(NewAdjustment(None, amount - left, adj.rule_code, *label))


def pricing_stages(pm) -> list:
    """Hook callers for ``price_ticket``, one per pricing stage, in stage order: the checkout
    calls each and applies its adjustments before calling the next, so every stage sees the
    running remainder. Implementations declare their stage with ``core.contrib.pricing_stage``
    (default: ``"promotion"``); within a stage they are called together, as any hook. Built
    once per set of implementations (plugins registered later get new callers)."""
    impls = pm.hook.price_ticket.get_hookimpls()
    key = tuple((id(i.plugin), getattr(i.function, "pricing_stage", DEFAULT_PRICING_STAGE)) for i in impls)
    cache = pm.__dict__.setdefault("_banyan_pricing_stages", {})
    callers = cache.get(key)
    if callers is None:
        stages: dict[int, set] = {}
        for impl in impls:
            stage = getattr(impl.function, "pricing_stage", DEFAULT_PRICING_STAGE)
            stages.setdefault(stage, set()).add(impl.plugin)
        if len(stages) <= 1:
            callers = [pm.hook.price_ticket] if stages else []
        else:
            everyone = {impl.plugin for impl in impls}
            callers = [pm.subset_hook_caller("price_ticket", remove_plugins=everyone - plugins)
                       for _stage, plugins in sorted(stages.items(), key=lambda kv: kv[0])]
        if len(cache) > 64:  # tests register throwaway plugins: keep this bounded
            cache.clear()
        cache[key] = callers
    return callers


def payment_method_map(session, sale, user) -> dict:
    methods = sort_by_priority(hook_of(session).payment_methods(session=session, ticket=sale, user=user))
    out = {}
    for m in methods:
        out.setdefault(m.code, m)
    return out


def price_lines(session, req: CheckoutRequest, store: Store, customer: Customer | None, at,
                loaded: LoadedTicket | None = None) -> Sale:
    """Build the unsaved (transient) ticket, priced through the hooks (used by checkout and
    by previews). ``loaded``: what :func:`load_ticket` read, products and retail prices
    included when it read them (otherwise they are read here)."""
    hook = hook_of(session)
    ids = {ln.product_id for ln in req.lines}
    # the products come with their retail prices, which the kernel's default resolve_price
    # then reads from the ticket's price memo
    if loaded is not None and loaded.products is not None:
        products, retail = loaded.products, loaded.retail or {}
    else:
        products, retail = products_with_retail(session, ids, store.id, at)
    sale = new_sale(store=store, store_id=store.id, customer=customer,
                    customer_id=customer.id if customer else None, cashier_id=req.cashier_id,
                    currency=runtime_of(session).currency, note=req.note, kind="sale", state="draft",
                    created_at=at)
    sale.codes = ticket_codes(req.codes)  # canonical (core.codes); transient, for price_ticket
    errors = {}
    prefetch_for(session, ids, store.id, at, retail=retail)
    try:
        _price_each_line(session, hook, req, sale, products, store, customer, at, errors)
        if errors:
            raise BusinessError(errors)
        # each stage prices what the stages before it left (core.contrib.PRICING_STAGES)
        made = []
        for price_stage in pricing_stages(runtime_of(session).registry.pm):
            adjustments = sort_by_priority(price_stage(session=session, ticket=sale))
            apply_adjustments(sale, adjustments)
            made.extend(adjustments)
        claim_ticket_codes(session, hook, sale, made)  # every typed code used, or 422
    finally:
        clear_prefetch(session)
    sale.subtotal = sum((ln.gross for ln in sale.lines), ZERO)
    sale.discount_total = sum((ln.discount for ln in sale.lines), ZERO)
    sale.total = sum((ln.total for ln in sale.lines), ZERO)
    return sale


def _price_each_line(session, hook, req, sale, products, store, customer, at, errors) -> None:
    for i, ln in enumerate(req.lines):
        product = products.get(ln.product_id)
        if product is None or not product.active:
            errors[f"lines.{i}.product_id"] = [_l("No such product.")]
            continue
        try:
            unit_quantity(product, ln.qty, f"lines.{i}.qty")
        except BusinessError as exc:
            errors.update(exc.errors)
            continue
        price = hook.resolve_price(session=session, product=product, store=store, customer=customer, at=at)
        if price is None:
            errors[f"lines.{i}.product_id"] = [_l("This product has no price at this store.")]
            continue
        gross = money(Decimal(price) * ln.qty)
        sale.lines.append(SaleLine(product=product, product_id=product.id, qty=ln.qty,
                                   unit_price=money(price), discount=ZERO, total=gross,
                                   clerk_id=ln.clerk_id or req.cashier_id))


def _ticket_statement(criterion):
    """Everything the checkout reads before pricing, in one statement through the user's
    record scope: the store with the configuration token, the ticket's products with their
    retail prices, the customer and the employees the ticket names (cashier, clerks). One row
    per (product, employee) pair, the store and the customer repeated; the outer joins keep
    the store's row when a product, the customer or an employee is not visible. The record
    rules are written in (``criterion(model)``, ``core.security.scope.scoped_statement``):
    each model's in its ON clause, the store's in the WHERE (bench/README.md, "Timings the
    code refers to": this read was a third of an API sale's CPU with loader options)."""
    def limited(model, *conditions):
        extra = criterion(model)
        return and_(*conditions, extra) if extra is not None else and_(*conditions)

    # the configuration token's one row is nobody's (core_config_version: no store, no rule)
    return (select(Store, cache.TOKEN_COLUMN, Product, retail_price_column(criterion), Customer, Employee.id)
            .select_from(Store)
            .outerjoin(Product, limited(Product, Product.id.in_(bindparam("ids", expanding=True))))
            .outerjoin(Customer, limited(Customer, Customer.id == bindparam("customer_id")))
            .outerjoin(Employee, limited(Employee, Employee.id.in_(bindparam("employee_ids", expanding=True))))
            .where(limited(Store, Store.id == bindparam("store_id"))))


_CUSTOMER_BY_REF = (select(Customer).where(Customer.id == bindparam("id"))
                    .execution_options(banyan_unscoped=True))


def ticket_customer(session, req: CheckoutRequest, user) -> tuple[Customer | None, bool]:
    """``(customer, proven)`` of a ticket that names its customer by ``req.customer_ref`` (a
    ticket naming ``req.customer_id`` has it read by :func:`load_ticket`, through the user's
    record scope, and proven: the user may see the customer anyway). ``req.customer_ref``, a
    reference from a chain-wide lookup (``core.lookup.read_customer_ref``: signed, this
    user's, not expired), is read past the scope: the one customer it names (proven when
    the card was presented, or when the user's scope shows the customer anyway). NotFound/BusinessError name ``customer_id`` or ``customer_ref``."""
    if req.customer_ref:
        from core.lookup import read_customer_ref

        ref = read_customer_ref(session, user, req.customer_ref)
        if req.customer_id is not None and req.customer_id != ref.customer_id:
            raise BusinessError({"customer_ref": [_l("This reference is for another customer than customer_id.")]})
        customer = session.identity_map.get(session.identity_key(Customer, ref.customer_id))
        if customer is None:
            customer = session.execute(_CUSTOMER_BY_REF, {"id": ref.customer_id}).scalar()
        if customer is None or not customer.active:
            raise NotFound({"customer_ref": _l("No such customer.")})
        from core.security.scope import grant_customer

        grant_customer(session, customer.id)  # the sale's rows may reference this one customer
        proven = ref.proven or session.execute(select(Customer.id).where(Customer.id == customer.id)).first() is not None
        return customer, proven
    return None, False


def load_ticket(session, req: CheckoutRequest, at, user=None) -> LoadedTicket:
    """The ticket's store, customer, products and retail prices, through the user's scope
    (the customer of a ``customer_ref`` past it: :func:`ticket_customer`), in one statement
    (``_TICKET``), which also checks that the user may see the employees the ticket names.

    NotFound naming the field when the store or the customer is not there
    (``store_id``/``customer_id``: "No such store."/"No such customer."), BusinessError
    ``cashier_id`` or ``lines.N.clerk_id`` "No such record." for an employee the user's
    scope does not show (the same answer as ``core.api.visible.ref_visible``).

    The store comes with the configuration token (addons' cached reads later in the sale,
    promotions, tiers, rules, then cost no statement of their own)."""
    ids = list({ln.product_id for ln in req.lines})
    named = [("cashier_id", req.cashier_id)] + [(f"lines.{i}.clerk_id", ln.clerk_id) for i, ln in enumerate(req.lines)]
    named = [(f, e) for f, e in named if e is not None]
    errors = {f: [_l("No such record.")] for f, e in named if not is_id(e)}
    # no cashier named: the user's own employee, read with the others (kept only if visible)
    own = getattr(user, "employee_id", None) if req.cashier_id is None else None
    own = own if is_id(own) else None
    by_ref = bool(req.customer_ref)
    customer_id = None if by_ref or not is_id(req.customer_id) else req.customer_id
    rows = session.execute(scoped_statement(session, "core.checkout.ticket", _ticket_statement), {
        "store_id": req.store_id if is_id(req.store_id) else 0, "ids": ids, "at": at, "customer_id": customer_id,
        "employee_ids": list({e for _f, e in named if is_id(e)} | ({own} if own else set()))}).all()
    if not rows or not rows[0][0].active:
        raise NotFound({"store_id": _l("No such store.")})
    store = rows[0][0]
    cache.prime(session, rows[0][1])
    products = {r[2].id: r[2] for r in rows if r[2] is not None}
    retail = {r[2].id: r[3] for r in rows if r[2] is not None and r[3] is not None}
    employees = {r[5] for r in rows if r[5] is not None}
    errors.update({f: [_l("No such record.")] for f, e in named if is_id(e) and e not in employees})
    if errors:
        raise BusinessError(errors)
    if by_ref:
        customer, proven = ticket_customer(session, req, user)
    elif req.customer_id is None:
        customer, proven = None, False
    else:
        customer, proven = rows[0][4], True
        if customer is None or not customer.active:
            raise NotFound({"customer_id": _l("No such customer.")})
    return LoadedTicket(store, customer, at, products, retail, customer_proven=proven,
                        cashier_id=own if own in employees else None)


def preview(session, req: CheckoutRequest, user=None) -> Sale:
    """Price a ticket without saving anything (promotion previews, POS display). ``user``:
    who asks (needed to accept ``req.customer_ref``). The ticket's ``customer_proven`` says
    whether its customer's balances may be shown (:func:`ticket_customer`)."""
    _validate(req)
    loaded = load_ticket(session, req, req.at or utcnow(), user)
    with session.no_autoflush:
        sale = price_lines(session, req, loaded.store, loaded.customer, loaded.at, loaded)
    sale.customer_proven = loaded.customer_proven
    return sale


def checkout(session, req: CheckoutRequest, user=None, look_for_replay: bool = True) -> Sale:
    """Ring up and confirm a sale. Returns the confirmed sale (or the one already recorded
    under ``req.idempotency_key``, with ``sale.replayed = True``).

    ``look_for_replay=False`` skips the lookup of an earlier sale under the key: a replay
    then fails on the unique key (``IntegrityError``) or on the request's own checks, and the
    caller, after rolling back, calls :func:`find_replay` (the API does: one query fewer for
    every first attempt, which is nearly all of them)."""
    _validate(req)
    replay = find_replay(session, req) if look_for_replay else None
    if replay is not None:
        replay.replayed = True
        return replay
    held = LOCKING_READS.get(session)
    LOCKING_READS.set(session, True)  # what the sale updates may be locked when first read
    try:
        return _checkout(session, req, user)
    finally:
        if not held:
            LOCKING_READS.pop(session)


def _checkout(session, req: CheckoutRequest, user) -> Sale:
    at = req.at or utcnow()
    loaded = load_ticket(session, req, at, user)
    hook = hook_of(session)
    # the request as sent is what a retry under the same key must match
    request_hash = req.fingerprint() if req.idempotency_key else None
    if req.cashier_id is None and loaded.cashier_id is not None:
        req = replace(req, cashier_id=loaded.cashier_id)  # the sale and its lines are the cashier's
    with session.no_autoflush:
        sale = price_lines(session, req, loaded.store, loaded.customer, at, loaded)
    sale.user_id = getattr(user, "id", None)
    sale.idempotency_key = req.idempotency_key
    sale.request_hash = request_hash
    # The sale is written once, already numbered and confirmed: nothing is visible to anyone
    # before the transaction commits, and any refusal below rolls back the number too.
    plan = plan_payments(session, sale, req.payments or [PaymentRequest("cash")], user)
    sale.state = "confirmed"
    sale.confirmed_at = at
    sale.business_date = business_date(at)  # local date (core.localtime)
    # Written with prebuilt statements, not the unit of work (see core.services.sale_writer),
    # and numbered as it is written: the counter's row lock is held from there to the commit.
    # Payments that capture nothing (cash, card) go with the sale, the others once captured
    # (a capture may record the sale's id or number).
    if all(p.method.capture is None for p in plan):
        write(session, NewSale(sale, capture_payments(session, sale, plan), number_code="sale"))
    else:
        write(session, NewSale(sale, number_code="sale"))
        insert_payments(session, sale, capture_payments(session, sale, plan))
    hook.validate_sale(session=session, sale=sale)
    hook.on_sale_confirmed(session=session, sale=sale)
    session.flush()
    sale.replayed = False
    return sale


def plan_payments(session, sale: Sale, payments: list[PaymentRequest], user) -> list[PlannedPayment]:
    """Check ``payments`` against the sale's total before anything is written: unknown
    methods, amounts over what is due, or a total left uncovered raise ``BusinessError``
    naming the field. Returns a :class:`PlannedPayment` for each payment, in order."""
    methods = payment_method_map(session, sale, user)
    due = sale.total
    errors = {}
    plan = []
    for i, pay in enumerate(payments):
        method = methods.get(pay.method)
        if method is None:
            errors[f"payments.{i}.method"] = [_l("Unknown payment method.")]
            continue
        amount = pay.amount if pay.amount is not None else due
        if amount <= 0 and sale.total > 0:
            errors[f"payments.{i}.amount"] = [_l("Nothing left to pay.")]
            continue
        if amount > due:
            errors[f"payments.{i}.amount"] = [_l("Payments exceed the total.")]
            continue
        plan.append(PlannedPayment(method, amount, pay.reference, i))
        due -= amount
    if errors:
        raise BusinessError(errors)
    if due != 0:
        raise BusinessError({"payments": [_l("Payments do not cover the total.")]})
    return plan


def capture_payments(session, sale: Sale, plan: list[PlannedPayment]) -> list[SalePayment]:
    """Capture each planned payment (stored value, points, gift cards take their money here;
    the sale is already written, so a capture may record its id). Returns the payment rows,
    for :func:`core.services.sale_writer.insert_payments`."""
    rows = []
    for p in plan:
        method, ref = p.method, p.reference
        if method.capture is not None:
            try:
                ref = method.capture(session, sale, p.amount, ref) or ref
            except BusinessError as exc:
                raise payment_error(exc, p.index) from None
        rows.append(SalePayment(method=method.code, amount=p.amount, reference=ref))
    return rows


#: fields of one payment: a capture's (or a refund's) error naming one is about that payment
PAYMENT_FIELDS = ("amount", "reference", "method")
#: fields of the ticket itself, left as they are
TICKET_FIELDS = ("customer_id", "customer_ref", "store_id", "cashier_id", "codes")


def payment_error(exc: BusinessError, index: int) -> BusinessError:
    """``exc`` raised by the capture of payment ``index``, its fields as paths of the
    request: ``amount`` -> ``payments.<index>.amount`` (``reference``, ``method`` alike),
    ``customer_id``/``store_id`` stay, anything else (``_``, ``payments``, an addon's own
    name) -> ``payments.<index>``. A stored-value, points or gift-card shortfall thus names
    the payment that asked for it, as a schema error would."""
    errors = {}
    for key, messages in exc.errors.items():
        if key in PAYMENT_FIELDS:
            path = f"payments.{index}.{key}"
        elif key in TICKET_FIELDS or key.startswith("payments."):
            path = key
        else:
            path = f"payments.{index}"
        errors.setdefault(path, []).extend(messages)
    return type(exc)(errors, status=exc.status)
