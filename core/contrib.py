"""Frozen result types that hooks return and the kernel applies (the datasette rule)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class Permission:
    """A named right, e.g. ``membership.card.write``; ``default_roles`` get it on install."""

    name: str
    label: Any  # a lazy translatable string
    default_roles: tuple[str, ...] = ("hq_admin",)


@dataclass(frozen=True)
class RoleDef:
    """A role the kernel or an addon declares (``register_roles``): ``code`` is the key users
    and permissions name (``[a-z][a-z0-9_]*``, at most 40 characters), ``label`` and
    ``description`` lazy translated strings. ``addon`` is filled in by the registry."""

    code: str
    label: Any
    description: Any = ""
    addon: str = ""


@dataclass(frozen=True)
class PriceListKind:
    """A kind of price list (``register_price_list_kinds``): ``code`` is stored in
    ``core_price_list.kind`` (``[a-z][a-z0-9_]*``, at most 16 characters), ``label`` a lazy
    translated string. ``addon`` is filled in by the registry."""

    code: str
    label: Any
    addon: str = ""


@dataclass(frozen=True)
class RecordRule:
    """Row scope for ``model``: ``where(scope)`` returns a SQL criterion or ``None`` (no limit).

    ``scope`` is a :class:`core.security.scope.Scope` (the user and the store ids they may see).
    """

    model: type
    name: str
    where: Callable[[Any], Any]


@dataclass(frozen=True)
class Job:
    """A background job; ``schedule`` is a cron expression ("m h dom mon dow") or ``None``."""

    name: str
    func: Callable[..., Any]
    schedule: str | None = None
    retries: int = 3
    retry_delay: int = 60
    timeout: int | None = None


@dataclass(frozen=True)
class FileOwner:
    """Records of ``model`` may carry attachments (``core.files``); returned by
    ``register_file_owners``, declared by the addon that owns ``model``.

    A user reads (lists, downloads) a record's files with ``read_permission`` and adds or
    deletes them with ``write_permission``, and only while the record itself is visible to
    them through the record rules (``core.security.scope``); otherwise the file is "not
    found". The owner is named by ``model``'s table (``spare_parts_repair``)."""

    model: type
    read_permission: str
    write_permission: str

    @property
    def name(self) -> str:
        return self.model.__table__.name


@dataclass(frozen=True)
class Adjustment:
    """A discount (negative ``amount``) or surcharge on a ticket line (``line``) or the ticket.

    ``rule_code`` and ``label`` say which rule made it; they are printed on the ticket.
    ``label`` is a plain string for words typed as data (a promotion's name: stored and shown
    as typed), or a lazy string with its arguments for a sentence your code composes
    (``core.i18n.lazy_gettext("%(tier)s member discount %(pct)s%%", tier=..., pct=...)`` or
    ``lazy_pgettext``): the sale then keeps its msgid and arguments and every reader sees it
    in their own language (``SaleAdjustment.label_text``). Never pass ``gettext(...)``: that
    freezes the sentence in the cashier's language. Arguments are figures and data (strings,
    numbers; a ``Decimal`` is kept as its digits). Adjustments are applied in ascending
    ``priority``.
    """

    amount: Decimal
    rule_code: str
    label: Any  # a str (data, as typed) or a lazy string with its arguments (a sentence)
    line: Any = None
    priority: int = 100


#: The order in which ``price_ticket`` implementations are called (``pricing_stage``). Each
#: stage sees the ticket as the stages before it left it: ``line.total`` is what is left to
#: pay on the line after their adjustments, so a promotion's minimum spend, percentage or
#: special price is measured on the price after the tier discount, and a coupon's on the
#: price after the promotions. Line prices themselves (list price, member price) come
#: before every stage, from ``resolve_price``. Written down in docs/hooks.md.
PRICING_STAGES = {
    "customer": 20,    # the customer's own discount (membership: tier discount)
    "promotion": 50,   # promotions and the coupons that unlock them (loyalty)
    "voucher": 80,     # money-off vouchers and anything priced on the final remainder
}
DEFAULT_PRICING_STAGE = PRICING_STAGES["promotion"]


