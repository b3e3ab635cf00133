"""Base classes of every back-office view (kernel and addons).

``BanyanModelView`` is a Flask-Admin ``ModelView`` that
- reads and writes through the request's *scoped* session (``core.web.db_session()``), so
  the user's record scope applies to lists, details, exports and relation pickers alike;
- is visible only with ``permission`` and writable only with ``write_permission``;
- masks ``Model.__sensitive__`` fields in list, detail, export and edit forms (inline rows
  included: shown masked and read-only, never written back) unless the user holds
  ``core.customer.view_sensitive``;
- refuses a posted relation choice that is not among the field's (scoped) choices, on the
  field, instead of saving it as empty; the record scope's write check
  (``core.security.scope``) refuses the rest, and its errors land on the same fields;
- exports any list to CSV (UTF-8 with a byte-order mark, for Excel) and XLSX (openpyxl),
  a text Excel would run as a formula written as text (``core.spreadsheet``);
- never counts the whole table on each page when ``simple_list_pager`` is on (big tables),
  and sorts on the primary key by default;
- saves in one transaction and shows ``BusinessError`` messages on the form's fields;
- shows and accepts every ``DateTime`` column in the chain's local time (``[locale] timezone``)
  while storing naive UTC: form fields (:class:`LocalDateTimeField`), list, detail and export
  values, and the list filters on datetime columns (see ``core.localtime``);
- takes every field label and coded-value label from ``core.labels`` (list, detail and form
  labels, inline forms included, select choices, list filters, exports): a view sets
  ``column_labels`` only to say something else than the model's declared label;
- shows values for people (:meth:`BanyanModelView.display_value`): a coded value by its label,
  money with its currency, quantities and rates without trailing zeros, yes/no for booleans
  in exports, and a foreign key to a store, company, region, warehouse, employee, user or
  category by the record's name (``code name`` for a store) instead of its id;
- lists through ``banyan/list.html``: below 768 px wide each row is a card with the view's key
  fields (``column_card``, :meth:`BanyanModelView.card_columns`), styled by
  ``core/static/banyan/responsive.css``.

``BanyanView`` is the base of custom pages, with the same ``permission`` rule.
"""
from __future__ import annotations

import io
import logging

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView, filters as sqla_filters
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import DateTimeField
from flask_admin.model.form import converts
from flask_admin.helpers import get_redirect_target
from jinja2 import pass_context
from sqlalchemy import Integer
from sqlalchemy.exc import DataError, IntegrityError
from wtforms import StringField
from wtforms.validators import Length, StopValidation

from core.admin.listing import ListingMixin
from core.errors import BusinessError
from core.fields import rule_of
from core.i18n import format_money, gettext, lazy_gettext as _l, with_colon
from core.labels import HookChoices, codes_of, field_label, yes_no
from core.localtime import format_local, to_local, to_utc
from core.spreadsheet import csv_cell, xlsx_row

log = logging.getLogger(__name__)

SENSITIVE_PERMISSION = "core.customer.view_sensitive"
ATTACHMENTS_TEMPLATE = "banyan/details_attachments.html"
MASK = "****"
#: starts every CSV export: Excel opens UTF-8 (Chinese text) correctly only after it
CSV_BOM = "\ufeff"


class RequestSession:
    """Stands in for a session in Flask-Admin: every use goes to the request's session.

    Flask-Admin (2.x) wants a database object whose ``session`` attribute is the session,
    and deprecates a bare session; this object is both: its ``session`` is itself, a proxy
    of the request's session."""

    @property
    def session(self):
        return self

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        from core.web import db_session

        return getattr(db_session(), name)


def mask(value) -> str:
    """Hide a sensitive value, keeping only its last four characters when it is long."""
    if value is None or value == "":
        return ""
    text = str(value)
    return MASK + text[-4:] if len(text) >= 8 else MASK


def _deny():
    from core.web import current_user

    if current_user() is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return abort(403)


class _Permissioned:
    #: the permission that opens the view; ``core.api.AUTHENTICATED`` = any signed-in user
    permission: str | None = None

    def is_accessible(self):
        from core.api import AUTHENTICATED
        from core.web import current_user, has_perm

        if current_user() is None or not self.permission:
            return False
        return self.permission == AUTHENTICATED or has_perm(self.permission)

    def inaccessible_callback(self, name, **kwargs):
        return _deny()


class BanyanView(_Permissioned, BaseView):
    """A custom back-office page; ``permission`` is required to see it."""


def _form_field(form, key: str):
    """The field of ``form`` an error key names: the field itself, or the relation field
    of a foreign-key column (``store_id`` -> ``store``, as the record scope names them)."""
    if form is None:
        return None
    name = key.split(".")[0]
    for candidate in (name, name[:-3] if name.endswith("_id") else None):
        if candidate and candidate in form:
            return form[candidate]
    return None


def apply_business_error(form, exc: BusinessError) -> None:
    """Put each message on its form field (flash the ones without a field)."""
    for key, messages in exc.errors.items():
        field = _form_field(form, key)
        if field is not None:
            field.errors = list(field.errors or ()) + list(messages)
        else:
            for m in messages:
                flash(m, "error")


def _form_conflict(form, exc):
    """The unique constraint ``exc`` violated as a ``Conflict`` on ``form``'s fields
    (``core.unique``), or None."""
    from core.unique import conflict_of

    try:
        sent = [name for name, field in getattr(form, "_fields", {}).items() if field.data not in (None, "")]
        return conflict_of(exc, None, sent)
    except Exception:
        return None


