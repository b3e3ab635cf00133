"""Products, categories, price lists and prices (``/api/v1/products``, ``/categories``,
``/price-lists``). The catalogue is chain-wide; a price list may belong to a store."""
from __future__ import annotations

from sqlalchemy import or_, select

from core.api import Blueprint, paginate_select, requires
from core.api import schemas as S
from core.api.resources.common import like, unique
from core.api.visible import get_visible, ref_visible
from core.db import money, transaction
from core.mixins import utcnow
from core.models import Customer, PriceList, PriceListItem, Product, ProductCategory, Store
from core.web import db_session

products = Blueprint("core_products", __name__, url_prefix="", description="Products, categories and prices")


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
        pat = f"%{like(args['q'])}%"
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
        pat = f"%{like(args['q'])}%"
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
        pat = f"%{like(args['q'])}%"
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
