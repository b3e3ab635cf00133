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
from wtforms.validators import Optional

from core.admin.base import BanyanModelView, apply_business_error, plain_number
from core.admin.customers import CustomerPageMixin
from core.admin.price_grid import PriceGridMixin
from core.admin.roles import PermissionChecklist, permission_groups
from core.admin.refund import SaleRefundMixin
from core.errors import BusinessError
from core.hookspecs import hookimpl
from core.i18n import format_money, gettext, lazy_gettext as _l, with_colon
from core.labels import APPROVAL_DECISION, PAYMENT_METHOD
from core.localtime import format_local
from core.models import (ApiToken, AuditLog, Company, Customer, CustomerContact, Employee, PriceList, PriceListItem,
                         Product, ProductCategory, Region, Role, RolePermission, Sale, Store, User, Warehouse)
from core.models.approval import ApprovalRequest
from core.security.passwords import PasswordRules

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




class KernelView(BanyanModelView):
    """The kernel's views: labels and coded values come from ``core.labels``."""


# --- organisation ------------------------------------------------------------------------------

class OrgView(KernelView):
    permission = "core.org.read"
    write_permission = "core.org.write"
    column_exclude_list = ("created_at", "updated_at")
    form_excluded_columns = ("created_at", "updated_at")
    column_searchable_list = ("code", "name")


class CompanyView(OrgView):
    """Companies: the OrgView defaults (kinds from ``core.labels.COMPANY_KIND``)."""


class RegionView(OrgView):
    """Regions: the OrgView defaults (no choices of their own)."""


class StoreView(OrgView):
    attachments = True


class WarehouseView(OrgView):
    """Warehouses: the OrgView defaults (no choices of their own)."""


# --- customers ---------------------------------------------------------------------------------

class CustomerView(CustomerPageMixin, KernelView):
    """Customers; the details page is the customer page (``core.admin.customers``)."""

    permission = "core.customer.read"
    write_permission = "core.customer.write"
    attachments = True
    simple_list_pager = True
    column_list = ("id", "name", "kind", "phone", "email", "home_store", "tags", "active")
    column_card = ("name", "phone", "home_store", "kind")  # a row's card on a phone
    column_export_list = ("id", "name", "kind", "phone", "email", "id_number", "address", "birthday", "home_store",
                          "tags", "active", "created_at")
    column_searchable_list = ("name", "phone", "email")
    column_filters = ("kind", "active", "home_store_id")
    form_excluded_columns = ("created_at", "updated_at", "merged_at")
    inline_models = ((CustomerContact, {"form_excluded_columns": ("created_at", "updated_at")}),)
    #: fields the new-customer form takes from the address (``?phone=``: the call center's
    #: screen-pop of an unknown number offers the form with the caller's number filled in)
    PREFILL = ("phone", "name", "email")

    def create_form(self, obj=None):
        from flask import request

        form = super().create_form(obj)
        if request.method == "GET":
            for name in self.PREFILL:
                value = (request.args.get(name) or "").strip()
                field = getattr(form, name, None)
                if value and field is not None and not field.data and len(value) <= 200:
                    field.data = value
        return form


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


class PriceListView(PriceGridMixin, KernelView):
    """Price lists; the details page shows the prices, edited as a pasted grid
    (``core.admin.price_grid``), not as inline sub-forms."""

    permission = "core.product.read"
    write_permission = "core.product.write"
    column_exclude_list = ("created_at", "updated_at")
    form_excluded_columns = ("created_at", "updated_at", "items")
    # a select; its choices are the kinds the installed addons declare (_with_kinds)
    form_choices = {"kind": [("retail", _l("Retail"))]}

    def _with_kinds(self, form, current: str | None = None):
        """The declared price-list kinds (``register_price_list_kinds``) as the kind's choices;
        anything else is refused on the field ("Not a valid choice"). A list whose kind no
        installed addon declares (its addon was uninstalled) may keep that kind."""
        from core.services.pricing import price_list_kinds
        from core.web import runtime

        choices = [(code, kind.label) for code, kind in price_list_kinds(runtime().registry).items()]
        if current and current not in dict(choices):
            choices.append((current, current))
        form.kind.choices = choices
        return form

    def create_form(self, obj=None):
        return self._with_kinds(super().create_form(obj))

    def edit_form(self, obj=None):
        return self._with_kinds(super().edit_form(obj), getattr(obj, "kind", None))


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
    form_extra_fields = {"new_password": PasswordField(_l("New password"), validators=[Optional(), PasswordRules()])}

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


