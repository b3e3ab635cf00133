"""The kernel's own declarations: its tables, permissions, summary panels, widgets, checks."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from core.contrib import Breach, DashboardWidget, Permission, SensitiveAction, SummaryPanel
from core.hookspecs import hookimpl
from core.i18n import format_quantity, lazy_gettext as _l
from core.localtime import format_local, local_days_start
from core.models import KERNEL_MODELS, KERNEL_TABLES, Product, Sale, SaleLine, SalePayment, Store

ADMIN = ("hq_admin",)
MANAGERS = ("hq_admin", "region_manager", "franchisee", "store_manager")
STAFF = MANAGERS + ("cashier", "agent")

PERMISSIONS = (
    Permission("core.org.read", _l("See companies, regions and stores"), STAFF + ("marketer", "technician")),
    Permission("core.org.write", _l("Edit companies, regions and stores"), ADMIN),
    Permission("core.customer.read", _l("See customers"), STAFF + ("marketer",)),
    Permission("core.customer.write", _l("Create and edit customers"), STAFF),
    Permission("core.customer.merge", _l("Merge duplicate customers"), MANAGERS),
    Permission("core.customer.view_sensitive", _l("See customers' phone, ID number and address"),
               MANAGERS + ("agent",)),
    Permission("core.product.read", _l("See products and prices"), STAFF + ("marketer", "technician")),
    Permission("core.product.write", _l("Edit products and price lists"), ADMIN),
    Permission("core.employee.read", _l("See employees"), MANAGERS),
    Permission("core.employee.write", _l("Edit employees"), ADMIN + ("store_manager",)),
    Permission("core.user.admin", _l("Manage users, roles and API tokens"), ADMIN),
    Permission("core.token.own", _l("Create and revoke your own API tokens"), ADMIN + ("franchisee", "technician")),
    Permission("core.sale.read", _l("See sales"), STAFF + ("marketer",)),
    Permission("core.sale.create", _l("Ring up sales"), MANAGERS + ("cashier",)),
    Permission("core.sale.refund", _l("Refund sales"), MANAGERS),
    Permission("core.till.favourites", _l("Set the favourite products of a store's till"), MANAGERS),
    Permission("core.audit.read", _l("Read the audit log"), ADMIN),
    Permission("core.approval.decide", _l("Approve or reject sensitive actions"), MANAGERS),
    Permission("core.report.read", _l("See reports and the dashboard"), MANAGERS + ("marketer",)),
    Permission("core.addons.admin", _l("Install, upgrade and uninstall addons"), ADMIN),
    Permission("core.mail.admin", _l("See the email outbox and send failed emails again"), ADMIN),
    # core.security.scope.CHAIN_PERMISSION: rows for the whole chain (no store), chain settings
    Permission("core.chain.write", _l("Create, change and delete chain-wide records (no store): "
                                      "promotions, rules, price lists, products, policies"), ADMIN),
)


@hookimpl
def register_models():
    return KERNEL_MODELS + KERNEL_TABLES


@hookimpl
def register_roles():
    from core.security.permissions import KERNEL_ROLES

    return KERNEL_ROLES


@hookimpl
def register_permissions():
    return PERMISSIONS


@hookimpl
def register_jobs():
    """The outbox sender (``core.mail.send``): queued after every commit that wrote an email,
    and every minute (retries that fall due, and a send whose enqueue was lost; see
    ``core.notify``); ``core.files.gc``: unreferenced blobs and the files of deleted records
    (daily 03:17); ``core.idempotency.purge``: stored ``Idempotency-Key`` answers older than
    ``[idempotency] retention_days`` (daily 03:43)."""
    from core.contrib import Job
    from core.files import collect_garbage
    from core.idempotency import PURGE_JOB, purge_job
    from core.notify import MAIL_JOB, mail_job

    return [Job(MAIL_JOB, mail_job, schedule="* * * * *", retries=0),
            Job("core.files.gc", collect_garbage, schedule="17 3 * * *", retries=1),
            Job(PURGE_JOB, purge_job, schedule="43 3 * * *", retries=1)]


@hookimpl
def register_merge_rules():
    """A tag both customers carry stays once (the association's key is the pair)."""
    from core.contrib import MergeRule

    return [MergeRule("core_customer_tag", "keep_kept")]


@hookimpl
def register_record_rules():
    """Kernel rows without a store column of their own, limited to a store-limited user's
    stores: chain-wide price lists and those of their stores; the companies of their stores
    (operating company, and the company their region belongs to) and their stores' regions,
    as the API lists them; users who work in their stores or whose scope lies inside theirs,
    those users' API tokens, and the audit entries those users wrote."""
    from sqlalchemy import or_

    from core.contrib import RecordRule
    from core.models import ApiToken, AuditLog, Company, PriceList, Region, Store, User

    from core.models import FileRecord

    def price_lists(scope):
        return or_(PriceList.store_id.is_(None), PriceList.store_id.in_(sorted(scope.store_ids)))

    def _stores(scope):
        return sorted(scope.store_ids)

    def companies(scope):
        ids = _stores(scope)
        return or_(Company.id.in_(select(Store.operating_company_id).where(Store.id.in_(ids))),
                   Company.id.in_(select(Region.company_id).join(Store, Store.region_id == Region.id)
                                  .where(Store.id.in_(ids))))

    def regions(scope):
        return Region.id.in_(select(Store.region_id).where(Store.id.in_(_stores(scope))))

    from core.security.scope import users_of

    def users(scope):
        return users_of(scope)

    def tokens(scope):
        return ApiToken.user_id.in_(select(User.id).where(users_of(scope)))

    def audit(scope):
        return AuditLog.user_id.in_(select(User.id).where(users_of(scope)))

    def file_where(scope):
        # a file of a chain-wide record (a product) has no store; access itself is decided
        # on the owning record (core.files)
        return or_(FileRecord.store_id.is_(None), FileRecord.store_id.in_(_stores(scope)))

    return [RecordRule(PriceList, "core.price_list.store", price_lists),
            RecordRule(FileRecord, "core.file.store", file_where),
            RecordRule(Company, "core.company.store", companies),
            RecordRule(Region, "core.region.store", regions),
            RecordRule(User, "core.user.store", users),
            RecordRule(ApiToken, "core.api_token.user", tokens),
            RecordRule(AuditLog, "core.audit_log.user", audit)]


@hookimpl
def register_file_owners():
    """Kernel records that carry attachments, read and written with the record's own rights."""
    from core.contrib import FileOwner
    from core.models import Customer, Employee, Product, Sale, Store

    return [
        FileOwner(Customer, "core.customer.read", "core.customer.write"),
        FileOwner(Store, "core.org.read", "core.org.write"),
        FileOwner(Product, "core.product.read", "core.product.write"),
        FileOwner(Employee, "core.employee.read", "core.employee.write"),
        FileOwner(Sale, "core.sale.read", "core.sale.create"),
    ]


@hookimpl
def register_sensitive_actions():
    return [SensitiveAction("core.sale.refund", _l("Refund over the approval threshold"), approvals=2)]


@hookimpl
def customer_summary(session, customer, user):
    rows = session.execute(
        select(Sale.number, Sale.confirmed_at, Sale.total).where(Sale.customer_id == customer.id,
                                                                 Sale.state != "draft")
        .order_by(Sale.confirmed_at.desc()).limit(5)).all()
    fields = (tuple((n, f"{format_local(t, '%Y-%m-%d')} {a}") for n, t, a in rows)
              or ((_l("Recent purchases"), _l("none")),))
    return [SummaryPanel(title=_l("Recent purchases"), fields=fields, priority=90, addon="core",
                         permission="core.sale.read")]


@hookimpl
def dashboard_widgets(session, user, store_ids):
    # the last 30 local business days, today included
    conf = [Sale.state != "draft", Sale.confirmed_at >= local_days_start(30)]
    if store_ids is not None:
        conf.append(Sale.store_id.in_(store_ids))
    by_day = session.execute(select(Sale.business_date, func.sum(Sale.total)).where(*conf)
                             .group_by(Sale.business_date).order_by(Sale.business_date)).all()
    by_store = session.execute(select(Store.code, func.sum(Sale.total)).join(Store, Store.id == Sale.store_id)
                               .where(*conf).group_by(Store.code).order_by(func.sum(Sale.total).desc())
                               .limit(20)).all()
    top = session.execute(select(Product.name, func.sum(SaleLine.qty), func.sum(SaleLine.total))
                          .join(Sale, Sale.id == SaleLine.sale_id).join(Product, Product.id == SaleLine.product_id)
                          .where(*conf).group_by(Product.name).order_by(func.sum(SaleLine.total).desc())
                          .limit(10)).all()
    total = sum((r[1] or Decimal(0) for r in by_day), Decimal(0))
    from core.models import MailMessage

    failed_mail = session.execute(select(func.count()).select_from(MailMessage)
                                  .where(MailMessage.state == "failed")).scalar()
    # an alert, shown only while some email gave up (Settings > Email outbox sends it again)
    alerts = [DashboardWidget("core.mail_failed", _l("Emails that could not be sent"), "number",
                              {"value": str(failed_mail)}, priority=5, permission="core.mail.admin")
              ] if failed_mail else []
    return alerts + [
        DashboardWidget("core.revenue_30d", _l("Net sales, last 30 days"), "number",
                        {"value": f"{total:,.2f}"}, priority=10, permission="core.report.read"),
        DashboardWidget("core.sales_by_day", _l("Sales by day"), "bar",
                        {"labels": [str(d) for d, _ in by_day], "values": [float(v or 0) for _, v in by_day]},
                        priority=20, permission="core.report.read"),
        DashboardWidget("core.sales_by_store", _l("Sales by store"), "bar",
                        {"labels": [c for c, _ in by_store], "values": [float(v or 0) for _, v in by_store]},
                        priority=30, permission="core.report.read"),
        DashboardWidget("core.top_products", _l("Top products"), "table",
                        {"columns": [_l("Product"), _l("Quantity"), _l("Sales amount")],
                         "rows": [[n, format_quantity(q), f"{t:,.2f}"] for n, q, t in top]},
                        priority=40, permission="core.report.read"),
    ]


@hookimpl
def check_invariants(session):
    """Each confirmed sale's (and refund's) header agrees with itself, its lines and its
    payments: ``subtotal + discount_total = total`` (discounts are negative), ``subtotal`` =
    the lines' gross, ``discount_total`` = the lines' discounts, ``total`` = the lines' totals
    = the payments; and each line's ``total - discount`` is its ``unit_price × qty`` rounded
    to the cent (``core.db.money``: within half a cent of the exact product)."""
    breaches = []
    lines = (select(SaleLine.sale_id, func.sum(SaleLine.total).label("s"),
                    func.sum(SaleLine.discount).label("d"),
                    func.sum(SaleLine.total - SaleLine.discount).label("g"))
             .group_by(SaleLine.sale_id).subquery())
    pays = (select(SalePayment.sale_id, func.sum(SalePayment.amount).label("s"))
            .group_by(SalePayment.sale_id).subquery())

    def off(a, b):  # round: SQLite sums NUMERIC as binary floats (9.9 * 3 != 29.7)
        return func.round(func.coalesce(a, 0) - func.coalesce(b, 0), 2) != 0

    bad = session.execute(
        select(Sale.id, Sale.number, Sale.subtotal, Sale.discount_total, Sale.total,
               lines.c.g, lines.c.d, lines.c.s, pays.c.s)
        .outerjoin(lines, lines.c.sale_id == Sale.id).outerjoin(pays, pays.c.sale_id == Sale.id)
        .where(Sale.state != "draft",
               off(lines.c.s, Sale.total) | off(pays.c.s, Sale.total)
               | off(Sale.subtotal + Sale.discount_total, Sale.total)
               | off(lines.c.g, Sale.subtotal) | off(lines.c.d, Sale.discount_total))
        .limit(100)).all()
    for sid, number, subtotal, discount, total, gross, ldisc, lsum, psum in bad:
        breaches.append(Breach("core.sale_totals",
                               f"sale {number}: subtotal {subtotal}, discounts {discount}, total {total}; "
                               f"lines gross {gross}, discounts {ldisc}, total {lsum}; payments {psum}",
                               (f"core_sale:{sid}",)))
    # a sold line's gross is unit_price x qty to the cent (0.0051: half a cent plus float
    # noise); a refund's last piece takes the rounding left over, so only sales are held to it
    bad_lines = session.execute(
        select(SaleLine.id, Sale.number, SaleLine.unit_price, SaleLine.qty, SaleLine.discount, SaleLine.total)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.state != "draft", Sale.kind == "sale",
               func.abs(SaleLine.unit_price * SaleLine.qty - (SaleLine.total - SaleLine.discount)) > 0.0051)
        .limit(100)).all()
    for lid, number, price, qty, discount, total in bad_lines:
        breaches.append(Breach("core.line_totals",
                               f"sale {number}: line {lid} {qty} x {price}, discount {discount}, total {total}",
                               (f"core_sale_line:{lid}",)))
    return breaches


@hookimpl
def segment_fields():
    """Home store, birthday month, language, last purchase, spend and visits in N days."""
    from core.segments import kernel_fields

    return kernel_fields()
