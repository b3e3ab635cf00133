"""The kernel's importers: customers, products, price-list items and employees.

Customers and products are written in chunks (``load_batch``: one ``INSERT`` of many rows,
duplicates looked up in SQL once per chunk), so a file of 100,000 customers imports in a
few seconds (``bench/import_bench.py``). Each row is still checked in Python by the rules
the API and the back office apply: the model's column lengths and value lists, the
kernel's phone, e-mail and code normalisers, and the write check of every flush
(``core.security.scope.check_rows`` through ``core.imports.insert_rows``: a store-limited
user imports only into their stores, chain-wide products need ``core.chain.write``).
Price-list items and employees go through the same services and model objects as a
single create (``load_row``), so the flush checks them.
"""
from __future__ import annotations

from sqlalchemy import insert, select

from core.contrib import Importer, ImportColumn
from core.db import money
from core.errors import BusinessError, Conflict
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.imports import check_length, insert_rows, one_of
from core.mixins import utcnow
from core.models import Customer
from core.models.customer import CUSTOMER_KINDS
from core.validation import past_date

UNSCOPED = {"banyan_unscoped": True}


def _audit_batch(ctx, table: str, ids: list[int]) -> None:
    """One audit-log row per written chunk: who imported which records (the ORM's per-row
    audit is bypassed by the batched insert, so the trail is written here)."""
    from core.models import AuditLog

    if not ids:
        return
    ctx.session.execute(insert(AuditLog.__table__), [{
        "user_id": getattr(ctx.user, "id", None), "model": table, "record_id": f"{ids[0]}..{ids[-1]}"[:80],
        "action": "import", "changes": {"ids": ids}, "at": utcnow()}])


def _as_text_list(values: list) -> str | None:
    """``values`` as one string, one per line, when they are non-empty texts without a line
    break; else None."""
    try:
        joined = "\n".join(values)
    except TypeError:
        return None
    return joined if "" not in values and joined.count("\n") == len(values) - 1 else None


_LOOKUPS: dict = {}


def _lookup(kinds: tuple):
    """The duplicate lookup for ``kinds`` ``((index, column, as_text), ...)``: a ``UNION
    ALL`` of ``SELECT index, column WHERE column = ANY(parameter v<index>)``, built once
    (the values are parameters). PostgreSQL: texts go as ONE string split on the server
    (``string_to_array``): psycopg builds an array parameter element by element in Python
    and the server parses it, several times the cost; other values go as an array.
    ``as_text`` None: not PostgreSQL, an expanding ``IN``."""
    stmt = _LOOKUPS.get(kinds)
    if stmt is not None:
        return stmt
    from sqlalchemy import String, any_, bindparam, func, literal, union_all
    from sqlalchemy.dialects.postgresql import ARRAY

    parts = []
    for i, col, as_text in kinds:
        if as_text is None:
            cond = col.in_(bindparam(f"v{i}", expanding=True))
        elif as_text:
            cond = col == any_(func.string_to_array(bindparam(f"v{i}", type_=String), "\n", type_=ARRAY(String)))
        else:
            cond = col == any_(bindparam(f"v{i}", type_=ARRAY(col.type)))
        parts.append(select(literal(i).label("k"), col.label("v")).where(cond))
    stmt = _LOOKUPS[kinds] = parts[0] if len(parts) == 1 else union_all(*parts)
    return stmt


