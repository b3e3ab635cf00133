"""Labels for people: the one place for the label of every field and of every coded value.

Coded values
    A *coded value* is a short code stored in a column (``direct``, ``partially_refunded``,
    ``cash``). Each set of codes is a :class:`Choices`, declared once with a translated label
    per code (``lazy_gettext``)::

        STORE_KIND = Choices("core.store.kind", [("direct", _l("Directly operated")),
                                                 ("franchise", _l("Franchise"))])

    ``STORE_KIND.codes`` is the tuple the models and API schemas validate against,
    ``STORE_KIND.label("direct")`` the label in the current language (an unknown code is shown
    as itself), ``STORE_KIND.choices()`` the ``(code, label)`` pairs of a form's select.
    An *open* set (``open=True``) takes more codes from addons: ``SET.add(code, _l(label),
    addon)`` -- the label comes with the code's registration. Sets whose codes a hook
    declares are :class:`HookChoices`: payment methods are the codes the ``payment_methods``
    hook offers, with the labels of their ``PaymentMethod`` (:data:`PAYMENT_METHOD`), and
    price-list kinds those of ``register_price_list_kinds`` (:data:`PRICE_LIST_KIND`).

Field labels
    The label of field ``attr`` of a model is looked up by :func:`field_label`:

    1. what :func:`describe` declared for the model's table and ``attr``;
    2. ``info={"label": ...}`` of the column (or relationship) itself;
    3. for a foreign-key column ``x_id``, the label of relationship ``x`` (and the other
       way round);
    4. the shared vocabulary :data:`FIELD_LABELS` (``code``, ``name``, ``active``, ``store``,
       ``created_at``...), so common names are labelled once for every model.

    The coded-value set of a column comes from :func:`describe` (``codes=``) or the column's
    ``info={"choices": SET}``. The back office (list, detail and form labels, select choices,
    list filters, CSV/XLSX exports) and the API documentation (OpenAPI descriptions and enums)
    all read them from here. Declare a model once, next to it::

        describe(Tier, name=_l("Membership tier"),
                 labels={"min_spend": _l("Spend threshold")},
                 codes={"qualify": TIER_QUALIFY})

    ``name`` is the model's human name (the audit log shows it instead of the table name).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from core.i18n import lazy_gettext as _l, lazy_pgettext

__all__ = ["Choices", "HookChoices", "Phrases", "note_text", "sentence_args", "describe", "field_label", "codes_of", "table_label", "choice_sets",
           "FIELD_LABELS", "YES_NO", "yes_no", "describe_for_docs", "openapi_coded_values"]

_SETS: dict[str, "Choices"] = {}


class Choices:
    """A declared set of codes with their translated labels (see the module docstring).

    ``name`` is a dotted key, unique across the kernel and addons (``"loyalty.promotion.kind"``).
    ``items`` are ``(code, label)`` pairs in display order. ``open`` sets take more codes with
    :meth:`add` (a code already declared is refused: declared once)."""

    def __init__(self, name: str, items: Iterable[tuple[str, Any]] = (), *, open: bool = False):
        if name in _SETS:
            raise ValueError(f"coded value set {name!r} is declared twice")
        self.name = name
        self.open = open
        self._labels: dict[str, Any] = {}
        self._owner: dict[str, str] = {}
        for code, label in items:
            self._put(code, label, "")
        _SETS[name] = self

    def _put(self, code: str, label: Any, addon: str) -> None:
        if code in self._labels:
            raise ValueError(f"{self.name}: code {code!r} is declared twice")
        self._labels[code] = label
        self._owner[code] = addon

    def add(self, code: str, label: Any, addon: str = "") -> None:
        """Register one more code of an open set, with its label; ``addon`` names its owner
        (:meth:`remove_addon` takes its codes away again). ``ValueError`` for a closed set or a
        code already declared."""
        if not self.open:
            raise ValueError(f"{self.name} is not an open set")
        self._put(code, label, addon)

    def remove_addon(self, addon: str) -> None:
        """Forget the codes ``addon`` registered (an addon uninstalled, a test's runtime)."""
        for code in [c for c, owner in self._owner.items() if addon and owner == addon]:
            del self._labels[code], self._owner[code]

    def _items(self) -> dict[str, Any]:
        return self._labels

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes, in display order."""
        return tuple(self._items())

    def label(self, code) -> Any:
        """The label of ``code`` (lazy, in the current language); an unknown code as itself,
        ``""`` for None."""
        if code is None or code == "":
            return ""
        try:
            return self._items().get(code, code)
        except TypeError:  # not a code (a view's formatter already made it a label)
            return code

    def choices(self) -> list[tuple[str, Any]]:
        """``(code, label)`` pairs for a select."""
        return list(self._items().items())

    def __contains__(self, code) -> bool:
        return code in self._items()

    def __iter__(self):
        return iter(self.codes)

    def __len__(self) -> int:
        return len(self._items())

    def __repr__(self) -> str:
        return f"<Choices {self.name} {list(self.codes)}>"


class HookChoices(Choices):
    """A set whose codes and labels something else owns, asked at each use: ``load()``
    returns ``(code, label)`` pairs (payment methods come from the ``payment_methods`` hook,
    so a method an addon registers keeps the label it gave). Codes the last answer did not
    contain (a method of an uninstalled addon, still on old sales) show as themselves."""

    def __init__(self, name: str, load: Callable[[], Iterable[tuple[str, Any]]]):
        super().__init__(name)
        self._load = load

    def _items(self) -> dict[str, Any]:
        try:
            return dict(self._load())
        except Exception:  # noqa: BLE001 - no runtime (docs build, a bare script): no labels
            return {}


class Phrases(Choices):
    """Coded sentences that code writes about a record (why an order is held, where a tier
    change came from): stored as a code plus the figures the sentence needs (a JSON object,
    ``args``), and put together at display time in the reader's language -- never stored as
    a sentence in one language.

    ``items`` are ``(code, label)`` or ``(code, label, sentence)``: ``label`` is the short name
    (filters, select choices, API documentation), ``sentence`` a ``lazy_gettext`` template with
    ``%(name)s`` placeholders filled from ``args``. ``money`` names the args that are amounts
    (shown with the currency of the reader's locale); ``coded`` maps an arg to the
    :class:`Choices` set its value is a code of (shown as that code's label, so a code an
    addon declares reads in the reader's language too)::

        HOLD_REASON = Phrases("franchise.order.hold", [
            ("over_limit", _l("Over the credit limit"),
             _l("Over the credit limit: %(limit)s, owed %(balance)s...")),
        ], money=("limit", "balance"))
        HOLD_REASON.text("over_limit", {"limit": "1000.00", "balance": "900.00"})

    :meth:`label` of ``{"code": ..., "args": {...}}`` is the sentence too (an approval's
    payload keeps a coded sentence that way). Args missing from a stored row show as ``?``."""

    def __init__(self, name: str, items: Iterable[tuple], *, money: Iterable[str] = (),
                 coded: dict[str, "Choices"] | None = None, open: bool = False):
        items = list(items)
        self._sentences = {item[0]: item[2] for item in items if len(item) > 2}
        self.money = frozenset(money)
        self.coded = dict(coded or {})
        super().__init__(name, [(item[0], item[1]) for item in items], open=open)

    def text(self, code, args: dict | None = None) -> str:
        """The sentence of ``code`` with ``args`` (the short label when it has no sentence or
        no args are stored); an unknown code as itself, ``""`` for None."""
        if code is None or code == "":
            return ""
        sentence = self._sentences.get(code)
        if sentence is None or args is None:
            return str(self.label(code))
        return str(sentence) % _Args(self._shown(args))

    def _shown(self, args: dict) -> dict:
        from decimal import Decimal, InvalidOperation

        from core.i18n import format_money

        out = {}
        for key, value in (args or {}).items():
            if key in self.money and value not in (None, ""):
                try:
                    value = format_money(Decimal(str(value)))
                except (InvalidOperation, ValueError):
                    pass
            elif key in self.coded and value not in (None, ""):
                value = str(self.coded[key].label(value))
            out[key] = value
        return out

    def label(self, code) -> Any:
        if isinstance(code, dict):
            return self.text(code.get("code"), code.get("args") or {})
        return super().label(code)


class _Args(dict):
    def __missing__(self, key):
        return "?"


def sentence_args(template: str, text: str | None) -> dict | None:
    """The values a sentence ``text`` was made of with ``template`` (``"Refund of %(sale)s"``,
    ``"Refund of R-0001"`` -> ``{"sale": "R-0001"}``), or None when it was not made with it:
    how a migration turns the sentences code stored before its codes into code and figures.
    Give every language's template the sentence may have been written in."""
    import re

    if not text:
        return None
    pattern, pos = "", 0
    for m in re.finditer(r"%\((\w+)\)s", template):
        pattern += re.escape(template[pos:m.start()]) + f"(?P<{m.group(1)}>.+?)"
        pos = m.end()
    pattern += re.escape(template[pos:])
    found = re.fullmatch(pattern, text.strip(), re.S)
    return found.groupdict() if found else None


def note_text(phrases: "Phrases | None", code, args, note=None) -> str:
    """What a record's note says to the reader: the coded sentence (``code`` with ``args``,
    in the current language) and what a person typed (``note``), joined by ``"; "``."""
    parts = []
    if code:
        parts.append(phrases.text(code, args) if phrases is not None else str(code))
    if note:
        parts.append(str(note))
    return "; ".join(parts)


def choice_sets() -> dict[str, Choices]:
    """Every declared set by name (tests, API docs)."""
    return dict(_SETS)


# --- the kernel's coded values -------------------------------------------------------------------

COMPANY_KIND = Choices("core.company.kind", [("hq", _l("Headquarters")), ("branch", _l("Branch")),
                                             ("franchisee", _l("Franchisee"))])
STORE_KIND = Choices("core.store.kind", [("direct", _l("Directly operated")), ("franchise", _l("Franchise"))])
STORE_FORMAT = Choices("core.store.format", [("street", _l("Street")), ("mall_counter", _l("Mall counter")),
                                             ("shop_in_shop", _l("Shop in shop"))])
CUSTOMER_KIND = Choices("core.customer.kind", [("person", _l("Person")), ("company", _l("Company"))])
GENDER = Choices("core.gender", [("F", _l("Female")), ("M", _l("Male"))])
LANGUAGE = Choices("core.language", [("zh_Hans", "中文"), ("en", "English")])
EMPLOYEE_ROLE = Choices("core.employee.role", [
    ("manager", _l("Store manager")), ("clerk", _l("Sales clerk")), ("cashier", _l("Cashier")),
    ("technician", _l("Technician")), ("agent", _l("Call-centre agent")), ("marketer", _l("Marketer")),
    ("staff", _l("Staff"))])
SCOPE_KIND = Choices("core.user.scope_kind", [("all", _l("All stores")), ("company", _l("A company's stores")),
                                              ("region", _l("A region's stores")), ("store", _l("One store"))])
def _price_list_kinds():
    """``(code, label)`` of every price-list kind the kernel and the installed addons declare
    (``register_price_list_kinds``, see ``core.services.pricing.price_list_kinds``)."""
    from core.services.pricing import price_list_kinds
    from core.web import runtime

    return [(code, kind.label) for code, kind in price_list_kinds(runtime().registry).items()]


#: the kernel knows no addon: the kinds come from the registry (retail, wholesale, member...)
PRICE_LIST_KIND = HookChoices("core.price_list.kind", _price_list_kinds)
SALE_KIND = Choices("core.sale.kind", [("sale", _l("Sale")), ("refund", _l("Refund"))])
SALE_STATE = Choices("core.sale.state", [("draft", _l("Draft")), ("confirmed", _l("Confirmed")),
                                         ("partially_refunded", _l("Partially refunded")),
                                         ("refunded", _l("Refunded"))])
APPROVAL_STATE = Choices("core.approval.state", [("pending", _l("Pending")), ("approved", _l("Approved")),
                                                 ("rejected", _l("Rejected")),
                                                 ("withdrawn", _l("Withdrawn"))])
APPROVAL_DECISION = Choices("core.approval.decision", [("approve", _l("Approve")), ("reject", _l("Reject"))])
AUDIT_ACTION = Choices("core.audit.action", [("create", lazy_pgettext("event", "Created")), ("update", _l("Changed")),
                                             ("delete", _l("Deleted"))])
JOB_STATE = Choices("core.job.state", [("running", _l("Running")), ("success", _l("Succeeded")),
                                       ("retrying", _l("Retrying")), ("failed", _l("Failed"))])
MAIL_STATE = Choices("core.mail.state", [("queued", _l("Queued")), ("sending", _l("Sending")),
                                         ("sent", _l("Sent")), ("failed", _l("Failed"))])
#: what the mail worker itself writes in ``core_mail_message.last_error`` (a code, shown as its
#: label in the reader's language); any other value is the SMTP server's or the network's own
#: answer, shown as it came (``label`` of an unknown code is the code). The English sentence
#: written before the code is labelled the same, so old rows read in the reader's language too.
MAIL_PROBLEM = Choices("core.mail.problem", [
    ("worker_stopped", _l("The worker stopped while sending; queued again")),
    ("the worker stopped while sending; queued again", _l("The worker stopped while sending; queued again")),
])
#: what the kernel notes on a sale (``Sale.note_code``/``note_args``, ``core.mixins.CodedNote``):
#: a refund made from the back office's list of sales; ``note`` keeps what a person typed
SALE_NOTE = Phrases("core.sale.note", [("back_office", _l("Refund from the back office"))])
#: why an import failed as a whole (``ImportRun.error_code``/``error_args``), put together in the
#: reader's language; ``error`` keeps only text that is not the kernel's (none is written now)
IMPORT_PROBLEM = Phrases("core.import.problem", [
    ("stopped", _l("The import stopped"), _l("The import stopped: %(error)s")),
    ("rows_have_errors", _l("Nothing was imported: rows have errors"),
     _l("Nothing was imported: %(n)s row(s) have errors.")),
])
IMPORT_MODE = Choices("core.import.mode", [("dry_run", _l("Dry run")), ("all_or_nothing", _l("All or nothing")),
                                           ("valid_only", _l("Valid rows only"))])
IMPORT_STATE = Choices("core.import.state", [("queued", _l("Queued")), ("running", _l("Running")),
                                             ("done", _l("Done")), ("failed", _l("Failed"))])
YES_NO = Choices("core.yes_no", [(True, _l("Yes")), (False, _l("No"))])


def shown(record, attr: str) -> str:
    """Field ``attr`` of ``record`` as a person reads it in the record's name (its
    ``__str__``, which a list shows in another record's column and a picker offers): a coded
    value by its label in the current language (``net_pct`` -> "% of net line amount"), a
    Decimal without trailing zeros or exponent (``2.5000`` -> ``"2.5"``), None as ``""``,
    anything else as ``str``."""
    from decimal import Decimal

    value = getattr(record, attr, None)
    if value is None:
        return ""
    codes = codes_of(type(record), attr)
    if codes is not None:
        return str(codes.label(value))
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value else str(value)
    return str(value)


def yes_no(value) -> Any:
    """"Yes" / "No" (translated) for a boolean, "" for None."""
    return "" if value is None else YES_NO.label(bool(value))


def _payment_methods():
    """``(code, label)`` of every payment method the installed addons offer (the
    ``payment_methods`` hook asked with no ticket: every method, see the hookspec)."""
    from core.web import runtime

    seen = {}
    for group in runtime().registry.hook.payment_methods(session=None, ticket=None, user=None):
        for method in group or ():
            seen.setdefault(method.code, method.label)
    return seen.items()


PAYMENT_METHOD = HookChoices("core.payment.method", _payment_methods)


def _sensitive_actions():
    """``(name, label)`` of every sensitive action the installed addons declare
    (``register_sensitive_actions``)."""
    from core.web import runtime

    return [(a.name, a.label) for group in runtime().registry.hook.register_sensitive_actions()
            for a in (group or ())]


#: the actions of approval requests, by the labels their addons declare
APPROVAL_ACTION = HookChoices("core.approval.action", _sensitive_actions)


# --- field labels --------------------------------------------------------------------------------

#: the shared vocabulary: common attribute names, labelled once for every model
FIELD_LABELS: dict[str, Any] = {
    "computed_at": _l("Computed at"),
    "period": _l("Period"), "position": _l("Position"), "hours": _l("Hours"), "plan": _l("Plan"),
    "id": _l("ID"), "code": _l("Code"), "name": _l("Name"), "kind": _l("Kind"), "parent": _l("Parent"),
    "tax_id": _l("Tax ID"), "active": _l("Active"), "company": _l("Company"), "region": _l("Region"),
    "format": _l("Format"), "operating_company": _l("Operating company"), "address": _l("Address"),
    "phone": _l("Phone"), "opened_on": _l("Opened on"), "store": _l("Store"), "email": _l("Email"),
    "gender": _l("Gender"), "birthday": _l("Birthday"), "id_number": _l("ID number"), "language": _l("Language"),
    "home_store": _l("Home store"), "consent_email": _l("Email consent"), "consent_sms": _l("SMS consent"),
    "consent_wechat": _l("WeChat consent"), "note": _l("Note"), "tags": _l("Tags"), "contacts": _l("Contacts"),
    "title": _l("Title"), "is_decision_maker": _l("Decision-maker"), "sku": _l("SKU"), "barcode": _l("Barcode"),
    "unit": _l("Unit"), "category": _l("Category"), "cost": _l("Cost"), "currency": _l("Currency"),
    "product": _l("Product"), "price": _l("Price"), "valid_from": _l("Valid from"), "valid_to": _l("Valid until"),
    "role": _l("Role"), "manager": _l("Manager"), "username": _l("Username"), "employee": _l("Employee"),
    "locale": _l("Language"), "is_superuser": _l("Superuser"), "scope_kind": _l("Scope"),
    "scope_ref_id": _l("Scope record ID"), "roles": _l("Roles"), "last_login_at": _l("Last sign-in"),
    "user": _l("User"), "prefix": _l("Prefix"), "created_at": lazy_pgettext("time", "Created"), "updated_at": _l("Updated"),
    "last_used_at": _l("Last used"), "revoked_at": _l("Revoked"), "number": _l("Number"), "state": _l("State"),
    "status": _l("Status"), "customer": _l("Customer"), "cashier": _l("Cashier"), "origin": _l("Original sale"),
    "subtotal": _l("Subtotal"), "discount_total": _l("Discounts"), "total": _l("Total"),
    "confirmed_at": lazy_pgettext("time", "Confirmed"), "business_date": _l("Business date"), "lines": _l("Lines"),
    "adjustments": _l("Adjustments"), "payments": _l("Payments"), "at": _l("At"), "model": _l("Record type"),
    "record_id": _l("Record"), "action": _l("Action"), "changes": _l("Changes"), "label": _l("Label"),
    "amount": _l("Amount"), "requested_by": _l("Requested by"), "requested_at": _l("Requested"),
    "required": _l("Approvals needed"), "result": _l("Result"), "payload": _l("Details"),
    "decided_at": _l("Decided"), "votes": _l("Votes"), "sold_by_weight": _l("Sold by weight"),
    "merged_into": _l("Merged into"), "merged_at": lazy_pgettext("time", "Merged"), "member": _l("Member"), "sale": _l("Sale"),
    "points": _l("Points"), "source": _l("Source"), "posted_at": lazy_pgettext("time", "Posted"), "reason": _l("Reason"),
    "method": _l("Method"), "reference": _l("Reference"), "quantity": _l("Quantity"), "qty": _l("Quantity"),
    "promotion": _l("Promotion"), "priority": _l("Priority"), "subject": _l("Subject"), "body": _l("Message"),
    "to_address": lazy_pgettext("mail", "To"), "attempts": _l("Attempts"), "last_error": _l("Last error"), "sent_at": lazy_pgettext("time", "Sent"),
    "next_attempt_at": _l("Next attempt"), "password": _l("Password"), "items": _l("Prices"),
    "unit_price": _l("Unit price"), "discount": _l("Discount"), "clerk": _l("Clerk"), "decision": _l("Decision"),
    "issued_at": lazy_pgettext("time", "Issued"), "closed_at": lazy_pgettext("time", "Closed"), "stock": _l("Stock"), "card": _l("Card"),
    "idempotency_key": _l("Idempotency key"), "request_hash": _l("Request fingerprint"),
    "refunded_qty": lazy_pgettext("qty", "Refunded"), "started_at": _l("Started"), "finished_at": _l("Finished"), "error": _l("Error"),
    "filename": _l("File name"), "size": _l("Size (bytes)"), "content_type": _l("Content type"),
    "read_at": _l("Read"), "url": _l("Link"), "expires_at": _l("Expires"), "entry_id": _l("Ledger entry"),
    "coupon": _l("Coupon"), "used_at": _l("Used"), "version": _l("Version"), "installed_at": lazy_pgettext("time", "Installed"),
    "job": _l("Job"), "attempt": _l("Attempt"), "line": _l("Sale line"), "origin_line": _l("Original line"),
    "origin_payment_id": _l("Original payment"), "request": _l("Approval request"), "price_list": _l("Price list"),
    "permission": _l("Permission"), "year": _l("Year"), "lot": _l("Points lot"),
    "note_code": _l("System note"), "note_args": _l("Figures of the system note"),
}

#: (table, attribute) -> label / coded-value set; table -> the model's human name
_LABELS: dict[tuple[str, str], Any] = {}
_CODES: dict[tuple[str, str], Choices] = {}
_TABLES: dict[str, Any] = {}


def _table_of(model) -> str:
    if isinstance(model, str):
        return model
    table = getattr(model, "__tablename__", None) or getattr(model, "name", None)
    if not table:
        raise TypeError(f"not a model or table: {model!r}")
    return table


def describe(model, *, name: Any = None, labels: dict[str, Any] | None = None,
             codes: dict[str, Choices] | None = None) -> None:
    """Declare the human name of ``model`` (a mapped class, a ``Table`` or a table name), the
    labels of its fields and the coded-value sets of its columns. Call once per model, at
    import time, next to the model (the kernel's are below). Declaring the same field twice
    with another label is a ``ValueError``."""
    table = _table_of(model)
    if name is not None:
        _TABLES[table] = name
    for attr, label in (labels or {}).items():
        if _LABELS.get((table, attr), label) is not label:
            raise ValueError(f"{table}.{attr}: label declared twice")
        _LABELS[(table, attr)] = label
    for attr, choices in (codes or {}).items():
        if not isinstance(choices, Choices):
            raise TypeError(f"{table}.{attr}: codes must be a Choices set")
        _CODES[(table, attr)] = choices


def _prop(model, attr):
    mapper = getattr(model, "__mapper__", None)
    if mapper is None:
        return None
    return mapper.attrs.get(attr) if hasattr(mapper.attrs, "get") else None


def _info(model, attr) -> dict:
    prop = _prop(model, attr)
    if prop is None:
        return {}
    info = dict(getattr(prop, "info", None) or {})
    for column in getattr(prop, "columns", ()) or ():
        info = {**(getattr(column, "info", None) or {}), **info}
    return info


def _own_label(model, attr):
    label = _LABELS.get((_table_of(model), attr))
    if label is None:
        label = _info(model, attr).get("label")
    return label


def _partner(model, attr) -> str | None:
    """The relationship of a foreign-key column ``x_id`` (and the column of relationship
    ``x``), when the model maps it."""
    mapper = getattr(model, "__mapper__", None)
    if mapper is None:
        return None
    rels = mapper.relationships
    if attr in rels:
        local = [c.key for c in rels[attr].local_columns]
        return local[0] if len(local) == 1 and local[0] != attr else None
    for rel in rels:
        local = [c.key for c in rel.local_columns]
        if local == [attr] and not rel.uselist:
            return rel.key
    return None


def field_label(model, attr: str) -> Any:
    """The label of field ``attr`` of ``model`` (see the module docstring for the order), or
    None when nothing declares one."""
    attr = str(attr)
    label = _own_label(model, attr)
    if label is not None:
        return label
    partner = _partner(model, attr)
    if partner is not None:
        label = _own_label(model, partner)
        if label is not None:
            return label
    label = FIELD_LABELS.get(attr)
    if label is None and partner is not None:
        label = FIELD_LABELS.get(partner)
    if label is None and attr.endswith("_id"):
        label = FIELD_LABELS.get(attr[:-3])
    if label is None:
        label = _referenced_table_name(model, attr)
    return label


def _referenced_table_name(model, attr: str) -> Any:
    """For a foreign-key column or a relationship with no label of its own: the human name
    of the table it references (``work_order_id``, ``work_order`` -> "Work order"), when that
    table declares one."""
    prop = _prop(model, attr)
    target = getattr(prop, "mapper", None) if prop is not None else None
    if target is not None:  # a relationship: the human name of the related model
        return _TABLES.get(target.local_table.name)
    table = getattr(model, "__table__", model if hasattr(model, "c") else None)
    column = table.c.get(attr) if table is not None and hasattr(table, "c") else None
    fks = list(column.foreign_keys) if column is not None else []
    if len(fks) != 1:
        return None
    return _TABLES.get(fks[0].column.table.name)


def codes_of(model, attr: str) -> Choices | None:
    """The coded-value set of column ``attr`` of ``model``, or None."""
    found = _CODES.get((_table_of(model), str(attr)))
    if found is None and not isinstance(model, str):
        found = _info(model, str(attr)).get("choices")
    return found


def table_label(table: str) -> Any:
    """The human name of the model of ``table`` (a table name, as the audit log stores it);
    the table name itself when nothing declares one."""
    return _TABLES.get(table, table)


def describe_for_docs(choices: Choices) -> str:
    """``code = label`` pairs in English, for an OpenAPI description."""
    from core.i18n import force_locale

    with force_locale("en"):
        return "; ".join(f"{code} = {label}" for code, label in choices.choices())


def openapi_coded_values(converter, field, ret, **kwargs) -> dict:
    """apispec attribute function (``core.api`` registers it): a field whose ``OneOf``
    validator allows exactly the codes of a declared set, or whose metadata names one
    (``metadata={"codes": SET}``), gets the set's codes as ``enum`` and ``code = label``
    pairs in its description."""
    from marshmallow import validate

    codes = (field.metadata or {}).get("codes")
    if codes is None:
        for v in getattr(field, "validators", ()) or ():
            if isinstance(v, validate.OneOf):
                wanted = set(v.choices)
                codes = next((c for c in _SETS.values() if not isinstance(c, HookChoices) and c.codes
                              and set(c.codes) == wanted), None)
                if codes is not None:
                    break
    if not isinstance(codes, Choices):
        return {}
    text = describe_for_docs(codes)
    before = ret.get("description") or (field.metadata or {}).get("description")
    out = {"description": f"{before} ({text})" if before else text}
    if "enum" not in ret:
        out["enum"] = list(codes.codes) + ([None] if getattr(field, "allow_none", False) else [])
    return out


# --- the kernel's models -------------------------------------------------------------------------

describe("core_company", name=_l("Company"), codes={"kind": COMPANY_KIND})
describe("core_region", name=_l("Region"))
describe("core_store", name=_l("Store"), codes={"kind": STORE_KIND, "format": STORE_FORMAT})
describe("core_warehouse", name=_l("Warehouse"))
describe("core_tag", name=_l("Tag"))
describe("core_customer", name=_l("Customer"),
         codes={"kind": CUSTOMER_KIND, "gender": GENDER, "language": LANGUAGE})
describe("core_customer_contact", name=_l("Customer contact"))
describe("core_product_category", name=_l("Product category"))
describe("core_product", name=_l("Product"), labels={"name_initials": _l("Pinyin initials")})
describe("core_till_favourite", name=_l("Till favourite"), labels={"position": _l("Position")})
describe("core_price_list", name=_l("Price list"), codes={"kind": PRICE_LIST_KIND})
describe("core_price_list_item", name=_l("Price"))
describe("core_employee", name=_l("Employee"), codes={"role": EMPLOYEE_ROLE})
describe("core_role", name=_l("Role"))
describe("core_role_permission", name=_l("Role permission"))
describe("core_user", name=_l("User"), codes={"scope_kind": SCOPE_KIND, "locale": LANGUAGE})
describe("core_api_token", name=_l("API token"), labels={"name": _l("Label"), "prefix": _l("Starts with")})
describe("core_sale", name=_l("Sale"), codes={"kind": SALE_KIND, "state": SALE_STATE, "note_code": SALE_NOTE})
describe("core_sale_line", name=_l("Sale line"))
describe("core_sale_adjustment", name=_l("Sale adjustment"), labels={"rule_code": _l("Rule")})
describe("core_sale_payment", name=_l("Payment"), codes={"method": PAYMENT_METHOD})
describe("core_audit_log", name=_l("Audit log"), labels={"user_id": _l("User")}, codes={"action": AUDIT_ACTION})
describe("core_approval_request", name=_l("Approval request"), codes={"state": APPROVAL_STATE,
                                                                    "action": APPROVAL_ACTION},
         labels={"subject": _l("About")})
describe("core_approval_vote", name=_l("Approval vote"), codes={"decision": APPROVAL_DECISION})
describe("core_job_run", name=_l("Job run"), codes={"state": JOB_STATE},
         labels={"task_id": _l("Task"), "retries_left": _l("Retries left")})
describe("core_mail_message", name=_l("Email"), codes={"state": MAIL_STATE, "locale": LANGUAGE},
         labels={"claim": _l("Claimed by"), "claimed_at": lazy_pgettext("time", "Claimed"), "body": _l("Text")})
describe("core_notification", name=_l("Notification"),
         labels={"link_model": _l("Record type"), "link_id": _l("Record")})
describe("core_import", name=_l("Import"), codes={"mode": IMPORT_MODE, "state": IMPORT_STATE, "locale": LANGUAGE,
                                                  "error_code": IMPORT_PROBLEM},
         labels={"importer": _l("Import of"), "content": _l("File"), "mode": _l("Mode"),
                 "total_rows": _l("Rows"), "processed_rows": _l("Rows read"), "error_rows": _l("Rows with errors"),
                 "written_rows": _l("Rows written"), "errors": _l("Errors"), "error_code": _l("Problem"),
                 "error_args": _l("Figures of the problem")})
describe("core_file", name=_l("File"),
         labels={"owner_addon": _l("Addon"), "owner_table": _l("Record type"), "owner_id": _l("Record"),
                 "sha256": _l("SHA-256"), "storage_key": _l("Storage key"), "uploaded_by_id": _l("Uploaded by"),
                 "uploaded_at": _l("Uploaded")})