def pricing_stage(stage: str | int):
    """Decorator for a ``price_ticket`` implementation: the stage it runs in
    (a :data:`PRICING_STAGES` name or a number; default ``"promotion"``)::

        @hookimpl
        @pricing_stage("customer")
        def price_ticket(session, ticket): ...
    """
    number = PRICING_STAGES[stage] if isinstance(stage, str) else int(stage)

    def mark(func):
        func.pricing_stage = number
        return func

    return mark


@dataclass(frozen=True)
class CodeClaim:
    """An addon's answer about one code typed on a ticket (``claim_codes`` hook).

    ``code`` is the canonical code (as in ``ticket.codes``). ``refused`` is None when the
    addon recognises the code and used it on this ticket; otherwise the reason, for the
    cashier (unknown to this addon: return no claim at all). ``addon`` names the claimer.
    ``rule_code``: the ``rule_code`` of the adjustment the code unlocked, when it did (the
    till names that discount after the code)."""

    code: str
    refused: Any = None
    addon: str = ""
    rule_code: str = ""


@dataclass(frozen=True)
class PaymentMethod:
    """A way to pay. ``capture(session, sale, amount, reference)`` takes the money inside the
    sale's transaction (raise BusinessError to refuse); ``refund(session, refund, payment,
    amount)`` gives it back (``amount`` is positive). Either returns an optional reference.
    ``receipt_reference``: whether the receipt prints the reference (masked); False for a
    reference only the addon reads (a ledger entry's id, such as loyalty's ``points:<id>``),
    which the sale's page still shows."""

    code: str
    label: Any
    capture: Callable[..., Any] | None = None
    refund: Callable[..., Any] | None = None
    priority: int = 100
    receipt_reference: bool = True


@dataclass(frozen=True)
class PanelLink:
    """A link under a :class:`SummaryPanel` on the back office's customer page: the Flask
    endpoint (``"membership_member_page.index"``) and its URL parameters. The page shows it
    only when the endpoint exists and the user holds ``permission`` (when given); a
    ``primary`` link is drawn as a button (say "Enrol")."""

    label: Any
    endpoint: str
    params: tuple[tuple[str, Any], ...] = ()
    permission: str | None = None
    primary: bool = False


@dataclass(frozen=True)
class SummaryPanel:
    """A block on the customer page / caller card: ``fields`` is a list of (label, value);
    ``links`` are :class:`PanelLink` objects to the addon's own pages for this customer
    (the back office shows them, the API leaves them out)."""

    title: Any
    fields: tuple[tuple[Any, Any], ...]
    priority: int = 100
    permission: str | None = None
    addon: str = ""
    links: tuple = ()


@dataclass(frozen=True)
class Balance:
    """A ledger-derived balance of a customer (e.g. ``loyalty.points``), for symmetry checks."""

    name: str
    value: Decimal


@dataclass(frozen=True)
class Breach:
    """An invariant that does not hold (``banyan check``), naming the records involved."""

    check: str
    message: str
    records: tuple[str, ...] = ()


#: resolvers a :class:`MergeRule` may name (see its docstring)
MERGE_RESOLVERS = ("keep_kept", "keep_newest", "sum", "owner")


