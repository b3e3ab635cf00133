"""The contract between the kernel and addons: every hook, typed and documented.

Conventions (see docs/hooks.md):
- ``register_*`` hooks are called once when the app is built and return iterables;
- ``on_*`` hooks react to a business event inside the caller's transaction and return None;
  raising ``core.errors.BusinessError`` (or anything) rolls the whole operation back;
- other hooks compute something and return data; the kernel applies it;
- only ``prepare_*`` and ``register_cli_commands`` receive an object to change in place.
Only addons installed in the current database are registered, so only they are called.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

import pluggy

hookspec = pluggy.HookspecMarker("banyan")
hookimpl = pluggy.HookimplMarker("banyan")


# ---------------------------------------------------------------------------------------
# startup declarations
# ---------------------------------------------------------------------------------------

@hookspec
def register_models() -> Iterable[Any]:
    """Return the mapped classes this addon owns, and its plain ``sqlalchemy.Table``s
    (association tables without a class).

    Called when the plugin manager is built. The kernel uses the result for ownership: the
    table-prefix check, the customer-merge check, purge on uninstall, the migration
    autogenerate scope and symmetry checks. Every table must be named ``<addon>_<entity>``.
    Implemented by: the kernel (core_* tables), membership, loyalty.
    """


@hookspec
def register_permissions() -> Iterable[Any]:
    """Return ``core.contrib.Permission`` objects this addon declares.

    Called when the app is built and on install (default roles receive them). Every admin
    view and API endpoint must name one of these.
    Implemented by: the kernel, membership, loyalty.
    """


@hookspec
def register_roles() -> Iterable[Any]:
    """Return ``core.contrib.RoleDef`` objects: the roles this addon adds.

    Called when the plugin manager is built (the permissions' roles are checked against
    them) and whenever the roles are synced into ``core_role``. A role code is declared once,
    by one owner; a ``Permission`` may only grant declared roles.
    Implemented by: the kernel (hq_admin ... technician).
    """


@hookspec
def register_price_list_kinds() -> Iterable[Any]:
    """Return ``core.contrib.PriceListKind`` objects: the kinds of price list this addon uses.

    The back office and the API accept only declared kinds for a price list (a field-level
    error names ``kind`` otherwise). A code is declared once, by one owner.
    Implemented by: the kernel (retail, wholesale), membership (member).
    """


@hookspec
def register_record_rules() -> Iterable[Any]:
    """Return ``core.contrib.RecordRule`` objects limiting which rows a user may see.

    Rules are ANDed into every ORM select made on a scoped session (lists, reports, exports
    and the API alike). Models with a ``store_id`` column are scoped by the kernel already.
    Implemented by: the kernel (customers by home store), membership (cards via customer).
    """


@hookspec
def register_admin_views(app) -> Iterable[Any]:
    """Return Flask-Admin views; each declares ``permission = "<name>"``.

    Called once while the back office is built, inside an app context. The kernel sets the
    menu category from the addon's manifest and enforces the permission.
    Implemented by: the kernel, membership, loyalty.
    """


@hookspec
def register_blueprints(app) -> Iterable[Any]:
    """Return flask-smorest Blueprints, mounted under ``/api/v1/<addon>/``.

    Each endpoint declares its permission with ``core.api.requires(<permission>)``; an
    endpoint without one fails at startup.
    Implemented by: the kernel (under /api/v1/), membership, loyalty.
    """


@hookspec
def register_cli_commands(cli) -> None:
    """Add click commands or groups to the ``banyan`` command group ``cli`` (in place).

    Implemented by: no built-in addon yet (tests/test_cli_ops.py registers one).
    """


@hookspec
def register_jobs() -> Iterable[Any]:
    """Return ``core.contrib.Job`` objects: periodic or on-demand background work.

    The worker (``banyan worker``) schedules jobs with a cron ``schedule``; each job runs in
    its own transaction, is retried ``retries`` times and logged when it fails.
    Implemented by: membership (tier downgrade), loyalty (points expiry, reminders).
    """


@hookspec
def register_sensitive_actions() -> Iterable[Any]:
    """Return ``core.contrib.SensitiveAction`` objects needing four-eyes approval.

    Implemented by: the kernel (large refunds), membership (large stored-value adjustments).
    """


@hookspec
def register_merge_rules() -> Iterable[Any]:
    """Return ``core.contrib.MergeRule`` objects for this addon's own tables whose unique key
    (primary key, unique constraint or unique index) contains a customer column.

    Called when the plugin manager is built. A customer merge re-points plain customer
    columns itself; for a keyed table it applies the rule where both customers hold a row
    (keep the kept one, keep the newest, sum columns, a callable, or "owner": the addon
    merges the rows in ``on_customer_merged``). A keyed table without a rule from its owner
    refuses to load, so a merge never fails on a duplicate key at run time.
    Implemented by: the kernel (customer tags), membership (member row), loyalty (account,
    year-end rebates).
    """


@hookspec
def register_file_owners() -> Iterable[Any]:
    """Return ``core.contrib.FileOwner`` objects: which of this addon's models carry
    attachments, and the permissions that read and write them.

    Called when the file store resolves an owner (``core.files``: upload, list, download,
    delete, on every surface). A file is attached to one record of the model; a user reaches
    it only with the owner's permission and while the record is visible to them through the
    record rules, else it is "not found" (404). Purging the addon removes its files. One
    owner per model; declare only your own models.
    Implemented by: the kernel (customers, stores, products, employees, sales).
    """


@hookspec
def register_importers() -> Iterable[Any]:
    """Return ``core.contrib.Importer`` objects: kinds of records that can be bulk-imported
    from CSV or XLSX (back office Import page, ``POST /api/v1/imports``, ``banyan import``).

    Called when an import is listed, started or run. The kernel reads the file, checks each
    row with the importer's ``parse`` (the same field rules as the API), reports errors by
    row and column, and writes with ``load_row`` or ``load_batch`` inside one transaction
    (all-or-nothing, or the valid rows only). Names are unique across addons.
    Implemented by: the kernel (customers, products, price-list items, employees),
    membership (members with cards and opening stored value), loyalty (opening points).
    """


@hookspec(historic=True)
def startup(app) -> None:
    """Called once after the app is built, so addons can warm caches or add Jinja filters.

    Historic: a plugin registered later (tests, runtime install) is still initialised.
    Implemented by: none of the built-in addons yet.
    """


# ---------------------------------------------------------------------------------------
# checkout and pricing
# ---------------------------------------------------------------------------------------

@hookspec(firstresult=True)
def resolve_price(session, product, store, customer, at: datetime) -> Decimal | None:
    """Return the unit price of ``product`` for ``customer`` at ``store`` at instant ``at``.

    Called by the checkout service for every line, inside the sale's transaction. The first
    non-None result wins; the kernel's price-list default (retail list) runs last.
    Implemented by: the kernel (retail price list), membership (member price list).
    """


@hookspec
def price_ticket(session, ticket) -> Iterable[Any]:
    """Return ``core.contrib.Adjustment`` objects (discounts are negative amounts).

    Called once per checkout after every line is priced, inside the sale's transaction, one
    pricing stage at a time (``core.contrib.PRICING_STAGES``: customer 20, promotion 50,
    voucher 80; declare yours with ``core.contrib.pricing_stage``, default promotion).
    ``ticket`` is the unsaved-state ``core.models.Sale``; each line's ``total`` is what the
    earlier stages left of it. The kernel applies a stage's adjustments in ascending
    ``priority`` before calling the next stage, and never lets a line go below zero.
    A ``label`` your code composes is a lazy string with its arguments
    (``core.i18n.lazy_gettext``): the sale keeps its msgid and arguments and each reader sees
    it in their language (``SaleAdjustment.label_text``); a plain ``str`` is data, as typed.
    Implemented by: membership (tier discount), loyalty (promotions and coupons).
    """


@hookspec
def claim_codes(session, ticket, codes, adjustments) -> Iterable[Any]:
    """Return ``core.contrib.CodeClaim`` objects for the codes of ``codes`` this addon knows.

    Called once per checkout and preview that carries codes (coupons, vouchers...), right
    after ``price_ticket``, inside the sale's transaction. ``codes`` are the ticket's codes
    in canonical form (``core.codes.normalize_code``), ``adjustments`` every adjustment the
    ``price_ticket`` implementations returned. A code no addon claims, or one claimed with a
    ``refused`` reason, refuses the whole ticket with a 422 on ``codes``: a typed code is
    never silently ignored.
    Implemented by: loyalty (coupons).
    """


@hookspec
def payment_methods(session, ticket, user) -> Iterable[Any]:
    """Return ``core.contrib.PaymentMethod`` objects usable for this ticket.

    ``ticket`` (and ``session``, ``user``) is None when the caller lists every method the
    addons offer, for their labels (``core.labels.PAYMENT_METHOD``: lists, exports, receipts):
    return every method then, whatever a ticket would need.

    Implemented by: the kernel (cash, card), membership (stored value), loyalty (points).
    """


@hookspec
def validate_sale(session, sale) -> None:
    """Raise ``BusinessError`` to refuse ``sale``.

    Called after pricing and payments and before ``on_sale_confirmed``, inside the sale's
    transaction. The sale already carries its number and state ``confirmed`` (it is written
    once, in its final state), but nothing is committed: raising rolls all of it back.
    Implemented by: membership (blacklisted customers).
    """


# ---------------------------------------------------------------------------------------
# business events
# ---------------------------------------------------------------------------------------

@hookspec
def on_sale_confirmed(session, sale) -> None:
    """React to a confirmed sale (points, tier progress, commissions, royalties...).

    Same transaction as the sale: an exception aborts the whole sale. An addon implementing
    this hook must implement ``on_sale_refunded`` too; the loader refuses it otherwise.
    Implemented by: membership (tier progress), loyalty (points earning).
    """


@hookspec
def on_sale_refunded(session, refund, sale) -> None:
    """Reverse what ``on_sale_confirmed`` did, for the lines ``refund`` gives back.

    ``refund`` is the refund document (negative quantities, ``origin`` = ``sale``).
    Same transaction as the refund: an exception aborts the whole refund. Any addon that
    ties a state to a paid sale (not only to ``on_sale_confirmed``) undoes it here.
    Implemented by: membership, loyalty, commissions, spare_parts (warranties, charged
    part requests).
    """


@hookspec
def on_customer_merged(session, kept, removed) -> None:
    """Fix ledgers and aggregates when customer ``removed`` is merged into ``kept``.

    The kernel has already re-pointed every plain foreign key to ``kept`` and applied the
    ``register_merge_rules`` rules of keyed tables (except "owner" ones, which the addon
    merges here); ``removed`` is retired (inactive, ``merged_into_id`` = kept) after the
    hook returns. Same transaction as the merge.
    Implemented by: membership (one member per customer), loyalty.
    """


# ---------------------------------------------------------------------------------------
# customer data
# ---------------------------------------------------------------------------------------

@hookspec
def customer_summary(session, customer, user) -> Iterable[Any]:
    """Return ``core.contrib.SummaryPanel`` objects for the customer page and caller card.

    Implemented by: the kernel (recent purchases), membership, loyalty.
    """


@hookspec
def segment_fields() -> Iterable[Any]:
    """Return ``core.contrib.SegmentField`` objects: customer attributes that marketing
    segments can filter on, each with its SQL expression over the customer and its type.

    Collected by ``core.segments.fields``; rules are compiled to one SQL ``WHERE`` by
    ``core.segments.compile_rules``. Implemented by: the kernel (home store, birthday month,
    last purchase, spend and visits in a period), membership (tier, stored value), loyalty
    (points balance, points expiring within N days).
    """


@hookspec
def ticket_preview(session, ticket) -> Iterable[Any]:
    """Return ``core.contrib.SummaryPanel`` objects shown beside a ticket being rung up
    (the till's live preview): what this ticket will bring the customer, such as the points
    it will earn. Read-only, on the request's scoped session; ``ticket`` is the priced,
    unsaved ``core.models.Sale`` of a preview (``customer_id`` may be None).
    Implemented by: loyalty (points to be earned).
    """


@hookspec
def receipt_panels(session, sale) -> Iterable[Any]:
    """Return ``core.contrib.SummaryPanel`` objects printed on a sale's receipt, below the
    payments (the till's receipt, its reprint and the emailed receipt): what the sale brought
    the customer, such as the points earned and the balance. Read-only; ``sale`` is the
    confirmed ``core.models.Sale`` (or refund). A panel's ``permission`` is not checked: a
    receipt is the customer's, print nothing the customer may not see.
    Implemented by: loyalty (points earned, balance), membership (stored value left).
    """


@hookspec
def dashboard_widgets(session, user, store_ids) -> Iterable[Any]:
    """Return ``core.contrib.DashboardWidget`` objects for the home dashboard.

    ``store_ids`` is the list of stores the user may see, or None for all; widgets must
    limit their figures to them.
    Implemented by: the kernel (sales by day and store, top products), membership, loyalty.
    """


# ---------------------------------------------------------------------------------------
# integrity
# ---------------------------------------------------------------------------------------

@hookspec
def derived_balances(session, customer) -> Iterable[Any]:
    """Return ``core.contrib.Balance`` objects derived from this addon's ledgers.

    The test plugin checks that confirm-then-refund leaves each of them unchanged.
    Implemented by: membership (stored value, tier spend), loyalty (points).
    """


@hookspec
def check_invariants(session) -> Iterable[Any]:
    """Return ``core.contrib.Breach`` objects for every invariant that does not hold.

    Run by ``banyan check``: cached balances equal their ledgers, no orphan rows.
    Implemented by: the kernel (sale totals), membership, loyalty.
    """


# ---------------------------------------------------------------------------------------
# lifecycle and demo
# ---------------------------------------------------------------------------------------

@hookspec
def load_demo_data(session, demo) -> None:
    """Add this addon's demo data; ``demo`` is a ``core.contrib.DemoContext``.

    Called in dependency order by ``banyan demo`` after the kernel built the chain and
    before the six months of sales are rung up (so sales trigger the addons).
    Implemented by: membership, loyalty.
    """