def _existing(ctx, columns: dict) -> dict:
    """Which of the given values each column already holds, across every store (unscoped):
    ``{column: values}`` -> ``{column: set of those found}``, in ONE statement (one per kind
    of column type: texts, numbers): a ``UNION ALL`` of one lookup per column, each
    answered by that column's own index.

    PostgreSQL: the planner is told not to scan the table (``enable_seqscan`` off for this
    statement only). The rows this run has written are in no statistics: a table emptied
    or new before the import looks tiny, the planner scans it, and once psycopg prepares
    the statement (after five runs) the generic plan compares every row with every value
    of the chunk, or splits the value list again for every row: measured at seconds a
    chunk (90 s instead of 9 for 100,000 customers) when the plan tipped that way. A
    lookup of at most :data:`core.imports.CHUNK` values by an indexed column is an index
    scan whatever the table's size."""
    conn = ctx.session.connection()
    pg = conn.dialect.name == "postgresql"
    kinds, params = [], {}
    for i, (col, values) in enumerate(columns.items()):
        vals = list({v for v in values if v is not None})
        if not vals:
            continue
        text = _as_text_list(vals) if pg else None
        kinds.append((i, col, None if not pg else text is not None))
        params[f"v{i}"] = text if text is not None else vals
    found = {col: set() for col in columns}
    if not kinds:
        return found
    # one UNION per kind of column type (a UNION's columns share one type): one statement
    # for the usual case, texts
    groups: dict = {}
    for kind in kinds:
        groups.setdefault(kind[1].type._type_affinity, []).append(kind)
    cols = list(columns)
    if pg:
        prev = conn.exec_driver_sql("SELECT current_setting('enable_seqscan'), "
                                    "set_config('enable_seqscan', 'off', true)").scalar()
    for group in groups.values():
        # a Core statement on the session's connection: no ORM events (the scope's criteria
        # would not apply anyway: the uniqueness is the chain's), no ORM result processing
        # (an error aborts the transaction, and with it the setting)
        for k, value in conn.execute(_lookup(tuple(group)), {f"v{i}": params[f"v{i}"] for i, _c, _t in group}):
            found[cols[k]].add(value)
    if pg:
        conn.exec_driver_sql("SELECT set_config('enable_seqscan', %(v)s, true)", {"v": prev})
    return found


# ---------------------------------------------------------------------------------------
# customers
# ---------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = (
    ImportColumn("name", _l("Name"), required=True, help=_l("Full name of the person or company.")),
    ImportColumn("phone", _l("Phone"), type="phone",
                 help=_l("Mobile number; +86 is assumed. Must not belong to another customer.")),
    ImportColumn("email", _l("Email"), type="email", help=_l("Must not belong to another customer.")),
    ImportColumn("kind", _l("Kind"), help=_l("person (default) or company.")),
    ImportColumn("gender", _l("Gender"), help=_l("M or F.")),
    ImportColumn("birthday", _l("Birthday"), type="date", help=_l("YYYY-MM-DD.")),
    ImportColumn("id_number", _l("ID number")),
    ImportColumn("address", _l("Address")),
    ImportColumn("language", _l("Language"), help=_l("zh_Hans or en.")),
    ImportColumn("home_store", _l("Home store"), type="code",
                 help=_l("Store code. Users limited to some stores must give one of theirs.")),
    ImportColumn("consent_email", _l("Email consent"), type="bool", help=_l("yes or no (1 or 0).")),
    ImportColumn("consent_sms", _l("SMS consent"), type="bool", help=_l("yes or no (1 or 0).")),
    ImportColumn("consent_wechat", _l("WeChat consent"), type="bool", help=_l("yes or no (1 or 0).")),
    ImportColumn("note", _l("Note")),
)


def parse_customer(ctx, v: dict) -> dict:
    """A row as the values of a new ``core_customer`` row (the API's and the model's rules)."""
    check_length(v, Customer, "name", "id_number", "address", "language")
    note = v.get("note")
    if note and len(note) > 4000:
        raise BusinessError({"note": _("At most %(n)s characters.", n=4000)})
    kind = one_of(v, "kind", CUSTOMER_KINDS, "person")
    past_date(v.get("birthday"), "birthday")  # the model's rule (rows are inserted in bulk)
    gender = one_of(v, "gender", ("M", "F"))
    store = ctx.require_store(ctx.store_by_code(v.get("home_store"), "home_store"), "home_store")
    return {"kind": kind, "name": v["name"], "phone": v.get("phone"), "email": v.get("email"), "gender": gender,
            "birthday": v.get("birthday"), "id_number": v.get("id_number"), "address": v.get("address"),
            "language": v.get("language"), "home_store_id": store.id if store is not None else None,
            "consent_email": bool(v.get("consent_email")), "consent_sms": bool(v.get("consent_sms")),
            "consent_wechat": bool(v.get("consent_wechat")), "note": v.get("note"), "active": True}


