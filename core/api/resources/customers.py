"""Customers (``/api/v1/customers``): list, create, change, deactivate, duplicates, merge and
the customer page's panels, within the user's record scope (a customer's home store)."""
from __future__ import annotations

from sqlalchemy import or_, select

from core.api import Blueprint, can, paginate_select, request_user, requires
from core.api import schemas as S
from core.api.resources.common import like, normal_phone
from core.api.visible import get_visible, ref_visible, require_store_for_scoped, scope_store_ids
from core.contrib import sort_by_priority
from core.db import transaction
from core.errors import BusinessError, Forbidden
from core.i18n import lazy_gettext as _l
from core.models import Customer, Store
from core.web import db_session

customers = Blueprint("core_customers", __name__, url_prefix="/customers", description="Customers")


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
        stmt = stmt.where(Customer.phone == normal_phone(args["phone"]))
    if args.get("email"):
        stmt = stmt.where(Customer.email == args["email"].lower())
    if args.get("q"):
        q = args["q"]
        conds = [Customer.name.like(like(q) + "%", escape="\\")]
        if "@" in q:
            conds.append(Customer.email == q.lower())
        phone = normal_phone(q, quiet=True)
        if phone:
            conds.append(Customer.phone == phone)
        stmt = stmt.where(or_(*conds))
    return paginate_select(db_session(), stmt, pagination_parameters)


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