def _role_description(view, context, model, name):
    """What the role is for, as its declaration (``register_roles``) says; empty for a role
    an administrator made, or one whose addon is not installed."""
    from core.web import runtime

    role = runtime().registry.roles().get(model.code)
    return "" if role is None else str(role.description)


class RoleView(KernelView):
    permission = "core.user.admin"
    column_list = ("code", "name", "description")
    column_labels = {"description": _l("Description")}
    #: a default role by its translated label (``Role.label``); what it is for, as declared
    column_formatters = {"name": lambda view, context, model, name: model.label,
                         "description": _role_description}
    form_columns = ("code", "name", "grants")
    form_extra_fields = {"grants": SelectMultipleField(_l("Permissions"), choices=[], widget=PermissionChecklist())}

    def can_write(self) -> bool:
        """Roles apply to the whole chain: only a chain-level user administrator changes them
        (the rule of ``core.security.delegation``, which the save enforces)."""
        from core.web import current_user

        me = current_user()
        return super().can_write() and me is not None and (me.is_superuser or me.scope_kind == "all")

    def _held(self):
        """The permissions this user may grant or withdraw (None: all, a superuser)."""
        from core.security.permissions import user_permissions
        from core.web import current_user, db_session

        me = current_user()
        return None if me.is_superuser else user_permissions(db_session(), me)

    def _fill(self, form):
        """The permissions as translated checkboxes grouped by addon (``core.admin.roles``);
        the ones the user does not hold are shown but cannot be changed."""
        from core.web import runtime

        groups = permission_groups(runtime())
        form.grants.groups = groups
        form.grants.held = self._held()
        form.grants.choices = [(name, label) for _title, perms in groups for name, label in perms]
        return form

    def create_form(self, obj=None):
        return self._fill(super().create_form(obj))

    def edit_form(self, obj=None):
        form = self._fill(super().edit_form(obj))
        if request.method == "GET" and obj is not None:
            form.grants.data = [p.permission for p in obj.permissions]
        return form

    def on_model_change(self, form, model, is_created):
        held = self._held()
        have = {p.permission: p for p in model.permissions}
        # a permission the user does not hold is shown disabled (not posted): it stays as it is;
        # one posted anyway is refused by the delegation check
        kept = set() if held is None else {name for name in have if name not in held}
        wanted = set(form.grants.data or ()) | kept
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
    cur = model.currency
    return _table([_l("Product"), _l("Quantity"), _l("Unit price"), _l("Discount"), _l("Total"), _l("Refunded")],
                  [(ln.product, plain_number(ln.qty), format_money(ln.unit_price, cur), format_money(ln.discount, cur),
                    format_money(ln.total, cur), plain_number(ln.refunded_qty)) for ln in model.lines])


def _adjustments(view, context, model, name):
    return _table([_l("Rule"), _l("Label"), _l("Amount")],
                  [(a.rule_code, a.label_text, format_money(a.amount, model.currency)) for a in model.adjustments])


def _payments(view, context, model, name):
    return _table([_l("Method"), _l("Amount"), _l("Reference")],
                  [(PAYMENT_METHOD.label(p.method), format_money(p.amount, model.currency), p.reference)
                   for p in model.payments])