@dataclass(frozen=True)
class MergeRule:
    """How a customer merge resolves the rows of ``table`` that a unique key (primary key,
    unique constraint or unique index) containing a customer column allows only once per
    customer, when the kept AND the removed customer both hold one.

    Returned by ``register_merge_rules``; the table's owner declares it and the kernel
    applies it (``core.services.merge_rules``). A removed customer's row with no counterpart
    on the kept customer is simply re-pointed. For a row that has one, ``resolve`` is:

    - ``"keep_kept"``: the kept customer's row stays, the removed customer's is deleted;
    - ``"keep_newest"``: the row with the larger ``newest_by`` wins; its other columns are
      copied onto the kept row and the removed row is deleted;
    - ``"sum"``: the removed row's ``columns`` are added to the kept row's (e.g. a year's
      points and amount), then the removed row is deleted;
    - ``"owner"``: the kernel leaves the table alone; the owner moves or merges its rows in
      ``on_customer_merged`` (e.g. a 1:1 extension row with children hanging off it);
    - a callable ``resolve(session, table, kept_row, removed_row)`` (``table`` a SQLAlchemy
      ``Table``, the rows as mappings) that folds the removed row into the kept one with SQL;
      the kernel deletes the removed row afterwards.

    The removed row is deleted, so nothing may reference it by foreign key (use ``"owner"``
    then). A table with such a key and no rule refuses to load (``AddonError`` at startup).
    """

    table: str
    resolve: str | Callable[..., Any]
    columns: tuple[str, ...] = ()
    newest_by: str = "id"

    def __post_init__(self):
        if not callable(self.resolve) and self.resolve not in MERGE_RESOLVERS:
            raise ValueError(f"MergeRule({self.table!r}): resolve must be one of "
                             f"{', '.join(MERGE_RESOLVERS)} or a callable, not {self.resolve!r}")
        if self.resolve == "sum" and not self.columns:
            raise ValueError(f"MergeRule({self.table!r}): resolve='sum' needs the columns to add")


@dataclass(frozen=True)
class DashboardWidget:
    """A dashboard block: ``kind`` is "number", "table" or "bar"; ``data`` fits the kind.

    number: {"value": str}; table: {"columns": [...], "rows": [[...]]};
    bar: {"labels": [...], "values": [...], "links"?: [url | None], "kind"?: "bar" | "hbar" |
    "line" | "pie", "money"?: bool}, drawn by ``core.charts``.
    """

    key: str
    title: Any
    kind: str
    data: dict
    priority: int = 100
    permission: str | None = None


@dataclass(frozen=True)
class SensitiveAction:
    """An action that needs ``approvals`` distinct approvers when ``amount`` >= ``threshold``.
    ``independent``: decided outside the side that asks -- a voter limited to the request's
    store or to the company operating it (scope ``store``/``company``) is refused (a
    franchisee releasing its own held order, a store approving the part HQ pays for)."""

    name: str
    label: Any
    approvals: int = 2
    threshold: Decimal | None = None
    independent: bool = False


@dataclass
class DemoContext:
    """What ``banyan demo`` built so far, handed to each addon's ``load_demo_data``."""

    rng: random.Random
    scale: float = 1.0
    companies: list = field(default_factory=list)
    regions: list = field(default_factory=list)
    stores: list = field(default_factory=list)
    customers: list = field(default_factory=list)
    products: list = field(default_factory=list)
    employees: list = field(default_factory=list)
    users: list = field(default_factory=list)
    sales: list = field(default_factory=list)
    months: int = 6
    extra: dict = field(default_factory=dict)


def sort_by_priority(items: Iterable) -> list:
    """Flatten hook results (lists of items) and sort them on ``priority`` (stable)."""
    flat = [x for group in items if group for x in group]
    return sorted(flat, key=lambda x: getattr(x, "priority", 100))


#: value types an :class:`ImportColumn` may declare (how a cell is read before the importer
#: checks it: ``str`` as typed, ``int``/``decimal``/``money`` as text of a number, ``date`` as
#: ``YYYY-MM-DD`` or a spreadsheet date, ``bool`` as yes/no, 1/0, true/false, 是/否)
IMPORT_TYPES = ("str", "int", "decimal", "money", "date", "bool", "phone", "email", "code")


@dataclass(frozen=True)
class ImportColumn:
    """One column of an import file. ``name`` is the machine name (a header may give it, or
    ``label`` in any interface language); ``type`` is one of :data:`IMPORT_TYPES`; ``help``
    is shown in the template and on the import page."""

    name: str
    label: Any
    required: bool = False
    type: str = "str"
    help: Any = None

    def __post_init__(self):
        if self.type not in IMPORT_TYPES:
            raise ValueError(f"ImportColumn({self.name!r}): type must be one of {', '.join(IMPORT_TYPES)}")


