"""The kernel's REST resources (mounted under ``/api/v1/`` by ``core.defaults.api``).

Every view runs on the request's record-scoped session (``core.web.db_session()``), so a
user only ever reads or references rows of the stores they may see; a row outside their
scope is simply "not found". Writes run inside ``core.db.transaction``.
"""
from __future__ import annotations

from flask import jsonify
from sqlalchemy import bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from core.api import AUTHENTICATED, Blueprint, can, paginate_select, request_user, requires
from core.api import schemas as S
from core.contrib import sort_by_priority
from core.db import money, transaction
from core.errors import BusinessError, Conflict, Forbidden, NotFound
from core.i18n import lazy_gettext as _l
from core.idempotency import idempotent, request_key
from core.mixins import utcnow
from core.models import (ApiToken, Company, Customer, Employee, PriceList, PriceListItem, Product,
                         ProductCategory, Region, Sale, Store, User)
from core.web import db_session

orgs = Blueprint("core_org", __name__, url_prefix="", description="Companies, regions and stores")
customers = Blueprint("core_customers", __name__, url_prefix="/customers", description="Customers")
products = Blueprint("core_products", __name__, url_prefix="", description="Products, categories and prices")
employees = Blueprint("core_employees", __name__, url_prefix="/employees", description="Employees")
sales = Blueprint("core_sales", __name__, url_prefix="/sales", description="Sales and refunds")
account = Blueprint("core_account", __name__, url_prefix="", description="API tokens and the current user")

BLUEPRINTS = (orgs, customers, products, employees, sales, account)


# --------------------------------------------------------------------------- helpers

def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_visible(model, ident: int, field: str = "id"):
    """The row ``ident`` of ``model`` if the user may see it, else 404."""
    obj = None
    if 0 < ident <= S.MAX_ID:
        obj = db_session().execute(select(model).where(model.id == ident)).scalar()
    if obj is None:
        raise NotFound({field: _l("Not found.")})
    return obj


_BY_ID: dict = {}


def _by_id(model):
    """``SELECT model WHERE id = :ident``, built once per model (the scope's criteria are
    added per execution, so the prebuilt statement still obeys the user's record rules)."""
    stmt = _BY_ID.get(model)
    if stmt is None:
        stmt = _BY_ID[model] = select(model).where(model.id == bindparam("ident"))
    return stmt


def ref_visible(model, ident, field: str):
    """Check a reference given in a request body: 422 naming ``field`` when it is not visible."""
    if ident is None:
        return None
    obj = db_session().execute(_by_id(model), {"ident": ident}).scalar()
    if obj is None:
        raise BusinessError({field: _l("No such record.")})
    return obj


def unique(model, field: str, value, exclude_id: int | None = None) -> None:
    if value is None:
        return
    stmt = select(model.id).where(getattr(model, field) == value).execution_options(banyan_unscoped=True)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if db_session().execute(stmt.limit(1)).first() is not None:
        raise Conflict({field: _l("Already in use.")})


def scope_store_ids():
    from core.security.scope import scope_of

    scope = scope_of(db_session())
    return None if scope is None else scope.store_ids


def require_store_for_scoped(store_id, field: str):
    """Rows created by a user limited to some stores must belong to one of them."""
    ids = scope_store_ids()
    if ids is None:
        return store_id
    if store_id is None:
        if len(ids) == 1:
            return next(iter(ids))
        raise BusinessError({field: _l("Required: you may only see some stores.")})
    return store_id


# --------------------------------------------------------------------------- org