class SaleView(SaleRefundMixin, KernelView):
    """Sales and refunds; the details page links to the refund page of one sale."""

    permission = "core.sale.read"
    write_permission = "core.sale.refund"
    attachments = True
    allow_create = allow_edit = allow_delete = False
    details_template = "banyan/sale_details.html"
    simple_list_pager = True
    column_list = ("id", "number", "kind", "state", "store", "customer", "total", "confirmed_at")
    column_card = ("number", "state", "store", "total", "confirmed_at")  # a row's card on a phone
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

    @action("refund", _l("Refund"))
    def action_refund(self, ids):
        from core.approvals import refund_or_request
        from core.web import current_user

        if request.form.get("confirm") != "1":  # it cannot be undone: say what it gives back first
            from core.admin.refund import bulk_refund_lines

            return self.render("banyan/action_confirm.html", title=_l("Refund what is left of the selected sales"),
                               action="refund", ids=[str(i) for i in ids], danger=True,
                               lines=bulk_refund_lines(self.session, self.selected(ids), current_user()))
        outcome = []

        def work():
            for i in ids:
                outcome.append(refund_or_request(self.session, int(i), current_user(),
                                                 note_code="back_office"))  # core.labels.SALE_NOTE

        if _commit_or_flash(self, work):
            for kind, doc in outcome:
                if kind == "pending":
                    flash(gettext("Above the approval threshold: approval request #%(id)s was created.", id=doc.id))
                else:
                    flash(gettext("Refunded: %(number)s.", number=doc.number))


# --- control ----------------------------------------------------------------------------------

class AuditLogView(KernelView):
    """The audit trail for people: who made the change (the user's name), the record by its
    type and name, and the changed fields as "field: before → after" with the fields' and
    the coded values' labels (``core.labels``); sensitive fields masked for users who may
    not see them. Exports carry the same text."""

    permission = "core.audit.read"
    allow_create = allow_edit = allow_delete = False
    column_editable_list = ()
    simple_list_pager = True
    column_list = ("id", "at", "user_id", "model", "record_id", "action", "changes")
    column_details_list = column_export_list = column_list
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

    def _record(self, model) -> str:
        """The changed record by its name (``str(record)``) and id; the id alone when it is
        gone or outside the user's scope."""
        from core.admin.base import _model_of

        cls = _model_of(model.model)
        row = None
        if cls is not None and len(cls.__mapper__.primary_key) == 1 and model.record_id not in (None, "?"):
            try:
                key = cls.__mapper__.primary_key[0].type.python_type(model.record_id)
                row = self.session.get(cls, key)
            except (TypeError, ValueError, NotImplementedError):
                row = None
        return f"{row} (#{model.record_id})" if row is not None else f"#{model.record_id}"

    def _user(self, model) -> str:
        if model.user_id is None:
            return gettext("System")
        user = self.session.get(User, model.user_id)
        return str(user) if user is not None else f"#{model.user_id}"

    def change_lines(self, model) -> list[tuple[str, str, str]]:
        """``(field label, before, after)`` of each logged change, values for people."""
        from core.admin.base import _model_of
        from core.labels import codes_of, field_label, yes_no

        cls = _model_of(model.model)

        def shown(field, value):
            if value is None or value == "":
                return "—"
            codes = codes_of(cls, field) if cls is not None else None
            if codes is not None:
                return str(codes.label(value))
            if isinstance(value, bool):
                return str(yes_no(value))
            if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
                from datetime import datetime

                try:  # a stored timestamp (naive UTC, ISO): in the chain's local time
                    return format_local(datetime.fromisoformat(value), "%Y-%m-%d %H:%M:%S")
                except ValueError:
                    return value
            return str(value)

        out = []
        for field, pair in self._masked_changes(model).items():
            before, after = (pair if isinstance(pair, list) and len(pair) == 2 else (None, pair))
            label = (field_label(cls, field) if cls is not None else None) or field
            out.append((str(label), shown(field, before), shown(field, after)))
        return out

    def _changes_html(self, model) -> Markup:
        items = "".join(f"<li><strong>{escape(label)}</strong>: {escape(before)} → {escape(after)}</li>"
                        for label, before, after in self.change_lines(model))
        return Markup(f'<ul class="list-unstyled mb-0">{items}</ul>')

    def _value(self, model, name, html: bool):
        from core.labels import table_label

        if name == "changes":
            if html:
                return self._changes_html(model)
            return "; ".join(f"{with_colon(label)}{before} → {after}" for label, before, after in self.change_lines(model))
        if name == "user_id":
            return self._user(model)
        if name == "model":
            return str(table_label(model.model))
        if name == "record_id":
            return self._record(model)
        return None

    @pass_context
    def get_list_value(self, context, model, name):
        shown = self._value(model, name, html=True)
        return super().get_list_value(context, model, name) if shown is None else shown

    @pass_context
    def get_detail_value(self, context, model, name):
        shown = self._value(model, name, html=True)
        return super().get_detail_value(context, model, name) if shown is None else shown

    def get_export_value(self, model, name):
        shown = self._value(model, name, html=False)
        return super().get_export_value(model, name) if shown is None else shown