def load_customers(ctx, rows: list[tuple[int, dict]]) -> dict:
    """Write a chunk of customers; refuse those whose phone or e-mail an active customer
    already has (the duplicate rule of ``core.services.customers``)."""
    found = _existing(ctx, {Customer.phone: [v["phone"] for _n, v in rows],
                            Customer.email: [v["email"] for _n, v in rows]})
    phones, emails = found[Customer.phone], found[Customer.email]
    refused, good = {}, []
    for number, v in rows:
        errs = {}
        if v["phone"] is not None and v["phone"] in phones:
            errs["phone"] = _l("A customer with this phone number exists already.")
        if v["email"] is not None and v["email"] in emails:
            errs["email"] = _l("A customer with this email address exists already.")
        if errs:
            refused[number] = errs
        else:
            good.append((number, v))
    if good:
        now = utcnow()
        for _n, v in good:
            v["created_at"] = v["updated_at"] = now
        ids, out_of_scope = insert_rows(ctx, Customer.__table__, good)
        refused.update(out_of_scope)
        _audit_batch(ctx, "core_customer", ids)
    return refused


# ---------------------------------------------------------------------------------------
# products
# ---------------------------------------------------------------------------------------

PRODUCT_COLUMNS = (
    ImportColumn("sku", _l("SKU"), required=True, type="code", help=_l("Unique product code.")),
    ImportColumn("name", _l("Name"), required=True),
    ImportColumn("barcode", _l("Barcode"), help=_l("Digits only; unique.")),
    ImportColumn("unit", _l("Unit"), help=_l("pcs (default), kg...")),
    ImportColumn("category", _l("Category"), type="code", help=_l("Category code.")),
    ImportColumn("cost", _l("Cost"), type="money", help=_l("Unit cost, at most two decimals.")),
    ImportColumn("active", _l("Active"), type="bool", help=_l("yes (default) or no.")),
)


def parse_product(ctx, v: dict) -> dict:
    from core.codes import normalize_code
    from core.models import Product, ProductCategory

    check_length(v, Product, "sku", "name", "unit")
    barcode = normalize_code(v.get("barcode"), kind="barcode", strict=True, field="barcode")
    if barcode is not None and len(barcode) > 40:
        raise BusinessError({"barcode": _("At most %(n)s characters.", n=40)})
    cost = v.get("cost")
    if cost is not None and cost < 0:
        raise BusinessError({"cost": _l("Must not be negative.")})
    cat = ctx.by_code(ProductCategory, v.get("category"), "category")
    return {"sku": v["sku"], "name": v["name"], "barcode": barcode, "unit": v.get("unit") or "pcs",
            "category_id": cat.id if cat is not None else None, "cost": cost if cost is not None else 0,
            "active": True if v.get("active") is None else v["active"]}


def load_products(ctx, rows):
    from core.models import Product

    found = _existing(ctx, {Product.sku: [v["sku"] for _n, v in rows],
                            Product.barcode: [v["barcode"] for _n, v in rows]})
    skus, barcodes = found[Product.sku], found[Product.barcode]
    refused, good = {}, []
    for number, v in rows:
        errs = {}
        if v["sku"] in skus:
            errs["sku"] = _l("Already in use.")
        if v["barcode"] is not None and v["barcode"] in barcodes:
            errs["barcode"] = _l("Already in use.")
        if errs:
            refused[number] = errs
        else:
            good.append((number, v))
    if good:
        now = utcnow()
        for _n, v in good:
            v["created_at"] = v["updated_at"] = now
            v["cost"] = money(v["cost"])
        ids, out_of_scope = insert_rows(ctx, Product.__table__, good)
        refused.update(out_of_scope)
        _audit_batch(ctx, "core_product", ids)
    return refused


# ---------------------------------------------------------------------------------------
# price-list items
# ---------------------------------------------------------------------------------------