@orgs.route("/stores", methods=["GET"])
@requires("core.org.read")
@orgs.arguments(S.StoreQuery, location="query")
@orgs.response(200, S.StoreSchema(many=True))
@orgs.paginate()
def list_stores(args, pagination_parameters):
    """List the stores you may see."""
    stmt = select(Store).order_by(Store.code, Store.id)
    for key in ("kind", "format", "region_id", "operating_company_id", "active"):
        if key in args:
            stmt = stmt.where(getattr(Store, key) == args[key])
    if args.get("q"):
        pat = f"%{_like(args['q'])}%"
        stmt = stmt.where(or_(Store.code.like(pat, escape="\\"), Store.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)


@orgs.route("/stores/<int:store_id>", methods=["GET"])
@requires("core.org.read")
@orgs.response(200, S.StoreSchema)
def get_store(store_id):
    """One store."""
    return get_visible(Store, store_id)


def _visible_org():
    """(company ids, region ids) a store-limited user may see: those of their stores."""
    ids = scope_store_ids()
    if ids is None:
        return None, None
    rows = db_session().execute(select(Store.operating_company_id, Store.region_id, Region.company_id)
                                .join(Region, Region.id == Store.region_id)).all()
    companies = {r[0] for r in rows} | {r[2] for r in rows}
    return companies, {r[1] for r in rows}


@orgs.route("/companies", methods=["GET"])
@requires("core.org.read")
@orgs.arguments(S.CodeNameQuery, location="query")
@orgs.response(200, S.CompanySchema(many=True))
@orgs.paginate()
def list_companies(args, pagination_parameters):
    """Companies: HQ, branches and franchisees (a store-limited user sees those of their stores)."""
    stmt = select(Company).order_by(Company.code, Company.id)
    companies, _regions = _visible_org()
    if companies is not None:
        stmt = stmt.where(Company.id.in_(sorted(companies)))
    if args.get("q"):
        pat = f"%{_like(args['q'])}%"
        stmt = stmt.where(or_(Company.code.like(pat, escape="\\"), Company.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)


@orgs.route("/regions", methods=["GET"])
@requires("core.org.read")
@orgs.arguments(S.CodeNameQuery, location="query")
@orgs.response(200, S.RegionSchema(many=True))
@orgs.paginate()
def list_regions(args, pagination_parameters):
    """Sales regions (a store-limited user sees those of their stores)."""
    stmt = select(Region).order_by(Region.code, Region.id)
    _companies, regions = _visible_org()
    if regions is not None:
        stmt = stmt.where(Region.id.in_(sorted(regions)))
    if args.get("q"):
        pat = f"%{_like(args['q'])}%"
        stmt = stmt.where(or_(Region.code.like(pat, escape="\\"), Region.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)


# --------------------------------------------------------------------------- customers

CUSTOMER_FIELDS = ("kind", "name", "phone", "email", "gender", "birthday", "id_number", "address",
                   "language", "home_store_id", "consent_email", "consent_sms", "consent_wechat", "note")


@customers.route("", methods=["GET"])
@requires("core.customer.read")
@customers.arguments(S.CustomerQuery, location="query")
@customers.response(200, S.CustomerSchema(many=True))
@customers.paginate()
def list_customers(args, pagination_parameters):
    """Customers you may see (newest first). ``q``: name prefix, or an exact phone or email."""
    stmt = select(Customer).order_by(Customer.id.desc())
    for key in ("home_store_id", "active", "kind"):
        if key in args:
            stmt = stmt.where(getattr(Customer, key) == args[key])
    if args.get("phone"):
        stmt = stmt.where(Customer.phone == _normal_phone(args["phone"]))
    if args.get("email"):
        stmt = stmt.where(Customer.email == args["email"].lower())
    if args.get("q"):
        q = args["q"]
        conds = [Customer.name.like(_like(q) + "%", escape="\\")]
        if "@" in q:
            conds.append(Customer.email == q.lower())
        phone = _normal_phone(q, quiet=True)
        if phone:
            conds.append(Customer.phone == phone)
        stmt = stmt.where(or_(*conds))
    return paginate_select(db_session(), stmt, pagination_parameters)


def _normal_phone(raw, quiet=False):
    from core.validation import normalize_phone

    try:
        return normalize_phone(raw, field="phone")
    except BusinessError:
        if quiet:
            return None
        raise


@customers.route("", methods=["POST"])
@requires("core.customer.write")
@customers.arguments(S.CustomerIn)
@customers.response(201, S.CustomerSchema)
def create_customer(data):
    """Create a customer (a store-limited user's customers belong to one of their stores)."""
    s = db_session()
    with transaction(s):
        data["home_store_id"] = require_store_for_scoped(data.get("home_store_id"), "home_store_id")
        ref_visible(Store, data["home_store_id"], "home_store_id")
        customer = Customer(**{k: v for k, v in data.items() if k in CUSTOMER_FIELDS})
        s.add(customer)
        s.flush()
    return customer


@customers.route("/<int:customer_id>", methods=["GET"])
@requires("core.customer.read")
@customers.response(200, S.CustomerSchema)
def get_customer(customer_id):
    """One customer."""
    return get_visible(Customer, customer_id)


@customers.route("/<int:customer_id>", methods=["PATCH"])
@requires("core.customer.write")
@customers.arguments(S.CustomerPatch)
@customers.response(200, S.CustomerSchema)
def update_customer(data, customer_id):
    """Change some fields of a customer (sensitive fields need ``core.customer.view_sensitive``)."""
    s = db_session()
    with transaction(s):
        customer = get_visible(Customer, customer_id)
        touched = [k for k in Customer.__sensitive__ if k in data]
        if touched and not can("core.customer.view_sensitive"):
            raise Forbidden({k: _l("You may not change this field.") for k in touched})
        if "home_store_id" in data:
            if data["home_store_id"] is None and scope_store_ids() is not None:
                raise BusinessError({"home_store_id": _l("Required: you may only see some stores.")})
            ref_visible(Store, data["home_store_id"], "home_store_id")
        for key, value in data.items():
            setattr(customer, key, value)
        s.flush()
    return customer


@customers.route("/<int:customer_id>", methods=["DELETE"])
@requires("core.customer.write")
@customers.response(204)
def deactivate_customer(customer_id):
    """Deactivate a customer (customers are never deleted: sales and ledgers point at them)."""
    s = db_session()
    with transaction(s):
        customer = get_visible(Customer, customer_id)
        customer.active = False
        s.flush()


@customers.route("/<int:customer_id>/duplicates", methods=["GET"])
@requires("core.customer.read")
@customers.response(200, S.CustomerSchema(many=True))
def customer_duplicates(customer_id):
    """Other active customers sharing this one's phone, email, or name and birthday."""
    from core.services.customers import duplicates_of

    return duplicates_of(db_session(), get_visible(Customer, customer_id))


@customers.route("/duplicates", methods=["GET"])
@requires("core.customer.merge")
@customers.response(200, S.DuplicateGroupSchema(many=True))
def duplicate_groups():
    """Groups of likely duplicates among the customers you may see (first 100 groups)."""
    from core.services.customers import find_duplicates

    return [{"reason": label, "customer_ids": ids} for label, ids in find_duplicates(db_session())]


@customers.route("/<int:customer_id>/merge", methods=["POST"])
@requires("core.customer.merge")
@customers.arguments(S.MergeIn)
@customers.response(200, S.CustomerSchema)
def merge_customer(data, customer_id):
    """Merge customer ``removed_id`` into this one; the removed one stays, inactive."""
    from core.services.customers import merge_customers

    s = db_session()
    get_visible(Customer, customer_id)
    if data["removed_id"] != customer_id:
        ref_visible(Customer, data["removed_id"], "removed_id")
    with transaction(s):
        kept = merge_customers(s, customer_id, data["removed_id"], user=request_user())
    return kept


@customers.route("/<int:customer_id>/summary", methods=["GET"])
@requires("core.customer.read")
@customers.response(200, S.PanelSchema(many=True))
def customer_summary(customer_id):
    """The customer page's panels from every installed addon, those you may see."""
    from core.runtime import runtime_of

    s = db_session()
    customer = get_visible(Customer, customer_id)
    found = runtime_of(s).registry.collect_items("customer_summary", session=s, customer=customer,
                                                 user=request_user())  # fills in each panel's addon
    panels = sort_by_priority([[panel for _owner, panel in found]])
    return [{"title": str(p.title), "addon": p.addon, "priority": p.priority,
             "panel_fields": [[str(a), "" if b is None else str(b)] for a, b in p.fields]}
            for p in panels if p.permission is None or can(p.permission)]


# --------------------------------------------------------------------------- products

@products.route("/products", methods=["GET"])
@requires("core.product.read")
@products.arguments(S.ProductQuery, location="query")
@products.response(200, S.ProductSchema(many=True))
@products.paginate()
def list_products(args, pagination_parameters):
    """Products. ``q``: SKU, barcode or name contains."""
    stmt = select(Product).order_by(Product.sku, Product.id)
    for key in ("category_id", "active"):
        if key in args:
            stmt = stmt.where(getattr(Product, key) == args[key])
    if args.get("q"):
        pat = f"%{_like(args['q'])}%"
        stmt = stmt.where(or_(Product.sku.like(pat, escape="\\"), Product.name.like(pat, escape="\\"),
                              Product.barcode == args["q"]))
    return paginate_select(db_session(), stmt, pagination_parameters)


@products.route("/products", methods=["POST"])
@requires("core.product.write")
@products.arguments(S.ProductIn)
@products.response(201, S.ProductSchema)
def create_product(data):
    """Create a product (give it a price with ``POST /price-lists/<id>/items``)."""
    s = db_session()
    with transaction(s):
        unique(Product, "sku", data["sku"])
        unique(Product, "barcode", data.get("barcode"))
        ref_visible(ProductCategory, data.get("category_id"), "category_id")
        product = Product(**data)
        s.add(product)
        s.flush()
    return product


@products.route("/products/<int:product_id>", methods=["GET"])
@requires("core.product.read")
@products.response(200, S.ProductSchema)
def get_product(product_id):
    """One product."""
    return get_visible(Product, product_id)


@products.route("/products/<int:product_id>", methods=["PATCH"])
@requires("core.product.write")
@products.arguments(S.ProductPatch)
@products.response(200, S.ProductSchema)
def update_product(data, product_id):
    """Change some fields of a product."""
    s = db_session()
    with transaction(s):
        product = get_visible(Product, product_id)
        if "sku" in data:
            unique(Product, "sku", data["sku"], product.id)
        if data.get("barcode"):
            unique(Product, "barcode", data["barcode"], product.id)
        if "category_id" in data:
            ref_visible(ProductCategory, data["category_id"], "category_id")
        for key, value in data.items():
            setattr(product, key, value)
        s.flush()
    return product


@products.route("/products/<int:product_id>/price", methods=["GET"])
@requires("core.product.read")
@products.arguments(S.PriceQuery, location="query")
@products.response(200, S.PriceSchema)
def product_price(args, product_id):
    """The unit price at a store at an instant (default now), as the checkout would charge it
    before promotions (addons such as membership may answer for a customer)."""
    from core.runtime import hook_of, runtime_of

    s = db_session()
    product = get_visible(Product, product_id)
    store = ref_visible(Store, args["store_id"], "store_id")
    customer = ref_visible(Customer, args.get("customer_id"), "customer_id")
    at = args.get("at") or utcnow()
    price = hook_of(s).resolve_price(session=s, product=product, store=store, customer=customer, at=at)
    return {"product_id": product.id, "store_id": store.id, "customer_id": customer.id if customer else None,
            "at": at, "price": None if price is None else money(price), "currency": runtime_of(s).currency}


@products.route("/categories", methods=["GET"])
@requires("core.product.read")
@products.arguments(S.CodeNameQuery, location="query")
@products.response(200, S.CategorySchema(many=True))
@products.paginate()
def list_categories(args, pagination_parameters):
    """Product categories."""
    stmt = select(ProductCategory).order_by(ProductCategory.code, ProductCategory.id)
    if args.get("q"):
        pat = f"%{_like(args['q'])}%"
        stmt = stmt.where(or_(ProductCategory.code.like(pat, escape="\\"),
                              ProductCategory.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)


@products.route("/categories", methods=["POST"])
@requires("core.product.write")
@products.arguments(S.CategoryIn)
@products.response(201, S.CategorySchema)
def create_category(data):
    """Create a product category."""
    s = db_session()
    with transaction(s):
        unique(ProductCategory, "code", data["code"])
        ref_visible(ProductCategory, data.get("parent_id"), "parent_id")
        cat = ProductCategory(**data)
        s.add(cat)
        s.flush()
    return cat


@products.route("/price-lists", methods=["GET"])
@requires("core.product.read")
@products.arguments(S.CodeNameQuery, location="query")
@products.response(200, S.PriceListSchema(many=True))
@products.paginate()
def list_price_lists(args, pagination_parameters):
    """Price lists: chain-wide ones and those of the stores you may see."""
    stmt = select(PriceList).order_by(PriceList.code, PriceList.id)
    if args.get("q"):
        pat = f"%{_like(args['q'])}%"
        stmt = stmt.where(or_(PriceList.code.like(pat, escape="\\"), PriceList.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)


@products.route("/price-lists", methods=["POST"])
@requires("core.product.write")
@products.arguments(S.PriceListIn)
@products.response(201, S.PriceListSchema)
def create_price_list(data):
    """Create a price list (no ``store_id``: for the whole chain)."""
    s = db_session()
    with transaction(s):
        unique(PriceList, "code", data["code"])
        ref_visible(Store, data.get("store_id"), "store_id")
        pl = PriceList(**data)
        s.add(pl)
        s.flush()
    return pl


@products.route("/price-lists/<int:price_list_id>/items", methods=["GET"])
@requires("core.product.read")
@products.arguments(S.PriceItemQuery, location="query")
@products.response(200, S.PriceItemSchema(many=True))
@products.paginate()
def list_price_items(args, price_list_id, pagination_parameters):
    """Prices of a list, latest first (scheduled future prices included)."""
    pl = get_visible(PriceList, price_list_id)
    stmt = (select(PriceListItem).where(PriceListItem.price_list_id == pl.id)
            .order_by(PriceListItem.valid_from.desc(), PriceListItem.id.desc()))
    if "product_id" in args:
        stmt = stmt.where(PriceListItem.product_id == args["product_id"])
    return paginate_select(db_session(), stmt, pagination_parameters)


@products.route("/price-lists/<int:price_list_id>/items", methods=["POST"])
@requires("core.product.write")
@products.arguments(S.PriceItemIn)
@products.response(201, S.PriceItemSchema)
def schedule_price(data, price_list_id):
    """Set a product's price in this list from ``valid_from`` (default now): schedules a change."""
    from core.services.pricing import set_price

    s = db_session()
    with transaction(s):
        pl = get_visible(PriceList, price_list_id)
        product = ref_visible(Product, data["product_id"], "product_id")
        item = set_price(s, pl, product, data["price"], data.get("valid_from"))
    return item


# --------------------------------------------------------------------------- employees

@employees.route("", methods=["GET"])
@requires("core.employee.read")
@employees.arguments(S.EmployeeQuery, location="query")
@employees.response(200, S.EmployeeSchema(many=True))
@employees.paginate()
def list_employees(args, pagination_parameters):
    """Employees of the stores you may see."""
    stmt = select(Employee).order_by(Employee.code, Employee.id)
    for key in ("store_id", "role", "active"):
        if key in args:
            stmt = stmt.where(getattr(Employee, key) == args[key])
    if args.get("q"):
        pat = f"%{_like(args['q'])}%"
        stmt = stmt.where(or_(Employee.code.like(pat, escape="\\"), Employee.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)


def _check_employee_refs(data):
    if "store_id" in data:
        ref_visible(Store, data["store_id"], "store_id")
    if data.get("manager_id") is not None:
        ref_visible(Employee, data["manager_id"], "manager_id")


@employees.route("", methods=["POST"])
@requires("core.employee.write")
@employees.arguments(S.EmployeeIn)
@employees.response(201, S.EmployeeSchema)
def create_employee(data):
    """Create an employee."""
    s = db_session()
    with transaction(s):
        data["store_id"] = require_store_for_scoped(data.get("store_id"), "store_id")
        unique(Employee, "code", data["code"])
        _check_employee_refs(data)
        emp = Employee(**data)
        s.add(emp)
        s.flush()
    return emp


@employees.route("/<int:employee_id>", methods=["GET"])
@requires("core.employee.read")
@employees.response(200, S.EmployeeSchema)
def get_employee(employee_id):
    """One employee."""
    return get_visible(Employee, employee_id)


@employees.route("/<int:employee_id>", methods=["PATCH"])
@requires("core.employee.write")
@employees.arguments(S.EmployeePatch)
@employees.response(200, S.EmployeeSchema)
def update_employee(data, employee_id):
    """Change some fields of an employee."""
    s = db_session()
    with transaction(s):
        emp = get_visible(Employee, employee_id)
        if "code" in data:
            unique(Employee, "code", data["code"], emp.id)
        if "store_id" in data and data["store_id"] is None and scope_store_ids() is not None:
            raise BusinessError({"store_id": _l("Required: you may only see some stores.")})
        if data.get("manager_id") == emp.id:
            raise BusinessError({"manager_id": _l("An employee cannot manage themselves.")})
        _check_employee_refs(data)
        for key, value in data.items():
            setattr(emp, key, value)
        s.flush()
    return emp


# --------------------------------------------------------------------------- sales

def _checkout_request(data, key=None):
    from core.services.checkout import CheckoutRequest, LineRequest, PaymentRequest

    return CheckoutRequest(
        store_id=data["store_id"],
        lines=[LineRequest(ln["product_id"], ln["qty"], ln.get("clerk_id")) for ln in data["lines"]],
        payments=[PaymentRequest(p["method"], p.get("amount"), p.get("reference"))
                  for p in data.get("payments") or []],
        customer_id=data.get("customer_id"), cashier_id=data.get("cashier_id"),
        idempotency_key=key, note=data.get("note"), codes=list(data.get("codes") or []),
        customer_ref=data.get("customer_ref"))


def _check_sale_refs(data) -> None:
    """Check the body's employee references (cashier, clerks), which the checkout stores
    without reading. The store, the customer and the products it reads itself, through the
    user's scope, and answers 422 naming the field when one is not visible."""
    ref_visible(Employee, data.get("cashier_id"), "cashier_id")
    for i, ln in enumerate(data["lines"]):
        ref_visible(Employee, ln.get("clerk_id"), f"lines.{i}.clerk_id")


def _sale_or_422(fn):
    """Body references that do not resolve are bad input (422), not a missing resource."""
    try:
        return fn()
    except NotFound as exc:
        raise BusinessError(exc.errors) from None


@sales.route("", methods=["POST"])
@requires("core.sale.create")
@idempotent(replay_status=200)
@sales.arguments(S.SaleIn)
@sales.response(201, S.SaleSchema, description="the sale was recorded")
@sales.alt_response(200, schema=S.SaleSchema, description="replay: the sale already recorded under this Idempotency-Key")
@sales.alt_response(409, description="the Idempotency-Key was used for a different sale")
def create_sale(data):
    """Ring up and confirm a sale. Send an ``Idempotency-Key`` header so a retry never
    records the sale twice: the replay answers 200 with the first answer's body, byte for
    byte (``core.idempotency``). Keys belong to the user who sends them: another cashier's
    sale under the same key is not this one."""
    from core.idempotency import user_key
    from core.services.checkout import checkout, find_replay

    s = db_session()
    key = request_key()
    req = _checkout_request(data, user_key(request_user(), key))
    try:
        with transaction(s):
            _check_sale_refs(data)
            sale = _sale_or_422(lambda: checkout(s, req, user=request_user(), look_for_replay=False))
    except (IntegrityError, BusinessError):
        if not key:
            raise
        # A retry of a recorded sale (or a concurrent request with the same key that won the
        # race) fails on the unique key, or on its own checks when data changed since (say a
        # product was deactivated): it is answered with the recorded sale, or 409 when the
        # key was used for a different sale.
        sale = find_replay(s, req)
        if sale is None:
            raise
        sale.replayed = True
    return sale, (200 if sale.replayed else 201)


@sales.route("/preview", methods=["POST"])
@requires("core.sale.create")
@sales.arguments(S.SaleIn)
@sales.response(200, S.PreviewSchema)
def preview_sale(data):
    """Price a ticket (list prices and every promotion) without saving anything."""
    from core.services.checkout import preview

    s = db_session()
    _check_sale_refs(data)
    try:
        sale = _sale_or_422(lambda: preview(s, _checkout_request(data), user=request_user()))
        index = {id(ln): i for i, ln in enumerate(sale.lines)}
        out = {"store_id": sale.store_id, "customer_id": sale.customer_id, "currency": sale.currency,
               "subtotal": sale.subtotal, "discount_total": sale.discount_total, "total": sale.total,
               "lines": [{"product_id": ln.product_id, "qty": ln.qty, "unit_price": ln.unit_price,
                          "discount": ln.discount, "total": ln.total, "clerk_id": ln.clerk_id}
                         for ln in sale.lines],
               "adjustments": [{"line_index": index.get(id(a.line)) if a.line is not None else None,
                                "amount": a.amount, "rule_code": a.rule_code, "label": a.label}
                               for a in sale.adjustments]}
    finally:
        s.rollback()
    return out


@sales.route("", methods=["GET"])
@requires("core.sale.read")
@sales.arguments(S.SaleQuery, location="query")
@sales.response(200, S.SaleSummarySchema(many=True))
@sales.paginate()
def list_sales(args, pagination_parameters):
    """Sales and refunds of the stores you may see, newest first."""
    stmt = select(Sale).order_by(Sale.id.desc())
    for key in ("store_id", "customer_id", "kind", "state"):
        if key in args:
            stmt = stmt.where(getattr(Sale, key) == args[key])
    if "date_from" in args:
        stmt = stmt.where(Sale.business_date >= args["date_from"])
    if "date_to" in args:
        stmt = stmt.where(Sale.business_date <= args["date_to"])
    return paginate_select(db_session(), stmt, pagination_parameters)


@sales.route("/<int:sale_id>", methods=["GET"])
@requires("core.sale.read")
@sales.response(200, S.SaleSchema)
def get_sale(sale_id):
    """One sale or refund with its lines, adjustments and payments."""
    if not 0 < sale_id <= S.MAX_ID:
        raise NotFound({"id": _l("Not found.")})
    sale = db_session().execute(
        select(Sale).where(Sale.id == sale_id)
        .options(selectinload(Sale.lines), selectinload(Sale.adjustments), selectinload(Sale.payments))).scalar()
    if sale is None:
        raise NotFound({"id": _l("Not found.")})
    return sale


@sales.route("/<int:sale_id>/refund", methods=["POST"])
@requires("core.sale.refund")
@idempotent()
@sales.arguments(S.RefundIn)
@sales.response(201, S.SaleSchema, description="refunded: the refund document")
@sales.alt_response(202, schema=S.PendingApprovalSchema,
                    description="the sale's refunds pass the approval threshold: an approval request waits")
@sales.alt_response(409, description="a refund of this sale is already waiting for approval")
def refund_sale(data, sale_id):
    """Refund some lines (or everything left) of a sale. Above the refund approval threshold
    (counting the sale's earlier refunds) nothing is paid yet: the answer is 202 with the
    approval request, which refunds exactly these lines once approved. With an
    ``Idempotency-Key`` a retry answers the first answer and refunds nothing more."""
    from core.approvals import refund_or_request
    from core.services.refund import RefundLineRequest

    s = db_session()
    get_visible(Sale, sale_id)
    lines = None
    if data.get("lines"):
        lines = [RefundLineRequest(ln["line_id"], ln["qty"]) for ln in data["lines"]]
    with transaction(s):
        kind, doc = refund_or_request(s, sale_id, request_user(), reason=data.get("reason"), lines=lines)
    if kind == "pending":
        resp = jsonify(S.PendingApprovalSchema().dump(doc))
        resp.status_code = 202
        return resp
    return doc


# --------------------------------------------------------------------------- tokens / me

def _may_manage_tokens_of(target: User | None) -> bool:
    from core.security.tokens import may_manage_tokens_of

    return may_manage_tokens_of(request_user(), target, can("core.user.admin"))


@account.route("/tokens", methods=["GET"])
@requires("core.token.own")
@account.arguments(S.TokenQuery, location="query")
@account.response(200, S.TokenSchema(many=True))
@account.paginate()
def list_tokens(args, pagination_parameters):
    """API tokens (yours by default; only their prefixes, never the tokens)."""
    user_id = args.get("user_id", request_user().id)
    stmt = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    if not args.get("include_revoked"):
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    target = db_session().get(User, user_id)
    if target is None or not _may_manage_tokens_of(target):
        raise NotFound({"user_id": _l("Not found.")})
    return paginate_select(db_session(), stmt, pagination_parameters)


@account.route("/tokens", methods=["POST"])
@requires("core.token.own")
@account.arguments(S.TokenIn)
@account.response(201, S.NewTokenSchema)
def create_api_token(data):
    """Create an API token; the response carries the token itself, shown this once."""
    from core.security.tokens import create_token

    s = db_session()
    target = s.get(User, data.get("user_id", request_user().id))
    if target is None or not target.active:
        raise BusinessError({"user_id": _l("No such user.")})
    if not _may_manage_tokens_of(target):
        raise Forbidden({"user_id": _l("You may not make tokens for this user.")})
    with transaction(s):
        plain, token = create_token(s, target, data["name"])
    token.token = plain  # shown this once; only its hash is stored
    return token


@account.route("/tokens/<int:token_id>", methods=["DELETE"])
@requires("core.token.own")
@account.response(204)
def revoke_api_token(token_id):
    """Revoke a token: it authenticates nobody from now on."""
    from core.security.tokens import revoke

    s = db_session()
    token = s.get(ApiToken, token_id) if 0 < token_id <= S.MAX_ID else None
    if token is None or not _may_manage_tokens_of(s.get(User, token.user_id)):
        raise NotFound({"id": _l("Not found.")})
    with transaction(s):
        revoke(s, token.id)


@account.route("/me", methods=["GET"])
@requires(AUTHENTICATED)
@account.response(200, S.MeSchema)
def me():
    """Who you are: your scope, roles and permissions."""
    from core.runtime import runtime_of
    from core.security.permissions import user_permissions

    s = db_session()
    user = s.get(User, request_user().id)
    ids = scope_store_ids()
    perms = (sorted(runtime_of(s).registry.permissions()) if user.is_superuser
             else sorted(user_permissions(s, user)))
    return {"id": user.id, "username": user.username, "locale": user.locale, "is_superuser": user.is_superuser,
            "scope_kind": user.scope_kind, "scope_ref_id": user.scope_ref_id,
            "store_ids": None if ids is None else sorted(ids), "roles": sorted(r.code for r in user.roles),
            "permissions": perms}
