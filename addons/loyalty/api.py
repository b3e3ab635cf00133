"""REST API of the loyalty addon, mounted under ``/api/v1/loyalty/``."""
from __future__ import annotations

from sqlalchemy import select

from core.api import Blueprint, requires
from core.db import transaction
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.idempotency import idempotent
from core.mixins import utcnow
from core.models import Customer, Store
from core.web import db_session

from . import promotions, services
from . import schemas as S
from .models import Coupon

blp = Blueprint("loyalty", __name__, url_prefix="", description="Points, rewards, coupons and promotions")


def _customer(customer_id: int, field: str = "customer_id") -> Customer:
    c = None
    if 0 < customer_id <= 2**31 - 1:
        c = db_session().execute(select(Customer).where(Customer.id == customer_id)).scalar()
    if c is None:
        raise NotFound({field: _l("Not found.")})
    return c


def _store(store_id, field="store_id"):
    if store_id is None:
        return None
    if db_session().execute(select(Store).where(Store.id == store_id)).scalar() is None:
        raise BusinessError({field: [_l("No such record.")]})
    return store_id


@blp.route("/customers/<int:customer_id>/balance", methods=["GET"])
@requires("loyalty.points.read")
@blp.response(200, S.LoyaltyBalanceOut)
def balance(customer_id):
    """Points balance, its value and the points expiring soon."""
    s = db_session()
    _customer(customer_id)
    pts = services.balance(s, customer_id)
    soon = services.expiring_soon(s, customer_id=customer_id)
    return {"customer_id": customer_id, "points": pts, "value": services.points_value(s, pts),
            "expiring_soon": soon[0]["points"] if soon else 0,
            "first_expiry": soon[0]["first_expiry"] if soon else None}


@blp.route("/customers/<int:customer_id>/history", methods=["GET"])
@requires("loyalty.points.read")
@blp.arguments(S.LoyaltyHistoryQuery, location="query")
@blp.response(200, S.LoyaltyEntryOut(many=True))
def history(args, customer_id):
    """Ledger postings, newest first."""
    _customer(customer_id)
    return services.history(db_session(), customer_id, limit=args["limit"], offset=args["offset"])


@blp.route("/customers/<int:customer_id>/redeem", methods=["POST"])
@requires("loyalty.points.redeem")
@idempotent()
@blp.arguments(S.LoyaltyRedeemIn)
@blp.response(201, S.LoyaltyRedemptionOut)
def redeem(data, customer_id):
    """Exchange points for a catalog reward."""
    s = db_session()
    _customer(customer_id)
    with transaction(s):
        red = services.redeem_reward(s, customer_id, data["reward_id"], store_id=_store(data["store_id"]),
                                     key=data["idempotency_key"] and f"api-redeem:{data['idempotency_key']}")
        code = s.get(Coupon, red.coupon_id).code if red.coupon_id else None
        out = {"id": red.id, "reward_id": red.reward_id, "points": red.points, "coupon_code": code,
               "balance": services.balance(s, customer_id)}
    return out


@blp.route("/customers/<int:customer_id>/transfer", methods=["POST"])
@requires("loyalty.points.redeem")
@idempotent()
@blp.arguments(S.LoyaltyTransferIn)
@blp.response(201, S.LoyaltyTransferOut)
def transfer(data, customer_id):
    """Give points to another member."""
    s = db_session()
    _customer(customer_id)
    _customer(data["to_customer_id"], "to_customer_id")
    with transaction(s):
        services.transfer(s, customer_id, data["to_customer_id"], data["points"], note=data["note"],
                          key=data["idempotency_key"] and f"api-transfer:{data['idempotency_key']}")
        out = {"from_balance": services.balance(s, customer_id),
               "to_balance": services.balance(s, data["to_customer_id"])}
    return out


@blp.route("/coupons/validate", methods=["GET"])
@requires("loyalty.points.read")
@blp.arguments(S.LoyaltyCouponQuery, location="query")
@blp.response(200, S.LoyaltyCouponOut)
def validate_coupon(args):
    """Whether a coupon code can be used now (for this customer and store)."""
    s = db_session()
    coupon = promotions.find_coupon(s, args["code"])
    problem = promotions.coupon_problem(s, coupon, args["customer_id"], args["store_id"], utcnow())
    return {"code": promotions.normalise(args["code"]), "valid": problem is None,
            "promotion": coupon.promotion.name if coupon else "", "reason": str(problem) if problem else None}


@blp.route("/preview", methods=["POST"])
@requires("core.sale.create")
@blp.arguments(S.LoyaltyPreviewIn)
@blp.response(200, S.LoyaltyPreviewOut)
def preview(data):
    """Price a ticket with its promotions and the points it would earn (nothing is saved)."""
    from core.services.checkout import CheckoutRequest, LineRequest

    s = db_session()
    _store(data["store_id"])
    if data["customer_id"] is not None:
        _customer(data["customer_id"])
    req = CheckoutRequest(store_id=data["store_id"], customer_id=data["customer_id"],
                          lines=[LineRequest(ln["product_id"], ln["qty"]) for ln in data["lines"]],
                          codes=data["codes"])
    try:
        return services.preview_promotions(s, req)
    finally:
        s.rollback()