PRICE_COLUMNS = (
    ImportColumn("price_list", _l("Price list"), required=True, type="code", help=_l("Price list code.")),
    ImportColumn("sku", _l("SKU"), required=True, type="code"),
    ImportColumn("price", _l("Price"), required=True, type="money", help=_l("At most two decimals.")),
    ImportColumn("valid_from", _l("Valid from"), type="date",
                 help=_l("YYYY-MM-DD, from the start of that local day; blank: now.")),
)


def parse_price(ctx, v: dict) -> dict:
    from core.localtime import local_midnight, to_utc
    from core.models import PriceList, Product

    if v["price"] < 0:
        raise BusinessError({"price": _l("A price cannot be negative.")})
    pl = ctx.by_code(PriceList, v["price_list"], "price_list", required=True)
    product = ctx.by_code(Product, v["sku"], "sku", required=True, attr="sku")
    valid_from = to_utc(local_midnight(v["valid_from"])) if v.get("valid_from") else None
    return {"price_list": pl, "product": product, "price": v["price"], "valid_from": valid_from}


def load_price(ctx, v: dict) -> None:
    from core.services.pricing import set_price

    set_price(ctx.session, v["price_list"], v["product"], v["price"], v["valid_from"])


# ---------------------------------------------------------------------------------------
# employees
# ---------------------------------------------------------------------------------------

EMPLOYEE_COLUMNS = (
    ImportColumn("code", _l("Code"), required=True, type="code", help=_l("Unique employee code.")),
    ImportColumn("name", _l("Name"), required=True),
    ImportColumn("store", _l("Store"), type="code", help=_l("Store code; blank for head office.")),
    ImportColumn("role", _l("Role"), help=_l("manager, clerk (default), cashier, technician, agent, marketer, staff.")),
    ImportColumn("manager", _l("Manager"), type="code", help=_l("Code of the employee's manager.")),
    ImportColumn("phone", _l("Phone"), type="phone"),
    ImportColumn("active", _l("Active"), type="bool", help=_l("yes (default) or no.")),
)


def parse_employee(ctx, v: dict) -> dict:
    from core.models import Employee
    from core.models.employee import EMPLOYEE_ROLES

    check_length(v, Employee, "code", "name")
    role = one_of(v, "role", EMPLOYEE_ROLES, "clerk")
    store = ctx.require_store(ctx.store_by_code(v.get("store"), "store"), "store")
    if v.get("manager") is not None and v["manager"] == v["code"]:
        raise BusinessError({"manager": _l("An employee cannot manage themselves.")})
    return {"code": v["code"], "name": v["name"], "store_id": store.id if store is not None else None,
            "role": role, "manager": v.get("manager"), "phone": v.get("phone"),
            "active": True if v.get("active") is None else v["active"]}


def load_employee(ctx, v: dict) -> None:
    """As ``POST /api/v1/employees``: a unique code, a visible manager (an earlier row of the
    same file counts)."""
    from core.models import Employee

    s = ctx.session
    if s.execute(select(Employee.id).where(Employee.code == v["code"]).execution_options(**UNSCOPED)).first():
        raise Conflict({"code": _l("Already in use.")})
    manager_id = None
    if v["manager"] is not None:
        manager_id = s.execute(select(Employee.id).where(Employee.code == v["manager"])).scalar()
        if manager_id is None:
            raise BusinessError({"manager": _l("No such record.")})
    s.add(Employee(code=v["code"], name=v["name"], store_id=v["store_id"], role=v["role"], manager_id=manager_id,
                   phone=v["phone"], active=v["active"]))
    s.flush()


IMPORTERS = (
    Importer("customers", _l("Customers"), CUSTOMER_COLUMNS, "core.customer.write", parse_customer,
             load_batch=load_customers, unique=("phone", "email"), priority=10),
    Importer("products", _l("Products"), PRODUCT_COLUMNS, "core.product.write", parse_product,
             load_batch=load_products, unique=("sku", "barcode"), priority=20),
    Importer("price_list_items", _l("Price-list prices"), PRICE_COLUMNS, "core.product.write", parse_price,
             load_row=load_price, priority=30),
    Importer("employees", _l("Employees"), EMPLOYEE_COLUMNS, "core.employee.write", parse_employee,
             load_row=load_employee, unique=("code",), priority=40),
)
