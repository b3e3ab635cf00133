"""The kernel's back-office views, registered through ``register_admin_views`` like an addon's."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from jinja2 import pass_context
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import relationship
from wtforms import PasswordField, SelectMultipleField
from wtforms.validators import Length, Optional

from core.admin.base import BanyanModelView, apply_business_error
from core.admin.refund import SaleRefundMixin
from core.errors import BusinessError
from core.hookspecs import hookimpl
from core.i18n import gettext, lazy_gettext as _l
from core.models import (ApiToken, AuditLog, Company, Customer, CustomerContact, Employee, PriceList, PriceListItem,
                         Product, ProductCategory, Region, Role, RolePermission, Sale, Store, User, Warehouse)
from core.models.approval import ApprovalRequest

if "items" not in PriceList.__mapper__.relationships:
    # the price-list form edits its items inline: Flask-Admin needs the one-to-many side
    PriceList.items = relationship(PriceListItem, overlaps="price_list", cascade="all, delete-orphan",
                                   order_by=PriceListItem.valid_from)

ORG, CUSTOMERS, PRODUCTS, SALES, SETTINGS = (_l("Organisation"), _l("Customers"), _l("Products"), _l("Sales"),
                                             _l("Settings"))


def _commit_or_flash(view, work) -> bool:
    """Run ``work()`` and commit; a BusinessError is flashed and everything rolled back."""
    s = view.session
    try:
        result = work()
        s.flush()
        s.commit()
        return result if result is not None else True
    except BusinessError as exc:
        s.rollback()
        for messages in exc.errors.values():
            for m in messages:
                flash(m, "error")
        return False


LABELS = {
    "id": _l("ID"),
    "code": _l("Code"),
    "name": _l("Name"),
    "kind": _l("Kind"),
    "parent": _l("Parent"),
    "tax_id": _l("Tax ID"),
    "active": _l("Active"),
    "company": _l("Company"),
    "region": _l("Region"),
    "format": _l("Format"),
    "operating_company": _l("Operating company"),
    "address": _l("Address"),
    "phone": _l("Phone"),
    "opened_on": _l("Opened on"),
    "store": _l("Store"),
    "email": _l("Email"),
    "gender": _l("Gender"),
    "birthday": _l("Birthday"),
    "id_number": _l("ID number"),
    "language": _l("Language"),
    "home_store": _l("Home store"),
    "consent_email": _l("Email consent"),
    "consent_sms": _l("SMS consent"),
    "consent_wechat": _l("WeChat consent"),
    "note": _l("Note"),
    "tags": _l("Tags"),
    "contacts": _l("Contacts"),
    "title": _l("Title"),
    "is_decision_maker": _l("Decision-maker"),
    "sku": _l("SKU"),
    "barcode": _l("Barcode"),
    "unit": _l("Unit"),
    "category": _l("Category"),
    "cost": _l("Cost"),
    "currency": _l("Currency"),
    "items": _l("Prices"),
    "product": _l("Product"),
    "price": _l("Price"),
    "valid_from": _l("Valid from"),
    "valid_to": _l("Valid until"),
    "role": _l("Role"),
    "manager": _l("Manager"),
    "username": _l("Username"),
    "employee": _l("Employee"),
    "locale": _l("Language"),
    "is_superuser": _l("Superuser"),
    "scope_kind": _l("Scope"),
    "scope_ref_id": _l("Scope record ID"),
    "roles": _l("Roles"),
    "last_login_at": _l("Last sign-in"),
    "user": _l("User"),
    "prefix": _l("Prefix"),
    "created_at": _l("Created"),
    "updated_at": _l("Updated"),
    "last_used_at": _l("Last used"),
    "revoked_at": _l("Revoked"),
    "number": _l("Number"),
    "state": _l("State"),
    "customer": _l("Customer"),
    "cashier": _l("Cashier"),
    "origin": _l("Original sale"),
    "subtotal": _l("Subtotal"),
    "discount_total": _l("Discounts"),
    "total": _l("Total"),
    "confirmed_at": _l("Confirmed"),
    "business_date": _l("Business date"),
    "lines": _l("Lines"),
    "adjustments": _l("Adjustments"),
    "payments": _l("Payments"),
    "at": _l("At"),
    "user_id": _l("User ID"),
    "model": _l("Model"),
    "record_id": _l("Record"),
    "action": _l("Action"),
    "changes": _l("Changes"),
    "label": _l("Label"),
    "amount": _l("Amount"),
    "requested_by": _l("Requested by"),
    "requested_at": _l("Requested"),
    "required": _l("Approvals needed"),
    "result": _l("Result"),
    "payload": _l("Details"),
    "decided_at": _l("Decided"),
    "votes": _l("Votes"),
    "store_id": _l("Store"),
    "category_id": _l("Category"),
    "home_store_id": _l("Home store"),
}


class KernelView(BanyanModelView):
    column_labels = LABELS


# --- organisation ------------------------------------------------------------------------------

class OrgView(KernelView):
    permission = "core.org.read"
    write_permission = "core.org.write"
    column_exclude_list = ("created_at", "updated_at")
    form_excluded_columns = ("created_at", "updated_at")
    column_searchable_list = ("code", "name")


class CompanyView(OrgView):
    form_choices = {"kind": [("hq", _l("Headquarters")), ("branch", _l("Branch")), ("franchisee", _l("Franchisee"))]}


class RegionView(OrgView):
    """Regions: the OrgView defaults (no choices of their own)."""


class StoreView(OrgView):
    attachments = True
    form_choices = {"kind": [("direct", _l("Directly operated")), ("franchise", _l("Franchise"))],
                    "format": [("street", _l("Street")), ("mall_counter", _l("Mall counter")),
                               ("shop_in_shop", _l("Shop in shop"))]}


class WarehouseView(OrgView):
    """Warehouses: the OrgView defaults (no choices of their own)."""


# --- customers ---------------------------------------------------------------------------------

class CustomerView(KernelView):
    permission = "core.customer.read"
    write_permission = "core.customer.write"
    attachments = True
    simple_list_pager = True
    column_list = ("id", "name", "kind", "phone", "email", "home_store", "tags", "active")
    column_export_list = ("id", "name", "kind", "phone", "email", "id_number", "address", "birthday", "home_store",
                          "tags", "active", "created_at")
    column_searchable_list = ("name", "phone", "email")
    column_filters = ("kind", "active", "home_store_id")
    form_excluded_columns = ("created_at", "updated_at", "merged_at")
    form_choices = {"kind": [("person", _l("Person")), ("company", _l("Company"))],
                    "gender": [("", "—"), ("f", _l("Female")), ("m", _l("Male"))]}
    inline_models = ((CustomerContact, {"form_excluded_columns": ("created_at", "updated_at")}),)

    @expose("/duplicates/")
    def duplicates_view(self):
        from core.services.customers import find_duplicates

        groups = []
        for label, ids in find_duplicates(self.session, limit=100):
            rows = self.session.query(Customer).filter(Customer.id.in_(ids)).order_by(Customer.id).all()
            if len(rows) > 1:  # the other copies may be out of this user's scope
                groups.append((label, rows))
        return self.render("banyan/duplicates.html", groups=groups, view=self,
                           can_merge=_has("core.customer.merge"))

    @expose("/merge/", methods=["POST"])
    def merge_view(self):
        if not _has("core.customer.merge"):
            flash(gettext("You may not merge customers."), "error")
            return redirect(url_for(".duplicates_view"))
        kept = request.form.get("kept_id", type=int)
        removed = request.form.get("removed_id", type=int)
        if self._merge(kept, [removed]):
            flash(gettext("Customers merged."))
        return redirect(url_for(".duplicates_view"))

    def _merge(self, kept_id, removed_ids) -> bool:
        from core.services.customers import merge_customers
        from core.web import current_user

        def work():
            if kept_id is None or not removed_ids or None in removed_ids:
                raise BusinessError({"_": _l("Pick the customer to keep and the one to merge into it.")})
            for rid in removed_ids:
                # both records must be visible to this user: the scoped session decides
                if self.session.get(Customer, kept_id) is None or self.session.get(Customer, rid) is None:
                    raise BusinessError({"_": _l("No such customer.")})
                merge_customers(self.session, kept_id, rid, user=current_user())

        return bool(_commit_or_flash(self, work))

    def is_action_allowed(self, name):
        if name == "merge":
            return _has("core.customer.merge")
        return super().is_action_allowed(name)

    @action("merge", _l("Merge into the oldest"), _l("Merge the selected customers into the oldest one?"))
    def action_merge(self, ids):
        ids = sorted(int(i) for i in ids)
        if len(ids) < 2:
            flash(gettext("Select at least two customers to merge."), "error")
            return
        if self._merge(ids[0], ids[1:]):
            flash(gettext("Customers merged."))


class TagView(KernelView):
    permission = "core.customer.read"
    write_permission = "core.customer.write"


# --- products ----------------------------------------------------------------------------------

class ProductView(KernelView):
    permission = "core.product.read"
    write_permission = "core.product.write"
    attachments = True
    column_list = ("sku", "barcode", "name", "unit", "category", "cost", "active")
    column_searchable_list = ("sku", "barcode", "name")
    column_filters = ("active", "category_id")
    form_excluded_columns = ("created_at", "updated_at", "name_initials")  # derived from the name


class CategoryView(KernelView):
    permission = "core.product.read"
    write_permission = "core.product.write"
    column_searchable_list = ("code", "name")


class PriceListView(KernelView):
    permission = "core.product.read"
    write_permission = "core.product.write"
    column_exclude_list = ("created_at", "updated_at")
    form_excluded_columns = ("created_at", "updated_at")
    form_choices = {"kind": [("retail", _l("Retail")), ("member", _l("Member")), ("wholesale", _l("Wholesale"))]}
    inline_models = ((PriceListItem, {"form_columns": ("id", "product", "price", "valid_from", "valid_to")}),)


# --- people ------------------------------------------------------------------------------------

class EmployeeView(KernelView):
    permission = "core.employee.read"
    write_permission = "core.employee.write"
    attachments = True
    column_exclude_list = ("created_at", "updated_at")
    form_excluded_columns = ("created_at", "updated_at")
    column_searchable_list = ("code", "name")


class UserView(KernelView):
    permission = "core.user.admin"
    column_list = ("id", "username", "employee", "active", "is_superuser", "scope_kind", "scope_ref_id", "roles",
                   "last_login_at")
    column_details_exclude_list = ("password_hash",)
    column_export_exclude_list = ("password_hash",)
    column_searchable_list = ("username",)
    form_excluded_columns = ("password_hash", "created_at", "updated_at", "last_login_at")
    form_extra_fields = {"new_password": PasswordField(_l("New password"), validators=[Optional(), Length(min=8)])}
    form_choices = {"scope_kind": [("all", _l("All stores")), ("company", _l("A company's stores")),
                                   ("region", _l("A region's stores")), ("store", _l("One store"))],
                    "locale": [("", "—"), ("zh_Hans", "中文"), ("en", "English")]}

    def on_model_change(self, form, model, is_created):
        from core.security.passwords import hash_password
        from core.web import current_user

        me = current_user()
        if model.is_superuser and not (me is not None and me.is_superuser):
            from sqlalchemy import inspect

            hist = inspect(model).attrs.is_superuser.history
            if is_created or hist.added:
                raise BusinessError({"is_superuser": _l("Only a superuser can make a superuser.")})
        if model.scope_kind != "all" and model.scope_ref_id is None:
            raise BusinessError({"scope_ref_id": _l("Say which company, region or store.")})
        if form.new_password.data:
            model.password_hash = hash_password(form.new_password.data)
        elif is_created:
            raise BusinessError({"new_password": _l("A new user needs a password.")})


class RoleView(KernelView):
    permission = "core.user.admin"
    column_list = ("code", "name")
    form_columns = ("code", "name", "grants")
    form_extra_fields = {"grants": SelectMultipleField(_l("Permissions"), choices=[])}

    def _choices(self):
        from core.web import runtime

        return sorted((name, f"{name} — {p.label}") for name, p in runtime().registry.permissions().items())

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.grants.choices = self._choices()
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form.grants.choices = self._choices()
        if request.method == "GET" and obj is not None:
            form.grants.data = [p.permission for p in obj.permissions]
        return form

    def on_model_change(self, form, model, is_created):
        wanted = set(form.grants.data or ())
        have = {p.permission: p for p in model.permissions}
        for name, row in have.items():
            if name not in wanted:
                model.permissions.remove(row)
        for name in sorted(wanted - set(have)):
            model.permissions.append(RolePermission(role_code=model.code, permission=name))


class ApiTokenView(KernelView):
    """API tokens: everyone holding ``core.token.own`` manages their own; a user admin with a
    chain-level scope also other users' (the rule is ``core.security.tokens.may_manage_tokens_of``,
    shared with the API). The token itself is shown once, when it is created; the list shows
    only its prefix."""

    permission = "core.token.own"
    allow_edit = False
    allow_delete = False
    can_view_details = False
    column_list = ("id", "user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    column_export_list = column_list
    column_labels = {**LABELS, "name": _l("Label"), "prefix": _l("Starts with")}
    form_columns = ("user", "name")
    form_args = {"user": {"description": _l("Leave empty for a token of your own.")}}

    def _admin(self) -> bool:
        return _has("core.user.admin")

    def _visible(self, query):
        from core.web import current_user

        me = current_user()
        if me.is_superuser:
            return query
        if self._admin() and me.scope_kind == "all":
            supers = select(User.id).where(User.is_superuser.is_(True))
            return query.filter((ApiToken.user_id == me.id) | ApiToken.user_id.not_in(supers))
        return query.filter(ApiToken.user_id == me.id)

    def get_query(self):
        return self._visible(super().get_query())

    def get_count_query(self):
        return self._visible(super().get_count_query())

    def _may_manage(self, user) -> bool:
        from core.security.tokens import may_manage_tokens_of
        from core.web import current_user

        return may_manage_tokens_of(current_user(), user, self._admin())

    def create_form(self, obj=None):
        form = super().create_form(obj)
        if not self._admin():
            del form.user  # your own tokens only
        return form

    def create_model(self, form):
        from core.models import User as _User
        from core.security.tokens import create_token
        from core.web import current_user

        s = self.session
        picked = getattr(form, "user", None)
        user = picked.data if picked is not None and picked.data is not None else current_user()
        try:
            user = s.get(_User, user.id) if user is not None else None
            if user is None or not user.active:
                raise BusinessError({"user": _l("Pick an active user.")})
            if not self._may_manage(user):
                raise BusinessError({"user": _l("You may not make tokens for this user.")})
            plain, token = create_token(s, user, form.name.data)
            s.commit()
        except BusinessError as exc:
            s.rollback()
            apply_business_error(form, exc)
            return False
        flash(gettext("Token created. Copy it now, it will not be shown again: %(token)s", token=plain), "success")
        return token

    @action("revoke", _l("Revoke"), _l("Revoke the selected tokens?"))
    def action_revoke(self, ids):
        from core.security.tokens import revoke

        def work():
            for token in self.selected(ids):
                if not self._may_manage(self.session.get(User, token.user_id)):
                    raise BusinessError({"id": _l("You may not revoke this token.")})
                revoke(self.session, token.id)

        if _commit_or_flash(self, work):
            flash(gettext("Token(s) revoked."))



# --- sales ------------------------------------------------------------------------------------

def _table(headers, rows) -> Markup:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape('' if v is None else v)}</td>" for v in r) + "</tr>" for r in rows)
    return Markup(f'<table class="table table-sm"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def _lines(view, context, model, name):
    return _table([_l("Product"), _l("Quantity"), _l("Unit price"), _l("Discount"), _l("Total"), _l("Refunded")],
                  [(ln.product, f"{ln.qty:g}", ln.unit_price, ln.discount, ln.total, f"{ln.refunded_qty:g}")
                   for ln in model.lines])


def _adjustments(view, context, model, name):
    return _table([_l("Rule"), _l("Label"), _l("Amount")], [(a.rule_code, a.label, a.amount) for a in model.adjustments])


def _payments(view, context, model, name):
    return _table([_l("Method"), _l("Amount"), _l("Reference")], [(p.method, p.amount, p.reference) for p in model.payments])


class SaleView(SaleRefundMixin, KernelView):
    """Sales and refunds; the details page links to the refund page of one sale."""

    permission = "core.sale.read"
    write_permission = "core.sale.refund"
    attachments = True
    allow_create = allow_edit = allow_delete = False
    details_template = "banyan/sale_details.html"
    simple_list_pager = True
    column_list = ("id", "number", "kind", "state", "store", "customer", "total", "confirmed_at")
    column_searchable_list = ("number",)
    column_filters = ("state", "kind", "store_id", "business_date")
    column_details_list = ("number", "kind", "state", "store", "customer", "cashier", "origin", "subtotal",
                           "discount_total", "total", "currency", "confirmed_at", "business_date", "note",
                           "lines", "adjustments", "payments")
    column_formatters_detail = {"lines": _lines, "adjustments": _adjustments, "payments": _payments}
    column_export_list = ("id", "number", "kind", "state", "store", "customer", "subtotal", "discount_total",
                          "total", "confirmed_at")

    def is_action_allowed(self, name):
        if name == "refund":
            return _has("core.sale.refund")
        if name == "deactivate":
            return False
        return super().is_action_allowed(name)

    @action("refund", _l("Refund"), _l("Refund what is left of the selected sales?"))
    def action_refund(self, ids):
        from core.approvals import refund_or_request
        from core.web import current_user

        outcome = []

        def work():
            for i in ids:
                outcome.append(refund_or_request(self.session, int(i), current_user(),
                                                 reason=gettext("Refund from the back office")))

        if _commit_or_flash(self, work):
            for kind, doc in outcome:
                if kind == "pending":
                    flash(gettext("Above the approval threshold: approval request #%(id)s was created.", id=doc.id))
                else:
                    flash(gettext("Refunded: %(number)s.", number=doc.number))


# --- control ----------------------------------------------------------------------------------

class AuditLogView(KernelView):
    permission = "core.audit.read"
    allow_create = allow_edit = allow_delete = False
    column_editable_list = ()
    simple_list_pager = True
    column_list = ("id", "at", "user_id", "model", "record_id", "action", "changes")
    column_filters = ("model", "action", "user_id", "record_id")

    def is_action_allowed(self, name):
        return name == "export_selected"

    def _sensitive_by_table(self) -> dict:
        from core.web import runtime

        return {m.__tablename__: set(getattr(m, "__sensitive__", ()) or ())
                for models in runtime().registry.models_by_addon.values() for m in models}

    def _masked_changes(self, model):
        """The logged changes, with sensitive fields masked for users who may not see them."""
        from core.admin.base import mask

        changes = dict(model.changes or {})
        if self.sees_sensitive():
            return changes
        hidden = self._sensitive_by_table().get(model.model, set())
        return {k: ([mask(x) for x in v] if isinstance(v, list) else mask(v)) if k in hidden else v
                for k, v in changes.items()}

    @pass_context
    def get_list_value(self, context, model, name):
        if name == "changes":
            return self._masked_changes(model)
        return super().get_list_value(context, model, name)

    @pass_context
    def get_detail_value(self, context, model, name):
        if name == "changes":
            return self._masked_changes(model)
        return super().get_detail_value(context, model, name)

    def get_export_value(self, model, name):
        if name == "changes":
            return self._masked_changes(model)
        return super().get_export_value(model, name)


class ApprovalView(KernelView):
    permission = "core.approval.decide"
    allow_create = allow_edit = allow_delete = False
    column_list = ("id", "label", "amount", "store", "state", "requested_by", "requested_at", "required", "result")
    column_filters = ("state", "action")
    column_details_list = ("id", "action", "label", "payload", "amount", "store", "state", "required",
                           "requested_by", "requested_at", "decided_at", "result", "votes")
    column_formatters_detail = {"votes": lambda v, c, m, n: _table(
        [_l("User"), _l("Decision"), _l("At")], [(x.user, x.decision, x.at) for x in m.votes])}

    def is_action_allowed(self, name):
        return name in ("approve", "reject", "export_selected") and _has(self.permission)

    def _decide(self, ids, func):
        from core.web import current_user

        done = []

        def work():
            for i in ids:
                done.append(func(self.session, int(i), current_user()))

        return done if _commit_or_flash(self, work) else []

    @action("approve", _l("Approve"), _l("Approve the selected requests?"))
    def action_approve(self, ids):
        from core.approvals import approve

        for req in self._decide(ids, approve):
            if req.state == "approved":
                flash(gettext("Request #%(id)s approved and carried out: %(result)s", id=req.id, result=req.result or ""))
            else:
                flash(gettext("Approval recorded for request #%(id)s (%(n)s of %(m)s).", id=req.id, n=req.approvals,
                              m=req.required))

    @action("reject", _l("Reject"), _l("Reject the selected requests?"))
    def action_reject(self, ids):
        from core.approvals import reject

        for req in self._decide(ids, reject):
            flash(gettext("Request #%(id)s rejected.", id=req.id))


def _has(name: str) -> bool:
    from core.web import has_perm

    return has_perm(name)


@hookimpl
def register_admin_views(app):
    from core.admin.notifications import MailOutboxView, NotificationsView
    from core.admin.pages import CheckoutView
    from core.admin.till import TillView
    from core.models import MailMessage, Tag

    return [
        CompanyView(Company, name=_l("Companies"), category=ORG, endpoint="company"),
        RegionView(Region, name=_l("Regions"), category=ORG, endpoint="region"),
        StoreView(Store, name=_l("Stores"), category=ORG, endpoint="store"),
        WarehouseView(Warehouse, name=_l("Warehouses"), category=ORG, endpoint="warehouse"),
        EmployeeView(Employee, name=_l("Employees"), category=ORG, endpoint="employee"),
        CustomerView(Customer, name=_l("Customers"), category=CUSTOMERS, endpoint="customer"),
        TagView(Tag, name=_l("Tags"), category=CUSTOMERS, endpoint="tag"),
        ProductView(Product, name=_l("Products"), category=PRODUCTS, endpoint="product"),
        CategoryView(ProductCategory, name=_l("Categories"), category=PRODUCTS, endpoint="category"),
        PriceListView(PriceList, name=_l("Price lists"), category=PRODUCTS, endpoint="pricelist"),
        TillView(name=_l("Till"), category=SALES, endpoint="till", url="/admin/till"),
        CheckoutView(name=_l("New sale"), category=SALES, endpoint="checkout", url="/admin/checkout"),
        SaleView(Sale, name=_l("Sales"), category=SALES, endpoint="sale"),
        ApprovalView(ApprovalRequest, name=_l("Approvals"), category=SALES, endpoint="approval"),
        UserView(User, name=_l("Users"), category=SETTINGS, endpoint="user"),
        RoleView(Role, name=_l("Roles"), category=SETTINGS, endpoint="role"),
        ApiTokenView(ApiToken, name=_l("API tokens"), category=SETTINGS, endpoint="apitoken"),
        AuditLogView(AuditLog, name=_l("Audit log"), category=SETTINGS, endpoint="auditlog"),
        MailOutboxView(MailMessage, name=_l("Email outbox"), category=SETTINGS, endpoint="mailmessage"),
        NotificationsView(name=_l("Notifications"), endpoint="notifications", url="/admin/notifications"),
    ]
