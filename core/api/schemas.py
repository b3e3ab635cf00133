"""Marshmallow schemas of the kernel's API (input schemas refuse unknown fields). The input
fields they are built from are public in :mod:`core.api.fields` (re-exported here for code
that imported them from this module)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_dump, validate, validates_schema

from core.api.fields import (DECIMAL_DOC, MAX_ID, DecimalIn, Id, Input, Instant, Money, MoneyIn,  # noqa: F401
                             NaiveUTC, QId, Qty, Query, RuleDecimal, RuleInteger, SafeDate, Str, from_column)  # noqa: F401
from core.api.fields import Coded, Label
from core.errors import coded
from core.labels import SALE_NOTE
from core.i18n import lazy_gettext as _l
from core.models.customer import CUSTOMER_KINDS
from core.models.employee import EMPLOYEE_ROLES, SCOPE_KINDS
from core.models.org import STORE_FORMATS, STORE_KINDS
from core.models.product import PriceListItem, Product
from core.models.sale import SALE_KINDS, SALE_STATES


# --------------------------------------------------------------------------- org

class CompanySchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    parent_id = fields.Integer(allow_none=True)
    tax_id = fields.String(allow_none=True)
    active = fields.Boolean()


class RegionSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    company_id = fields.Integer()
    parent_id = fields.Integer(allow_none=True)


class StoreSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    region_id = fields.Integer()
    kind = fields.String()
    format = fields.String()
    operating_company_id = fields.Integer()
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    opened_on = fields.Date(allow_none=True)
    active = fields.Boolean()


class StoreQuery(Query):
    kind = Str(validate=validate.OneOf(STORE_KINDS))
    format = Str(validate=validate.OneOf(STORE_FORMATS))
    region_id = QId()
    operating_company_id = QId()
    active = fields.Boolean()
    q = Str(max=120, metadata={"description": "code or name contains"})


class CodeNameQuery(Query):
    q = Str(max=120, metadata={"description": "code or name contains"})


# --------------------------------------------------------------------------- customers

def mask(value: str | None, kind: str = "phone") -> str | None:
    """Hide the middle of a sensitive value: phone ``+8613800138000`` -> ``+86138****8000``,
    ID number -> first 3 and last 4 characters, address -> its first 3 characters only."""
    if not value:
        return value
    if kind == "address":
        return value[:3] + "****"
    prefix = ""
    if kind == "phone" and value.startswith("+86"):
        prefix, value = "+86", value[3:]
    if len(value) <= 7:
        return prefix + value[:1] + "*" * max(len(value) - 1, 3)
    return prefix + value[:3] + "****" + value[-4:]


class CustomerSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    gender = fields.String(allow_none=True)
    birthday = fields.Date(allow_none=True)
    id_number = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    home_store_id = fields.Integer(allow_none=True)
    consent_email = fields.Boolean()
    consent_sms = fields.Boolean()
    consent_wechat = fields.Boolean()
    note = fields.String(allow_none=True)
    active = fields.Boolean()
    merged_into_id = fields.Integer(allow_none=True)
    created_at = Instant()
    updated_at = Instant()
    sensitive_masked = fields.Boolean(dump_only=True,
                                      metadata={"description": "phone, id_number and address are masked"})

    @post_dump
    def _mask(self, data, **kw):
        from core.api import can
        from core.models import Customer

        masked = not can("core.customer.view_sensitive")
        if masked:
            for name in Customer.__sensitive__:
                if name in data:
                    data[name] = mask(data[name], name)
        data["sensitive_masked"] = masked
        return data


class CustomerIn(Input):
    kind = Str(validate=validate.OneOf(CUSTOMER_KINDS))
    name = Str(required=True, min=1, max=120)
    phone = Str(max=20, allow_none=True)
    email = Str(max=254, allow_none=True)
    gender = Str(validate=validate.OneOf(("M", "F")), allow_none=True)
    birthday = SafeDate(allow_none=True)
    id_number = Str(max=32, allow_none=True)
    address = Str(max=255, allow_none=True)
    language = Str(max=10, allow_none=True)
    home_store_id = Id(allow_none=True)
    consent_email = fields.Boolean()
    consent_sms = fields.Boolean()
    consent_wechat = fields.Boolean()
    note = Str(max=4000, allow_none=True)


class CustomerPatch(CustomerIn):
    name = Str(min=1, max=120)
    active = fields.Boolean()


class CustomerQuery(Query):
    q = Str(max=120, metadata={"description": "name starts with, or exact phone / email"})
    phone = Str(max=20)
    email = Str(max=254)
    home_store_id = QId()
    active = fields.Boolean()
    kind = Str(validate=validate.OneOf(CUSTOMER_KINDS))


class MergeIn(Input):
    removed_id = Id(required=True, metadata={"description": "the duplicate merged into this customer"})


class PanelSchema(Schema):
    title = fields.String()
    addon = fields.String()
    priority = fields.Integer()
    panel_fields = fields.List(fields.List(fields.String()), data_key="fields",
                               metadata={"description": "[label, value] pairs"})


class DuplicateGroupSchema(Schema):
    reason = fields.String()
    customer_ids = fields.List(fields.Integer())


# --------------------------------------------------------------------------- products

class CategorySchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    parent_id = fields.Integer(allow_none=True)


class CategoryIn(Input):
    code = Str(required=True, min=1, max=32)
    name = Str(required=True, min=1, max=120)
    parent_id = Id(allow_none=True)


class ProductSchema(Schema):
    id = fields.Integer()
    sku = fields.String()
    barcode = fields.String(allow_none=True)
    name = fields.String()
    unit = fields.String()
    category_id = fields.Integer(allow_none=True)
    cost = Money()
    sold_by_weight = fields.Boolean()
    active = fields.Boolean()


class ProductIn(Input):
    sku = Str(required=True, min=1, max=40)
    barcode = Str(max=40, allow_none=True)
    name = Str(required=True, min=1, max=160)
    unit = Str(min=1, max=16)
    category_id = Id(allow_none=True)
    cost = from_column(Product.cost)
    sold_by_weight = fields.Boolean(metadata={"description": "sold by weight (3 decimals) or by the piece"})
    active = fields.Boolean()


class ProductPatch(ProductIn):
    sku = Str(min=1, max=40)
    name = Str(min=1, max=160)


class ProductQuery(Query):
    q = Str(max=160, metadata={"description": "sku, barcode or name contains"})
    category_id = QId()
    active = fields.Boolean()


class PriceQuery(Query):
    store_id = QId(required=True)
    at = Instant(metadata={"description": "instant (default now)"})
    customer_id = QId()


class PriceSchema(Schema):
    product_id = fields.Integer()
    store_id = fields.Integer()
    customer_id = fields.Integer(allow_none=True)
    at = Instant()
    price = Money(allow_none=True)
    currency = fields.String()


class PriceListSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    store_id = fields.Integer(allow_none=True)
    currency = fields.String()


class RegisteredChoice(validate.OneOf):
    """``OneOf`` whose choices are read when used, from the app's registry: ``source(registry)``
    returns them (e.g. ``core.services.pricing.price_list_kinds``). Validation and the
    OpenAPI ``enum`` both see the kinds the installed addons declare. Needs an app context."""

    def __init__(self, source, *, error: str | None = None):  # no OneOf.__init__: it reads choices
        self._source = source
        self.labels = []
        self.labels_text = ""
        self.error = error or self.default_message

    @property
    def choices(self):
        from core.web import runtime

        return tuple(self._source(runtime().registry))

    @property
    def choices_text(self):
        return ", ".join(str(c) for c in self.choices)


def _price_list_kinds(registry):
    from core.services.pricing import price_list_kinds

    return price_list_kinds(registry)


class PriceListIn(Input):
    code = Str(required=True, min=1, max=32)
    name = Str(required=True, min=1, max=120)
    kind = Str(validate=RegisteredChoice(_price_list_kinds))  # register_price_list_kinds

    store_id = Id(allow_none=True)
    currency = Str(validate=validate.Regexp(r"^[A-Z]{3}$"))


class PriceItemSchema(Schema):
    id = fields.Integer()
    price_list_id = fields.Integer()
    product_id = fields.Integer()
    price = Money()
    valid_from = Instant()
    valid_to = Instant(allow_none=True)


class PriceItemIn(Input):
    product_id = Id(required=True)
    price = from_column(PriceListItem.price, required=True)
    valid_from = Instant(metadata={"description": "when the price takes effect (default now)"})


class PriceItemQuery(Query):
    product_id = QId()


# --------------------------------------------------------------------------- employees

class EmployeeSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    store_id = fields.Integer(allow_none=True)
    role = fields.String()
    manager_id = fields.Integer(allow_none=True)
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    active = fields.Boolean()


class EmployeeIn(Input):
    code = Str(required=True, min=1, max=32)
    name = Str(required=True, min=1, max=120)
    store_id = Id(allow_none=True)
    role = Str(validate=validate.OneOf(EMPLOYEE_ROLES))
    manager_id = Id(allow_none=True)
    phone = Str(max=20, allow_none=True)
    email = Str(max=254, allow_none=True)
    active = fields.Boolean()


class EmployeePatch(EmployeeIn):
    code = Str(min=1, max=32)
    name = Str(min=1, max=120)


class EmployeeQuery(Query):
    store_id = QId()
    role = Str(validate=validate.OneOf(EMPLOYEE_ROLES))
    active = fields.Boolean()
    q = Str(max=120)


# --------------------------------------------------------------------------- sales

class SaleLineSchema(Schema):
    id = fields.Integer(allow_none=True)
    product_id = fields.Integer()
    qty = fields.Decimal(as_string=True, metadata={"type": "string"})
    unit_price = Money()
    discount = Money()
    total = Money()
    clerk_id = fields.Integer(allow_none=True)
    origin_line_id = fields.Integer(allow_none=True)
    refunded_qty = fields.Decimal(as_string=True, allow_none=True, metadata={"type": "string"})


class SaleAdjustmentSchema(Schema):
    line_id = fields.Integer(allow_none=True)
    amount = Money()
    rule_code = fields.String()
    label = fields.String(metadata={"description": "the label as written at the sale: data (a promotion's "
                                                   "name) as typed, a sentence in the language of the user "
                                                   "who made the sale"})
    label_text = fields.String(metadata={"description": "the label in your language (`Accept-Language`): "
                                                        "show this one"})


class AdjustmentPreviewSchema(Schema):
    line_index = fields.Integer(allow_none=True)
    amount = Money()
    rule_code = fields.String()
    label = fields.String()


class SalePaymentSchema(Schema):
    id = fields.Integer()
    method = fields.String()
    amount = Money()
    reference = fields.String(allow_none=True)
    origin_payment_id = fields.Integer(allow_none=True)


class SaleSchema(Schema):
    id = fields.Integer()
    number = fields.String(allow_none=True)
    kind = fields.String()
    state = fields.String()
    store_id = fields.Integer()
    customer_id = fields.Integer(allow_none=True)
    cashier_id = fields.Integer(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    origin_id = fields.Integer(allow_none=True)
    currency = fields.String()
    subtotal = Money()
    discount_total = Money()
    total = Money()
    confirmed_at = Instant(allow_none=True)
    business_date = fields.Date(allow_none=True)
    note = fields.String(allow_none=True, metadata={"description": "what a person wrote (a refund's reason)"})
    note_code = Coded(SALE_NOTE, allow_none=True, metadata={"description": "what the kernel noted (a code)"})
    note_args = fields.Dict(allow_none=True, metadata={"description": "the figures of `note_code`"})
    note_label = Label(SALE_NOTE, of="note_code", args="note_args")
    lines = fields.List(fields.Nested(SaleLineSchema))
    adjustments = fields.List(fields.Nested(SaleAdjustmentSchema))
    payments = fields.List(fields.Nested(SalePaymentSchema))


class SaleSummarySchema(Schema):
    id = fields.Integer()
    number = fields.String(allow_none=True)
    kind = fields.String()
    state = fields.String()
    store_id = fields.Integer()
    customer_id = fields.Integer(allow_none=True)
    origin_id = fields.Integer(allow_none=True)
    total = Money()
    confirmed_at = Instant(allow_none=True)
    business_date = fields.Date(allow_none=True)


class PreviewSchema(Schema):
    store_id = fields.Integer()
    customer_id = fields.Integer(allow_none=True)
    currency = fields.String()
    subtotal = Money()
    discount_total = Money()
    total = Money()
    lines = fields.List(fields.Nested(SaleLineSchema))
    adjustments = fields.List(fields.Nested(AdjustmentPreviewSchema))


class LineIn(Input):
    product_id = Id(required=True)
    qty = Qty(required=True)
    clerk_id = Id(allow_none=True)


class PaymentIn(Input):
    method = Str(required=True, min=1, max=40)
    amount = MoneyIn(allow_none=True, metadata={"description": "default: what is left to pay"})
    reference = Str(max=80, allow_none=True)


class SaleIn(Input):
    store_id = Id(required=True)
    lines = fields.List(fields.Nested(LineIn), required=True, validate=validate.Length(min=1, max=500))
    payments = fields.List(fields.Nested(PaymentIn), validate=validate.Length(max=20))
    customer_id = Id(allow_none=True)
    customer_ref = Str(max=512, allow_none=True, metadata={
        "description": "the signed reference a chain-wide lookup answered with (core.lookup): the customer, "
                       "even of another store; for the user who looked up, for [lookup] ref_minutes"})
    cashier_id = Id(allow_none=True)
    note = Str(max=255, allow_none=True)
    codes = fields.List(Str(max=64), validate=validate.Length(max=10),
                        metadata={"description": "coupon or voucher codes, read by the promotion addons"})


class SaleQuery(Query):
    store_id = QId()
    customer_id = QId()
    kind = Str(validate=validate.OneOf(SALE_KINDS))
    state = Str(validate=validate.OneOf(SALE_STATES))
    date_from = SafeDate(metadata={"description": "business date from (inclusive), local to the chain's time zone"})
    date_to = SafeDate(metadata={"description": "business date to (inclusive), local to the chain's time zone"})

    @validates_schema
    def _range(self, data, **kw):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError(coded(_l("Must not be after date_to.")), "date_from")


class RefundLineIn(Input):
    line_id = Id(required=True)
    qty = Qty(required=True)


class RefundIn(Input):
    lines = fields.List(fields.Nested(RefundLineIn), validate=validate.Length(min=1, max=500),
                        metadata={"description": "omit to refund everything left"})
    reason = Str(max=255, allow_none=True)


class ApprovalFigureColumnSchema(Schema):
    name = fields.String(metadata={"description": "the column's key in each item"})
    label = fields.String(metadata={"description": "its label, in the request's language (empty: a position)"})


class ApprovalFigureSchema(Schema):
    name = fields.String(metadata={"description": "the figure's key in the request's payload (`seen`)"})
    label = fields.String(metadata={"description": "its label, in the request's language"})
    value = fields.Raw(allow_none=True, metadata={"description": "the figure as filed (money and quantities as "
                                                                  "decimal text)"})
    text = fields.String(metadata={"description": "the value for people (money with its currency, a store by "
                                                  "its name)"})
    columns = fields.List(fields.Nested(ApprovalFigureColumnSchema), metadata={
        "description": "a figure that is a list of items (an order's lines): its columns; absent otherwise"})
    rows = fields.List(fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True)), metadata={
        "description": "the items as filed, one object per item by column name (money and quantities as "
                       "decimal text); absent for a figure that is no list of items"})
    cells = fields.List(fields.List(fields.String()), metadata={
        "description": "each item's values for people, in the order of `columns`"})


class _ApprovalFigures(fields.List):
    """The figures an approval request was filed for (``core.approvals.figure_rows``)."""

    def get_value(self, obj, attr, accessor=None, default=None):
        from sqlalchemy.orm import object_session

        from core.approvals import figure_rows

        return figure_rows(object_session(obj), obj)


class PendingApprovalSchema(Schema):
    id = fields.Integer(metadata={"description": "the approval request"})
    action = fields.String()
    state = fields.String()
    amount = Money(allow_none=True)
    required = fields.Integer(metadata={"description": "distinct approvals needed"})
    label = fields.Function(lambda req: req.title, metadata={
        "description": "what the request is, in the request's language: the action's label and the subject"})
    subject = fields.String(allow_none=True, metadata={
        "description": "what the request is about, in no language (an order's number, a period)"})
    figures = _ApprovalFigures(fields.Nested(ApprovalFigureSchema), dump_only=True, metadata={
        "description": "what the request was filed for, as the approvers read it (`core.approvals`)"})


# --------------------------------------------------------------------------- tokens / me

class TokenSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = Instant()
    last_used_at = Instant(allow_none=True)
    revoked_at = Instant(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "the token itself: shown only once"})


class TokenIn(Input):
    name = Str(required=True, min=1, max=80)
    user_id = Id(metadata={"description": "another user's token (default: yours)"})


class TokenQuery(Query):
    user_id = QId()
    include_revoked = fields.Boolean(load_default=False)


class MeSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    locale = fields.String(allow_none=True)
    is_superuser = fields.Boolean()
    scope_kind = fields.String(validate=validate.OneOf(SCOPE_KINDS))
    scope_ref_id = fields.Integer(allow_none=True)
    store_ids = fields.List(fields.Integer(), allow_none=True,
                            metadata={"description": "stores you may see (null: all)"})
    roles = fields.List(fields.String())
    permissions = fields.List(fields.String())
