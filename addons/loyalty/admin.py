"""Back-office views: rules, events, promotions, coupons, rewards, ledger, member points, reports."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select

from core.admin.args import record_id
from core.admin.base import BanyanModelView, BanyanView
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext, lazy_gettext as _l
from core.models import Company, Customer, Store

from . import config, services
from .models import (Coupon, EarningRule, LoyaltyEntry, LoyaltyPolicy, PointsEvent, Promotion, PromotionItem,
                     Redemption, Reward)


class RuleAdmin(BanyanModelView):
    """Configuration views: every save goes through ``config.check`` (the API's rules)."""

    permission = "loyalty.rule.read"
    write_permission = "loyalty.rule.write"
    allow_delete = True

    def on_model_change(self, form, model, is_created):
        if type(model) in config.CHECKS:
            config.sync_foreign_keys(model)
            with self.session.no_autoflush:
                config.check(self.session, model)


class EarningRuleView(RuleAdmin):
    column_list = ("code", "name", "kind", "points_per_unit", "points_per_item", "product", "category", "store",
                   "valid_from", "valid_to", "active")
    form_columns = ("code", "name", "kind", "points_per_unit", "points_per_item", "product", "category", "store",
                    "valid_from", "valid_to", "active")


class EventView(RuleAdmin):
    column_list = ("code", "name", "multiplier", "starts_at", "ends_at", "store", "active")
    form_columns = column_list


class PromotionView(RuleAdmin):
    column_list = ("code", "name", "kind", "target", "percent", "amount", "min_spend", "priority", "exclusive",
                   "requires_coupon", "valid_from", "valid_to", "active")
    form_columns = ("code", "name", "kind", "target", "percent", "amount", "min_spend", "buy_qty", "get_qty",
                    "gift_product", "members_only", "birthday_only", "requires_coupon", "store", "valid_from",
                    "valid_to", "max_uses", "per_customer_limit", "priority", "exclusive", "active")


class PromotionItemView(RuleAdmin):
    column_list = ("promotion", "product", "category", "special_price")
    form_columns = column_list


class CouponView(RuleAdmin):
    column_list = ("code", "promotion", "customer", "amount", "max_uses", "per_customer_limit", "valid_from",
                   "valid_to", "active")
    form_columns = column_list
    column_searchable_list = ("code",)
    form_args = {"max_uses": {"default": 1, "description": _l("Empty: unlimited.")}}


class RewardView(RuleAdmin):
    column_list = ("code", "name", "kind", "points_price", "stock", "product", "promotion", "active")
    form_columns = column_list


class PolicyView(RuleAdmin):
    allow_create = False
    allow_delete = False
    column_list = ("value_per_point", "expiry_mode", "expiry_months", "year_end_offset", "reminder_days",
                   "rebate_per_point", "rebate_min_points")
    form_columns = column_list


class LedgerView(BanyanModelView):
    permission = "loyalty.points.read"
    allow_create = allow_edit = allow_delete = False
    simple_list_pager = True
    column_list = ("id", "posted_at", "customer", "kind", "points", "store", "source", "note")
    column_filters = ("kind", "customer_id", "store_id", "posted_at")
    # the stored source is a key (``reverse:12``): people read it in their language
    column_formatters = {"source": lambda v, c, m, n: m.source_text}
    column_formatters_export = column_formatters


class RedemptionView(BanyanModelView):
    permission = "loyalty.points.read"
    allow_create = allow_edit = allow_delete = False
    column_list = ("id", "created_at", "customer", "reward", "points", "store_id")


class MemberPointsView(BanyanView):
    """A member's points: balance, what expires soon, history; manual adjustment."""

    permission = "loyalty.points.read"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        from core.web import db_session, has_perm

        s = db_session()
        cid = request.values.get("customer_id", type=record_id)
        customer = s.execute(select(Customer).where(Customer.id == cid)).scalar() if cid else None
        if request.method == "POST" and customer is not None:
            if not has_perm("loyalty.points.adjust"):
                return self.inaccessible_callback("index")
            try:
                with transaction(s):
                    # the typed text as it is: services.adjust checks it (core.validation.points_input)
                    services.adjust(s, customer.id, request.form.get("points", ""),
                                    note=request.form.get("note", "").strip(),
                                    store_id=request.form.get("store_id", type=record_id))
                flash(gettext("Points adjusted."), "success")
                return redirect(url_for(".index", customer_id=customer.id))
            except BusinessError as exc:
                for messages in exc.errors.values():
                    for text in messages:
                        flash(text, "error")
        data = None
        if customer is not None:
            pts = services.spendable(s, customer.id)
            data = {"points": pts, "value": services.points_value(s, pts),
                    "soon": services.expiring_soon(s, customer_id=customer.id),
                    "history": services.history(s, customer.id, limit=100)}
        from .models import ENTRY_KIND

        return self.render("loyalty/member_points.html", customer=customer, data=data,
                           can_adjust=has_perm("loyalty.points.adjust"), kind_label=ENTRY_KIND.label)


class ReportsView(BanyanView):
    """Liability per store and franchisee, breakage, clearing, promotion results (each ROI
    with how it was computed), leaderboard (masked names) for a period of local days; each
    table exports to CSV (UTF-8 with BOM) or XLSX with ``?export=csv|xlsx&table=NAME``."""

    permission = "loyalty.report.read"
    TABLES = ("liability", "breakage", "clearing", "results", "leaders")

    @expose("/")
    def index(self):
        from core.reporting import export_response, last_days, period_from_args
        from core.security.scope import scope_of
        from core.web import db_session

        s = db_session()
        errors = {}
        try:
            period = period_from_args(request.args, default_days=90)
        except BusinessError as exc:
            errors = {k: [str(m) for m in v] for k, v in exc.errors.items()}
            period = last_days(90)
        lo, hi = period.bounds()
        scope = scope_of(s)
        store_ids = None if scope is None or scope.store_ids is None else sorted(scope.store_ids)
        companies = dict(s.execute(select(Company.id, Company.name)).all())
        stores = dict(s.execute(select(Store.id, Store.name)).all())
        results = services.promotion_results(s, date_from=lo, date_to=hi)
        for r in results:
            r["how"] = services.roi_explanation(r)
        data = {"liability": services.liability(s, store_ids=store_ids),
                "breakage": services.breakage(s, date_from=lo, date_to=hi),
                "clearing": services.clearing(s, date_from=lo, date_to=hi),
                "results": results,
                "leaders": services.leaderboard(s, date_from=lo, date_to=hi, store_ids=store_ids, limit=50)}
        fmt, table = request.args.get("export"), request.args.get("table")
        if fmt and not errors:
            if table not in self.TABLES:
                errors["table"] = [gettext("Pick a value from the list.")]
            else:
                columns, rows = self._table(table, data[table], companies, stores)
                return export_response(fmt, f"loyalty_{table}", columns, rows, period)
        return self.render("loyalty/reports.html", period=period, errors=errors, companies=companies,
                           stores=stores, **data), 400 if errors else 200

    @staticmethod
    def _table(name, rows, companies, stores):
        t = gettext
        if name == "liability":
            return ([t("Franchisee"), t("Store"), t("Points"), t("Value")],
                    [[companies.get(r["company_id"], ""), stores.get(r["store_id"], ""), r["points"], r["value"]]
                     for r in rows])
        if name == "breakage":
            return ([t("Franchisee"), t("Points"), t("Value")],
                    [[companies.get(r["company_id"], ""), r["points"], r["value"]] for r in rows])
        if name == "clearing":
            return ([t("Owed by (earned at)"), t("Owed to (redeemed at)"), t("Points"), t("Value")],
                    [[companies.get(r["owed_by"], ""), companies.get(r["owed_to"], ""), r["points"], r["value"]]
                     for r in rows])
        if name == "results":
            return ([t("Promotion"), t("Uses"), t("Discount"), t("Sales"), t("Cost of goods"), t("Margin"), t("ROI"),
                     t("How it was computed")],
                    [[r["name"], r["uses"], r["discount"], r["sales"], r["cost"], r["margin"], r["roi"], r["how"]]
                     for r in rows])
        return ([t("Rank"), t("Member"), t("Phone"), t("Points")],
                [[r["rank"], r["name"], r["phone"], r["points"]] for r in rows])


def views():
    cat = _l("Loyalty")
    return [
        MemberPointsView(name=_l("Member points"), category=cat, endpoint="loyalty_member_points"),
        EarningRuleView(EarningRule, name=_l("Earning rules"), category=cat, endpoint="loyalty_rules"),
        EventView(PointsEvent, name=_l("Points events"), category=cat, endpoint="loyalty_events"),
        PromotionView(Promotion, name=_l("Promotions"), category=cat, endpoint="loyalty_promotions"),
        PromotionItemView(PromotionItem, name=_l("Promotion items"), category=cat, endpoint="loyalty_promo_items"),
        CouponView(Coupon, name=_l("Coupons"), category=cat, endpoint="loyalty_coupons"),
        RewardView(Reward, name=_l("Rewards"), category=cat, endpoint="loyalty_rewards"),
        RedemptionView(Redemption, name=_l("Redemptions"), category=cat, endpoint="loyalty_redemptions"),
        LedgerView(LoyaltyEntry, name=_l("Points ledger"), category=cat, endpoint="loyalty_ledger"),
        PolicyView(LoyaltyPolicy, name=_l("Points policy"), category=cat, endpoint="loyalty_policy"),
        ReportsView(name=_l("Loyalty reports"), category=cat, endpoint="loyalty_reports"),
    ]