# --- local time in the back office ----------------------------------------------------------
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class LocalDateTimeField(DateTimeField):
    """A datetime field for people: it shows and accepts the chain's local wall-clock time
    (``YYYY-MM-DD HH:MM:SS``, without the seconds, or a date alone = its local midnight) while
    its ``data`` is naive UTC, as the column stores it. So ``2026-12-01 00:00:00`` typed in
    Shanghai is stored as ``2026-11-30 16:00:00``, and shown back as typed."""

    def __init__(self, label=None, validators=None, format=None, **kw):
        super().__init__(label, validators, format=format or [DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d"], **kw)

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        return to_local(self.data).strftime(DATETIME_FORMAT) if self.data else ""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = to_utc(self.data)


class CodeValidator:
    """A typed coded value (a :class:`core.labels.HookChoices`, whose codes the installed
    addons give at run time, so no select list is built) must be one of the codes: the back
    office refuses an unknown code as the API does."""

    def __init__(self, codes):
        self.codes = codes

    def __call__(self, form, field):
        value = field.data.strip() if isinstance(field.data, str) else field.data
        if field.errors or value in (None, "") or value == getattr(field, "object_data", None):
            return  # empty, or the record's own code (of an addon uninstalled since): kept as it is
        if value not in self.codes:
            raise StopValidation(str(_l("Pick a value from the list.")))


def flash_error(exc: BusinessError, view=None) -> None:
    """Flash a refusal (``BusinessError``) on a back-office page: each message after the
    label of the field it names, in the reader's language (``模板：渠道 email 没有模板 xmas。``),
    the label from the view's ``column_labels`` or ``core.labels`` for its model; a message
    about the whole record (``_``) or a field nothing labels alone, never after a raw field
    code (``template_code: ...``)."""
    model = getattr(view, "model", None)
    own = getattr(view, "column_labels", None) or {}
    for field, messages in exc.errors.items():
        name = str(field).split(".")[0]
        label = None
        if name != "_":
            label = own.get(name)
            if label is None and model is not None:
                label = field_label(model, name)
        for text in messages if isinstance(messages, (list, tuple)) else [messages]:
            flash(with_colon(label) + str(text) if label is not None else str(text), "error")


class CodeInput:
    """The text box of a typed coded value with the codes it takes offered as you type (a
    ``<datalist>`` of the codes the installed addons give now, each with its label): without
    it the form said "Pick a value from the list." under a box that showed no list."""

    def __init__(self, codes):
        self.codes = codes

    def __call__(self, field, **kwargs):
        from markupsafe import Markup, escape
        from wtforms.widgets import TextInput

        listed = f"{field.id}-codes"
        kwargs.setdefault("list", listed)
        kwargs.setdefault("autocomplete", "off")
        options = "".join(f'<option value="{escape(code)}">{escape(str(label))}</option>'
                          for code, label in self.codes.choices())
        return Markup(TextInput()(field, **kwargs)) + Markup(f'<datalist id="{escape(listed)}">{options}</datalist>')


class RuleValidator:
    """A WTForms validator from a column's :class:`core.fields.FieldRule` (range, decimals,
    length, control characters, allowed characters): the back office refuses what the API
    and the database session refuse, with the same messages, on the field."""

    def __init__(self, rule):
        self.rule = rule

    def __call__(self, form, field):
        if field.errors:  # the field could not even parse the input ("Not a valid integer")
            return
        value = field.data
        if isinstance(value, str):
            value = value.strip() if self.rule.kind != "string" else value
            if self.rule.kind != "string" and value == "":
                return
        messages = self.rule.errors(value)
        if self.rule.kind == "string" and any(isinstance(v, Length) for v in field.validators):
            # Flask-Admin's own Length validator already says it
            messages = [m for m in messages if getattr(m, "_args", ("",))[0] != "At most %(max)s characters."]
        if messages:
            # stop the chain: later validators (Flask-Admin's Unique runs a query) must never
            # see a value the column cannot hold (PostgreSQL refuses NUL even in a WHERE)
            raise StopValidation(" ".join(str(m) for m in messages))


def _single_column(prop):
    columns = getattr(prop, "columns", None)
    if columns and len(columns) == 1 and getattr(columns[0], "table", None) is not None:
        return columns[0]
    return None


class LocalModelConverter(AdminModelConverter):
    """Form converter of every Banyan model view (inline forms use it too): ``DateTime``
    columns get :class:`LocalDateTimeField`; a :class:`core.codes.Code` column is a text
    field (its value is normalised when set on the model); every column field gets a
    :class:`RuleValidator` from the column's rule (``core.fields``); every field gets its
    label from ``core.labels`` (unless the view's ``column_labels`` or ``form_args`` say
    otherwise) and a coded column is a select of its declared codes and labels (unless the
    view's ``form_choices`` say otherwise)."""

    _banyan_model = None

    def _get_label(self, name, field_args):
        if "label" in field_args:
            return field_args["label"]
        own = getattr(self.view, "column_labels", None) or {}
        if name in own:
            return own[name]
        if self._banyan_model is not None:
            label = field_label(self._banyan_model, name)
            if label is not None:
                return label
        return super()._get_label(name, field_args)

    def _get_field_override(self, name):
        override = super()._get_field_override(name)
        if override is not None or self._banyan_model is None:
            return override
        if name in (getattr(self.view, "form_choices", None) or {}):
            return None
        codes = codes_of(self._banyan_model, name)
        if codes is None or isinstance(codes, HookChoices):
            return None
        column = _single_column(self._banyan_model.__mapper__.attrs[name])
        from flask_admin.form import Select2Field

        def select(**kwargs):
            return Select2Field(choices=codes.choices(), allow_blank=bool(column is not None and column.nullable),
                                **kwargs)

        return select

    def convert(self, model, mapper, name, prop, field_args, hidden_pk):
        self._banyan_model = model
        column = _single_column(prop)
        # every column a person types, a typed primary key too (a role's code); not the
        # generated integer ids
        if column is not None and not (column.primary_key and isinstance(column.type, Integer)):
            rule = rule_of(column)
            if rule.kind != "other":
                field_args = dict(field_args or {})
                field_args["validators"] = [RuleValidator(rule), *(field_args.get("validators") or ())]
            codes = codes_of(model, name)
            if isinstance(codes, HookChoices):  # typed (its codes are known only at run time): checked
                field_args = dict(field_args or {})
                field_args["validators"] = [*(field_args.get("validators") or ()), CodeValidator(codes)]
        field = super().convert(model, mapper, name, prop, field_args, hidden_pk)
        kwargs = getattr(field, "kwargs", None)
        if (column is not None and kwargs is not None and "widget" not in kwargs
                and isinstance(codes_of(model, name), HookChoices)
                and issubclass(getattr(field, "field_class", object), StringField)):
            kwargs["widget"] = CodeInput(codes_of(model, name))  # a typed code: its codes offered as you type
        if kwargs is not None and kwargs.get("allow_blank") and not kwargs.get("blank_text"):
            import inspect

            if "blank_text" in inspect.signature(field.field_class.__init__).parameters:
                # an empty choice: a dash, not its value "__None" (WTForms shows the value
                # of an option whose label is empty)
                kwargs["blank_text"] = "—"
        return field

    @converts("core.codes.Code")
    def conv_code(self, *args, **kwargs):
        return self.conv_String(*args, **kwargs)

    @converts("DateTime")
    def convert_datetime(self, field_args, **extra):
        return LocalDateTimeField(**field_args)


class _LocalFilterMixin:
    """A datetime list filter whose typed value is local time (converted to UTC to query);
    a value outside ``core.localtime.YEARS`` is an invalid filter value (flashed, ignored)."""

    def validate(self, value):
        if not super().validate(value):
            return False
        try:
            self.clean(value)
        except ValueError:
            return False
        return True

    def clean(self, value):
        cleaned = super().clean(value)
        if isinstance(cleaned, list):
            return [to_utc(v) for v in cleaned]
        return to_utc(cleaned)


def _local_filter(base):
    return type(f"Local{base.__name__}", (_LocalFilterMixin, base), {})


class LocalFilterConverter(sqla_filters.FilterConverter):
    """List filters: datetime values are typed in the chain's local time."""

    datetime_filters = tuple(f if f is sqla_filters.FilterEmpty else _local_filter(f)
                             for f in sqla_filters.FilterConverter.datetime_filters)


def local_datetime_formatter(view, value, name):
    """Type formatter of export values: a stored datetime in local time."""
    return format_local(value, DATETIME_FORMAT)


def _unbroken(*parts: str):
    """``parts`` as HTML, each kept on one line (a narrow column breaks between them, never
    at a date's hyphens: ``2026-11-`` over ``30`` reads as another date)."""
    from markupsafe import Markup, escape

    return Markup(" ").join(Markup('<span class="text-nowrap">%s</span>') % escape(p) for p in parts)


def local_datetime_cell(view, value, name):
    """Type formatter of list and detail cells: a stored datetime in local time, its date and
    its time each unbroken."""
    return _unbroken(*format_local(value, DATETIME_FORMAT).split(" ", 1))


def date_cell(view, value, name):
    """Type formatter of list and detail cells: a date (ISO 8601), never broken at a hyphen."""
    return _unbroken(value.isoformat())


def _export_bool(view, value, name):
    return str(yes_no(value))


class _ChoiceMap(dict):
    """Flask-Admin's choices map of one coded column, read at each use (labels in the
    request's language; payment methods from the hook): ``get(code)`` is the label."""

    def __init__(self, codes):
        super().__init__()
        self.codes = codes

    def get(self, key, default=None):
        return self.codes.label(key) if key is not None else default

    def __bool__(self):
        return True


#: foreign keys to these tables are shown by the record's name (small tables, fetched once
#: per request through the session's identity map)
NAMED_TABLES = ("core_store", "core_company", "core_region", "core_warehouse", "core_employee", "core_user",
                "core_product_category", "core_role")


#: how many list columns a row's card shows on a phone when the view names none (``column_card``)
CARD_DEFAULT = 4
#: the columns that make a card's title when the view names no ``column_card``, by preference
CARD_TITLES = ("name", "number", "username", "title", "subject", "label", "code", "sku")
#: the columns a card shows first when the view names no ``column_card``: where a row stands
CARD_STATES = ("status", "state")
#: a row's money a card shows when the view names no ``column_card``: the first of these names
#: among the list's money columns (``core.db.Money``; a unit price or cost is not the row's money)
CARD_MONEY = ("amount", "total", "net_amount", "balance")


def fraction_text(value) -> str:
    """A rate stored as a fraction, as the back office shows it: ``0.0500`` ->
    ``"0.05 (5%)"``, ``0.0125`` -> ``"0.0125 (1.25%)"``; ``None`` -> ``""``."""
    if value is None:
        return ""
    from decimal import Decimal

    return f"{plain_number(Decimal(value))} ({plain_number(Decimal(value) * 100)}%)"


def month_text(value) -> str:
    """A month as the back office shows it: ``202611`` (an int ``yyyymm``) or
    ``date(2026, 11, 1)`` -> ``"2026-11"``; ``None`` -> ``""``; anything else as ``str``."""
    from datetime import date

    if value is None:
        return ""
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, int) and 100001 <= value <= 999912:
        return f"{value // 100:04d}-{value % 100:02d}"
    return str(value)


def _month_formatter(view, context, model, name):
    return month_text(getattr(model, name, None))


def _fraction_formatter(view, context, model, name):
    return fraction_text(getattr(model, name, None))


def plain_number(value) -> str:
    """A Decimal without trailing zeros and without an exponent (``2.500`` -> ``2.5``,
    ``3.000`` -> ``3``)."""
    text = format(value.normalize(), "f") if value == value else str(value)
    return text


class BanyanModelView(_Permissioned, ListingMixin, ModelView):
    """Permission-aware, scope-aware model view (see the module docstring)."""

    write_permission: str | None = None
    #: what the view offers at all; the user also needs ``write_permission`` to write
    allow_create = True
    allow_edit = True
    allow_delete = False
    can_view_details = True
    allow_export = True
    export_types = ["csv", "xlsx"]
    export_max_rows = 100_000
    page_size = 50
    column_display_pk = True
    #: big tables: prev/next pager without a COUNT of the whole table on every page
    simple_list_pager = False
    #: the details page lists the record's files, with upload and delete for writers
    #: (``core.files``); the model must be declared by ``register_file_owners``
    attachments = False
    #: datetimes are shown, typed and filtered in the chain's local time (stored UTC)
    model_form_converter = LocalModelConverter
    filter_converter = LocalFilterConverter()
    #: the list: on a narrow screen (below 768 px) each row is a card (``core/static/banyan/
    #: responsive.css``); a view's own list template should extend this one to keep the cards
    list_template = "banyan/list.html"
    #: the key fields a list row's card shows on a phone, by list column name, the card's
    #: title first (see :meth:`card_columns`); None = a name-like column as the title, then
    #: the first list columns, less a generated integer id (:data:`CARD_DEFAULT` in all)
    column_card: tuple[str, ...] | None = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # a subclass writing ``can_create = True`` must not bypass the write permission
        for flag in ("create", "edit", "delete", "export"):
            if f"can_{flag}" in cls.__dict__ and not isinstance(cls.__dict__[f"can_{flag}"], property):
                setattr(cls, f"allow_{flag}", bool(cls.__dict__[f"can_{flag}"]))
                delattr(cls, f"can_{flag}")

    def __init__(self, model, name=None, category=None, endpoint=None, url=None, **kw):
        if self.column_default_sort is None:
            pk = model.__mapper__.primary_key[0].key
            self.column_default_sort = (pk, True)
        self._declare_labels(model)
        self._declare_fractions(model)  # before the forms are built (their descriptions)
        self._declare_months(model)
        from core.admin.ajax import default_ajax_refs

        # customers and products are picked by typing (scoped), not from a capped dropdown
        self.form_ajax_refs = default_ajax_refs(model, self.form_ajax_refs, self.form_excluded_columns)
        super().__init__(model, RequestSession(), name=name, category=category, endpoint=endpoint,
                         url=url, **kw)
        from datetime import date, datetime

        self.column_type_formatters_export = dict(self.column_type_formatters_export)
        self.column_type_formatters_export.setdefault(datetime, local_datetime_formatter)
        for attr in ("column_type_formatters", "column_type_formatters_detail"):
            formatters = dict(getattr(self, attr))
            formatters.setdefault(datetime, local_datetime_cell)
            formatters.setdefault(date, date_cell)
            setattr(self, attr, formatters)
        self.column_type_formatters_export = {**self.column_type_formatters_export, bool: _export_bool}
        for attr, codes in self._coded.items():
            self._column_choices_map[attr] = _ChoiceMap(codes)

    def _declare_labels(self, model) -> None:
        """Labels and coded-value sets of the model's fields from ``core.labels``; what the
        view's class says itself (``column_labels``, ``column_choices``) wins."""
        own_labels = dict(self.column_labels or {})
        own_choices = dict(self.column_choices or {})
        labels, self._coded = {}, {}
        for attr in model.__mapper__.attrs.keys():
            label = field_label(model, attr)
            if label is not None:
                labels[attr] = label
            codes = codes_of(model, attr)
            if codes is not None and attr not in own_choices:
                self._coded[attr] = codes
        # the list filters' options (static sets; a hook's set has no options at startup)
        choices = {attr: codes.choices() for attr, codes in self._coded.items() if not isinstance(codes, HookChoices)}
        self.column_labels = {**labels, **own_labels}
        self.column_choices = {**choices, **own_choices}
        if self.attachments and self.details_template != ATTACHMENTS_TEMPLATE:
            self.attachments_base_template = self.details_template
            self.details_template = ATTACHMENTS_TEMPLATE
            self.can_view_details = True

    def _declare_fractions(self, model) -> None:
        """Columns declared ``info={"fraction": True}`` hold a rate as a fraction (0.05 = 5 %;
        franchise royalties, tier discounts, a hold-out share). Other rates are typed as
        percents (commissions, promotions): so the operator always knows which, the form
        says it under the field and the list and details show both (``0.05 (5%)``).
        Exports keep the number."""
        fractions = [c.key for c in model.__table__.columns if (c.info or {}).get("fraction")]  # Column.info
        if not fractions:
            return
        self.form_args = dict(self.form_args or {})
        formatters = dict(self.column_formatters or {})
        detail = dict(getattr(self, "column_formatters_detail", None) or {})
        for key in fractions:
            self.form_args[key] = {"description": _l("A fraction: 0.05 means 5 %."), **self.form_args.get(key, {})}
            formatters.setdefault(key, _fraction_formatter)
            detail.setdefault(key, _fraction_formatter)
        self.column_formatters = formatters
        if hasattr(self, "column_formatters_detail"):
            self.column_formatters_detail = detail

    def _declare_months(self, model) -> None:
        """Columns declared ``info={"month": True}`` hold a month (an int ``yyyymm``, as
        commission periods, or a date on the month's first day, as a franchise statement's):
        the list and details show ``2026-11``, not ``202611`` or ``2026-11-01``. Exports and
        forms keep the stored value."""
        months = [c.key for c in model.__table__.columns if (c.info or {}).get("month")]  # Column.info
        if not months:
            return
        formatters = dict(self.column_formatters or {})
        detail = dict(getattr(self, "column_formatters_detail", None) or {})
        for key in months:
            formatters.setdefault(key, _month_formatter)
            detail.setdefault(key, _month_formatter)
        self.column_formatters = formatters
        if hasattr(self, "column_formatters_detail"):
            self.column_formatters_detail = detail

    def attachments_panel(self, model):
        """The attachments panel's data for ``model`` (``core.files.admin.panel``)."""
        from core.files.admin import panel

        return panel(self, model) if self.attachments else None

    def _prettify_name(self, name):
        """Column and field names without a label: translated when a catalog has them."""
        return _l(name.replace("_", " ").strip().capitalize())

    def card_columns(self, list_columns) -> tuple[str, ...]:
        """The list columns a row's card shows on a phone: the card's title, then the other
        key fields in the list's order. With ``column_card``, the title is its first name the
        list shows and the key fields are its names the list shows (an unknown name is
        ignored, so a view may name a column another addon removes). Without, the title is
        the list's first column among :data:`CARD_TITLES`, and the key fields its status
        (:data:`CARD_STATES`), its money (:data:`CARD_MONEY`) and the first list columns that
        are not a generated integer primary key, :data:`CARD_DEFAULT` columns in all.
        ``list_columns`` are the list's ``(name, label)`` pairs."""
        names = [str(c) for c, _label in list_columns]
        if self.column_card is not None:
            wanted = [n for n in map(str, self.column_card) if n in names]
            title = wanted[0] if wanted else None
            rest = [n for n in names if n in wanted and n != title]
        else:
            generated = {c.key for c in self.model.__mapper__.primary_key if isinstance(c.type, Integer)}
            names = [n for n in names if n not in generated]
            title = next((t for t in CARD_TITLES if t in names), None)
            others = [n for n in names if n != title]
            # a row's status and its money are always among its key fields (a ticket's, an
            # order's, a commission line's amount), then the list's first columns; the card
            # shows them in the list's order
            money = [n for n in others if n in self._money_columns()]
            money = [n for n in CARD_MONEY if n in money][:1]
            first = [n for n in others if n in CARD_STATES] + money
            chosen = set((first + [n for n in others if n not in first])[:CARD_DEFAULT - (title is not None)])
            rest = [n for n in others if n in chosen]
        return tuple(([title] if title else []) + rest)

    def _money_columns(self) -> set[str]:
        """The model's attributes holding money (``core.db.Money``: Numeric(14, 2))."""
        out = set()
        for key, prop in self.model.__mapper__.column_attrs.items():
            typ = prop.columns[0].type
            if (getattr(typ, "precision", None), getattr(typ, "scale", None)) == (14, 2):
                out.add(key)
        return out

    # --- permissions -----------------------------------------------------------------------
    def can_write(self) -> bool:
        from core.web import has_perm

        return has_perm(self.write_permission or self.permission)

    @property
    def can_create(self):
        return self.allow_create and self.can_write()

    @property
    def can_edit(self):
        return self.allow_edit and self.can_write()

    @property
    def can_delete(self):
        return self.allow_delete and self.can_write()

    @property
    def can_export(self):
        return self.allow_export

    def is_action_allowed(self, name):
        if not super().is_action_allowed(name):
            return False
        if name == "export_selected":
            return self.allow_export
        if name == "deactivate":
            return hasattr(self.model, "active") and self.allow_edit and self.can_write()
        if name == "delete":
            return self.can_delete
        return self.can_write()

    # --- sensitive fields ------------------------------------------------------------------
    def sensitive_fields(self) -> tuple[str, ...]:
        return tuple(getattr(self.model, "__sensitive__", ()) or ())

    def sees_sensitive(self) -> bool:
        from core.web import has_perm

        return has_perm(SENSITIVE_PERMISSION)

    def _hidden(self, name) -> bool:
        return str(name) in self.sensitive_fields() and not self.sees_sensitive()

    @pass_context
    def get_list_value(self, context, model, name):
        if self._hidden(name):
            return mask(getattr(model, str(name), None))
        shown = self.display_value(model, name, self.column_formatters)
        return super().get_list_value(context, model, name) if shown is None else shown

    @pass_context
    def get_detail_value(self, context, model, name):
        if self._hidden(name):
            return mask(getattr(model, str(name), None))
        shown = self.display_value(model, name, self.column_formatters_detail)
        return super().get_detail_value(context, model, name) if shown is None else shown

    def get_export_value(self, model, name):
        if self._hidden(name):
            return mask(getattr(model, str(name), None))
        shown = self.display_value(model, name, self.column_formatters_export, export=True)
        return super().get_export_value(model, name) if shown is None else shown

    def display_value(self, model, name, formatters, export: bool = False):
        """The value of column ``name`` for people, or None to let Flask-Admin format it (a
        view's own column formatter, a coded value, a datetime, anything else). Money shows
        with its currency (``model.currency`` or CNY; exports keep the number), other
        decimals without trailing zeros, a foreign key to a :data:`NAMED_TABLES` row by the
        row's name."""
        from decimal import Decimal

        from sqlalchemy import Numeric

        name = str(name)
        if name in (formatters or {}) or "." in name:
            return None
        if name == "note" and hasattr(model, "note_code") and hasattr(type(model), "note_text"):
            return model.note_text  # core.mixins.CodedNote: the coded sentence in the reader's language
        if name in self._coded:  # Flask-Admin's choices map; an empty code shows as nothing
            return "" if getattr(model, name, None) in (None, "") else None
        prop = self.model.__mapper__.attrs.get(name)
        column = _single_column(prop) if prop is not None else None
        if column is None:
            return None
        value = getattr(model, name, None)
        if value is None:
            return None
        if isinstance(value, Decimal) and isinstance(column.type, Numeric):
            if (column.type.precision, column.type.scale) == (14, 2):  # core.db.Money
                return value if export else format_money(value, getattr(model, "currency", None) or "CNY")
            return plain_number(value)
        fks = list(column.foreign_keys)
        if len(fks) == 1 and fks[0].column.table.name in NAMED_TABLES:
            target = _model_of(fks[0].column.table.name)
            if target is not None and target.__mapper__.primary_key[0].name == fks[0].column.name:
                row = self.session.get(target, value)
                return str(row) if row is not None else value
        return None

    def edit_form(self, obj=None):
        """The edit form; for users who may not see sensitive values, the sensitive fields of
        the record and of its inline rows (``__sensitive__`` of their models) show the masked
        value, read-only, and are never written back (see :func:`mask_form_field`)."""
        form = super().edit_form(obj)
        if obj is not None and not self.sees_sensitive():
            mask_sensitive(form, obj)
        return form

    def validate_form(self, form):
        """Flask-Admin's validation, plus two checks of every field, inline rows included: a
        posted choice that is not among the field's choices (a store, customer or promotion
        outside the user's scope) is an error on that field, never saved as "none"; and a
        masked sensitive value may not be changed."""
        ok = super().validate_form(form)
        from flask_admin.helpers import is_form_submitted

        if is_form_submitted():
            ok = check_posted_fields(form) and ok
        return ok

    # --- export ----------------------------------------------------------------------------
    @expose("/export/<export_type>/")
    def export(self, export_type):
        if self.can_export and export_type in self.export_types:
            if export_type == "xlsx":
                return self._export_xlsx()
            if export_type == "csv":
                return self._export_csv_now()
        return super().export(export_type)

    def _export_csv_now(self):
        """CSV built inside the request (Flask-Admin streams it after the request's session
        is closed, which breaks lazy relations)."""
        import csv

        from flask import Response
        from werkzeug.utils import secure_filename

        _count, data = self._export_data()
        out = io.StringIO()
        out.write(CSV_BOM)  # Excel reads the file as UTF-8 (Chinese text) only with the byte-order mark
        w = csv.writer(out)
        w.writerow([str(c[1]) for c in self._export_columns])
        for row in data:
            w.writerow([csv_cell(_cell(self.get_export_value(row, c[0]))) for c in self._export_columns])
        filename = secure_filename(self.get_export_name("csv"))
        return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment;filename={filename}"})

    def _export_xlsx(self):
        from flask import Response
        from openpyxl import Workbook
        from werkzeug.utils import secure_filename

        _count, data = self._export_data()
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(str(self.name)[:31] or "export")
        ws.append([str(c[1]) for c in self._export_columns])
        for row in data:
            ws.append(xlsx_row(ws, [_cell(self.get_export_value(row, c[0])) for c in self._export_columns]))
        buf = io.BytesIO()
        wb.save(buf)
        filename = secure_filename(self.get_export_name("xlsx"))
        return Response(buf.getvalue(), headers={"Content-Disposition": f"attachment;filename={filename}"},
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    # --- saving: one transaction, BusinessError on the fields ------------------------------
    def _fail(self, form, exc) -> bool:
        self.session.rollback()
        if isinstance(exc, BusinessError):
            apply_business_error(form, exc)
        elif isinstance(exc, IntegrityError) and (named := _form_conflict(form, exc)) is not None:
            apply_business_error(form, named)  # the unique constraint's field, on the form
        elif isinstance(exc, IntegrityError):
            flash(gettext("This record clashes with another one (a code or number already used?)."), "error")
        elif isinstance(exc, DataError):  # a value the rules did not foresee: refused, not a 500
            log.warning("back office: database refused a value: %s", exc.orig)
            flash(gettext("A value does not fit its field."), "error")
        else:
            raise exc
        return False

    def create_model(self, form):
        s = self.session
        try:
            model = self.build_new_instance()
            form.populate_obj(model)
            s.add(model)
            self._on_model_change(form, model, True)
            s.flush()
            s.commit()
        except (BusinessError, IntegrityError, DataError) as exc:
            return self._fail(form, exc)
        self.after_model_change(form, model, True)
        return model

    def update_model(self, form, model):
        s = self.session
        try:
            form.populate_obj(model)
            self._on_model_change(form, model, False)
            s.flush()
            s.commit()
        except (BusinessError, IntegrityError, DataError) as exc:
            return self._fail(form, exc)
        self.after_model_change(form, model, False)
        return True

    def delete_model(self, model):
        s = self.session
        try:
            self.on_model_delete(model)
            s.delete(model)
            s.flush()
            s.commit()
        except (BusinessError, IntegrityError) as exc:
            s.rollback()
            if isinstance(exc, BusinessError):
                for messages in exc.errors.values():
                    for m in messages:
                        flash(m, "error")
            else:
                flash(gettext("This record is still in use and cannot be deleted."), "error")
            return False
        self.after_model_delete(model)
        return True

    # --- ids, pages, searches and filters from the request -----------------------------------
    def _key(self, raw):
        """``raw`` (a posted or query-string id) as a value of the model's primary key, or
        None when it cannot be one (not a number, out of the column's range, a control
        character): such an id names no record, it is never sent to the database."""
        from core.admin.args import has_control, record_id

        pk = self.model.__mapper__.primary_key
        if len(pk) != 1 or raw is None:
            return None
        try:
            if pk[0].type.python_type is int:
                return record_id(raw)
        except (TypeError, ValueError, NotImplementedError):
            return None
        return None if has_control(str(raw)) else str(raw)

    def _composite_key(self, raw):
        """``raw`` (Flask-Admin's ``"a,b"`` encoding) as a tuple of the model's primary key
        columns, or None when it has another number of parts or a part cannot be a value of
        its column (as :meth:`_key`)."""
        from flask_admin.contrib.sqla.tools import iterdecode

        from core.admin.args import has_control, record_id

        pk = self.model.__mapper__.primary_key
        try:
            parts = iterdecode(str(raw)) if raw is not None else ()
        except Exception:  # a malformed encoding names no record
            return None
        if len(parts) != len(pk):
            return None
        out = []
        for col, part in zip(pk, parts):
            try:
                out.append(record_id(part) if col.type.python_type is int else part)
            except (TypeError, ValueError, NotImplementedError):
                return None
            if out[-1] is None or has_control(str(part)):
                return None
        return tuple(out)

    def _missing_record(self) -> bool:
        """True when the request names a record (``?id=``) that this user cannot have: unknown,
        malformed, or outside their scope (the scoped session hides it)."""
        from flask_admin.model.helpers import get_mdict_item_or_list

        id = get_mdict_item_or_list(request.args, "id")
        return id is not None and self.get_one(id) is None

    @expose("/details/")
    def details_view(self):
        """A record's page; a record the user cannot have is the 404 page inside the layout
        (Flask-Admin would send them back to the list with a notice), whether it does not
        exist or is another store's: the answer does not tell which."""
        if self.can_view_details and self._missing_record():
            abort(404)
        return super().details_view()

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        """The edit form; a record the user cannot have is the 404 page, as :meth:`details_view`."""
        if self.can_edit and self._missing_record():
            abort(404)
        return super().edit_view()

    def get_one(self, id):
        """The record ``id`` names (through the scoped session), or None: Flask-Admin then
        says the record does not exist, whether the id is malformed, unknown or another
        store's."""
        if len(self.model.__mapper__.primary_key) != 1:
            key = self._composite_key(id)  # "1" for a two-column key names nothing: never sent
            return self.session.get(self.model, key) if key is not None else None
        key = self._key(id)
        return self.session.get(self.model, key) if key is not None else None

    def _get_list_extra_args(self):
        """The list's query string with the page brought into range (a negative or huge
        ``page`` is the first or an empty page, not a database error) and control
        characters dropped from the search."""
        from core.admin.args import MAX_OFFSET, clamp, search_text

        args = super()._get_list_extra_args()
        size = max(args.page_size or self.page_size or 1, 1)
        return args.clone(page=clamp(args.page, 0, MAX_OFFSET // size, 0), search=search_text(args.search))

    def _get_list_filter_args(self):
        """Flask-Admin's filters, without values holding control characters (no stored
        value holds one, and PostgreSQL refuses them in a query)."""
        from core.admin.args import has_control

        found = super()._get_list_filter_args()
        if found is None:
            return None
        return [f for f in found if not has_control(f[2]) and not (
            isinstance(f[2], (list, tuple)) and any(has_control(v) for v in f[2]))]

    # --- bulk actions ----------------------------------------------------------------------
    def selected(self, ids):
        """The records of the posted ``ids`` the user may see (ids that cannot name a record
        are left out)."""
        pk = self.model.__mapper__.primary_key[0]
        values = [k for k in (self._key(i) for i in ids) if k is not None]
        if not values:
            return []
        return self.session.query(self.model).filter(pk.in_(values)).all()

    @action("deactivate", _l("Deactivate"), _l("Deactivate the selected records?"))
    def action_deactivate(self, ids):
        try:
            rows = self.selected(ids)
            for row in rows:
                row.active = False
            self.session.flush()
            self.session.commit()
        except BusinessError as exc:
            self.session.rollback()
            flash(str(exc), "error")
            return
        flash(gettext("%(num)d record(s) deactivated.", num=len(rows)))

    @action("export_selected", _l("Export selected (CSV)"))
    def action_export_selected(self, ids):
        import csv

        from flask import Response

        rows = self.selected(ids)
        out = io.StringIO()
        out.write(CSV_BOM)  # Excel reads the file as UTF-8 (Chinese text) only with the byte-order mark
        w = csv.writer(out)
        w.writerow([str(c[1]) for c in self._export_columns])
        for row in rows:
            w.writerow([csv_cell(_cell(self.get_export_value(row, c[0]))) for c in self._export_columns])
        return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment;filename={self.endpoint}-selected.csv"})

    def redirect_back(self):
        return redirect(get_redirect_target() or self.get_url(".index_view"))


# --- form checks: choices within scope, masked sensitive values --------------------------------

def _subforms(form):
    """``(field, subform)`` pairs of the inline rows and nested forms of ``form``."""
    for field in form:
        for entry in getattr(field, "entries", None) or ():
            sub = getattr(entry, "form", None)
            if sub is not None:
                yield entry, sub
        sub = getattr(field, "form", None) if not hasattr(field, "entries") else None
        if sub is not None and hasattr(sub, "_fields"):
            yield field, sub


def check_posted_fields(form) -> bool:
    """Add an error to every relation field whose posted value is not one of its choices,
    and to every masked field whose value was changed; ``False`` if any. Recurses into
    inline forms."""
    from flask_admin.contrib.sqla.fields import QuerySelectField, QuerySelectMultipleField
    from flask_admin.model.fields import AjaxSelectField

    ok = True
    for field in form:
        raw = (field.raw_data or [None])[0] if getattr(field, "raw_data", None) is not None else None
        single = isinstance(field, (QuerySelectField, AjaxSelectField)) and not isinstance(field, QuerySelectMultipleField)
        if single:
            if raw not in (None, "", "__None") and field.data is None:
                field.errors = list(field.errors or ()) + [
                    gettext("Not a valid choice: it is not among the records you may use.")]
                ok = False
        masked = getattr(field, "_banyan_masked", None)
        posted = getattr(field, "_banyan_posted", None)
        if masked is not None and posted is not None and posted not in masked:
            field.errors = list(field.errors or ()) + [gettext("You may not change this field.")]
            ok = False
    for _field, sub in _subforms(form):
        ok = check_posted_fields(sub) and ok
    return ok


def _skip_populate(obj, name):
    """A masked field writes nothing: the stored value stays as it is."""


def mask_form_field(field, value) -> None:
    """Show ``value`` masked and read-only in ``field``; posting the masked value back
    (unchanged) keeps the stored value, any other value is refused by
    :func:`check_posted_fields`."""
    shown = mask(value)
    field._banyan_posted = (field.raw_data or [None])[0] if request.method == "POST" else None
    field._banyan_masked = {shown, "" if value is None else str(value)}
    field.data = shown
    field.raw_data = [shown]
    field.render_kw = {**(field.render_kw or {}), "readonly": True}
    field.populate_obj = _skip_populate


def mask_sensitive(form, obj) -> None:
    """Mask the sensitive fields of ``obj`` in ``form`` and of its inline rows that already
    exist (a new inline row is typed in full)."""
    for name in getattr(type(obj), "__sensitive__", ()) or ():
        if name in form:
            mask_form_field(form[name], getattr(obj, name, None))
    for field in form:
        model = getattr(field, "model", None)
        entries = getattr(field, "entries", None)
        if model is None or not entries or getattr(field, "inline_view", None) is None:
            continue
        from flask_admin.contrib.sqla.fields import get_field_id, get_obj_pk
        from flask_admin.contrib.sqla.tools import get_primary_key

        pk = get_primary_key(model)
        rows = {get_obj_pk(row, pk): row for row in getattr(obj, field.name, None) or ()}
        for entry in entries:
            row = rows.get(get_field_id(entry))
            if row is not None:
                mask_sensitive(entry.form, row)


def _model_of(table: str):
    """The mapped class of ``table``, or None."""
    from core.db import Base

    found = _MODELS.get(table)
    if found is None:
        for mapper in Base.registry.mappers:
            if getattr(mapper.class_, "__tablename__", None) == table:
                found = _MODELS[table] = mapper.class_
    return found


_MODELS: dict[str, type] = {}


def _cell(value):
    from decimal import Decimal

    from markupsafe import Markup

    if isinstance(value, Markup):
        return value.striptags()
    if isinstance(value, Decimal):
        return value
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)