def _items_table(row: dict) -> str:
    """A figure that is a list of items (``core.approvals.figure_rows``: ``columns`` and
    ``cells``) as a nested table: a header of column labels, one row per item."""
    head = "".join(f'<th scope="col" data-column="{escape(c["name"])}">{escape(c["label"])}</th>'
                   for c in row["columns"])
    body = "".join("<tr>" + "".join(f"<td>{escape(t)}</td>" for t in cells) + "</tr>" for cells in row["cells"])
    return (f'<table class="table table-sm table-bordered bn-figure-items mb-0"><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table>')


class ApprovalView(KernelView):
    permission = "core.approval.decide"
    allow_create = allow_edit = allow_delete = False
    column_list = ("id", "label", "amount", "figures", "store", "state", "requested_by", "requested_at", "required",
                   "result")
    column_filters = ("state", "action")
    column_details_list = ("id", "action", "label", "figures", "payload", "amount", "store", "state", "required",
                           "requested_by", "requested_at", "decided_at", "result", "votes")
    column_labels = {"figures": _l("Filed for")}
    column_formatters = {"figures": lambda v, c, m, n: v._figures_table(m, "seen"),
                         "label": lambda v, c, m, n: m.title}
    column_formatters_detail = {
        "label": lambda v, c, m, n: m.title,
        "votes": lambda v, c, m, n: _table([_l("User"), _l("Decision"), _l("At")],
                                           [(x.user, APPROVAL_DECISION.label(x.decision), format_local(x.at))
                                            for x in m.votes]),
        "figures": lambda v, c, m, n: v._figures_table(m, "seen"),
        "payload": lambda v, c, m, n: v._figures_table(m, "payload")}
    column_formatters_export = {"label": lambda v, c, m, n: m.title,
                                "figures": lambda v, c, m, n: v._figures_text(m, "seen"),
                                "payload": lambda v, c, m, n: v._figures_text(m, "payload")}

    def _figures_table(self, model, part):
        """What the request was filed for (``core.approvals.figure_rows``): label, value."""
        from core.approvals import figure_rows

        rows = figure_rows(self.session, model, part)
        if not rows:
            return ""
        body = "".join(f'<tr data-figure="{escape(r["name"])}"><th scope="row">{escape(r["label"])}</th>'
                       f'<td>{_items_table(r) if "columns" in r else escape(r["text"])}</td></tr>' for r in rows)
        return Markup(f'<table class="table table-sm bn-figures mb-0"><tbody>{body}</tbody></table>')

    def _figures_text(self, model, part):
        from core.approvals import figure_rows

        return "; ".join(f"{with_colon(r['label'])}{r['text']}" for r in figure_rows(self.session, model, part))

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
    from core.admin.addons_page import AddonsView
    from core.admin.notifications import MailOutboxView, NotificationsView
    from core.admin.preferences import PreferencesView
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
        AddonsView(name=_l("Addons"), category=SETTINGS, endpoint="addons", url="/admin/addons"),
        PreferencesView(name=_l("Preferences"), endpoint="preferences", url="/admin/preferences"),
    ]