@dataclass(frozen=True)
class Importer:
    """A kind of record that can be bulk-imported (``register_importers``).

    The kernel reads the file, maps headers to ``columns``, skips blank rows and refuses a
    missing required value, then hands each row (``{column name: cell text or None}``) to
    ``parse(ctx, row)``, which returns the row's clean values or raises
    ``core.errors.BusinessError({column: message})``: the same field rules the API and the
    back office apply (``core.validation``, ``core.codes``). Values of the ``unique``
    columns (after ``parse``) must not repeat inside the file.

    Writing, one of:

    - ``load_row(ctx, values)``: writes one row through the addon's services (each row in
      its own savepoint, so a row refused by a service is reported and, with "valid rows
      only", skipped);
    - ``load_batch(ctx, rows)``: writes a chunk of rows (``[(row number, values)]``) at once
      (``insert().values`` / executemany), for large files. It may return
      ``{row number: {column: message}}`` for rows it refuses (duplicates found in SQL);
      it must then write none of the refused rows.

    ``ctx`` is a ``core.imports.ImportContext`` (session scoped to the importing user,
    the user, their stores, a per-run ``cache`` dict). ``permission`` is needed to import.
    """

    name: str
    label: Any
    columns: tuple
    permission: str
    parse: Callable[..., Any]
    load_row: Callable[..., Any] | None = None
    load_batch: Callable[..., Any] | None = None
    unique: tuple[str, ...] = ()
    help: Any = None
    priority: int = 100
    addon: str = ""

    def __post_init__(self):
        if (self.load_row is None) == (self.load_batch is None):
            raise ValueError(f"Importer({self.name!r}): give exactly one of load_row and load_batch")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"Importer({self.name!r}): a column name is given twice")
        missing = [u for u in self.unique if u not in names]
        if missing:
            raise ValueError(f"Importer({self.name!r}): unique names unknown columns {missing}")


#: the value types a segment field may have (``SegmentField.type``)
SEGMENT_TYPES = ("number", "money", "date", "text", "choice", "bool")


@dataclass(frozen=True)
class SegmentParam:
    """A whole-number parameter of a segment field, such as the ``days`` of "spend in the last
    N days": ``name`` is the key in a rule's ``params``; ``minimum``/``maximum`` bound it."""

    name: str
    label: Any
    default: int
    minimum: int = 1
    maximum: int = 3660


@dataclass(frozen=True)
class SegmentField:
    """A customer attribute that segment rules can test (``segment_fields``).

    ``code`` is ``<addon>.<name>`` (the kernel's start with ``core.``); ``type`` is one of
    :data:`SEGMENT_TYPES`. ``expression(params)`` returns a SQL column expression over
    ``core_customer`` (a column of ``core.models.Customer`` or a scalar subquery correlated to
    ``Customer.id``); ``params`` maps each :class:`SegmentParam` name to an ``int``. It must
    never load rows into Python. ``addon`` is filled in by the registry.

    ``choices`` declares the allowed values of a ``choice`` field (and only of one: every
    field with a fixed set of values is a ``choice`` field, so that its values are checked):
    a ``core.labels.Choices`` set (``choices=GENDER``: its codes and labels), a list of
    ``(value, label)`` pairs, or a callable ``choices(session)`` returning those pairs (values
    that live in the database: stores, tiers). :meth:`allowed` reads any of them.

    Every rule's value is checked against the field before anything is counted (a 422 naming
    ``rules.….value``): its type (a number, a date, one of the choices), and for a
    ``number``/``money`` field the range ``minimum``..``maximum`` (None: unbounded) and,
    when ``whole``, a whole number (a month, a count). ``validate(value)``, when given, is a
    last check of the field's own: it returns an error message (then the value is refused)
    or None."""

    code: str
    label: Any
    type: str
    expression: Callable[[dict], Any]
    params: tuple = ()
    choices: Any = None
    addon: str = ""
    minimum: Any = None
    maximum: Any = None
    whole: bool = False
    validate: Callable[[Any], Any] | None = None

    def allowed(self, session) -> list[tuple[Any, Any]] | None:
        """``[(value, label)]``: the values a rule may give (see ``choices``), None when the
        field has no fixed set."""
        found = self.choices
        if found is None:
            return None
        if hasattr(found, "choices") and hasattr(found, "codes"):  # a core.labels.Choices set
            return list(found.choices())
        if callable(found):
            return list(found(session))
        return list(found)
