"""Companies, regions and stores (``/api/v1/stores``, ``/companies``, ``/regions``): read only,
within the user's record scope (a store-limited user sees the companies and regions of
their stores)."""
from __future__ import annotations

from sqlalchemy import or_, select

from core.api import Blueprint, paginate_select, requires
from core.api import schemas as S
from core.api.resources.common import like
from core.api.visible import get_visible, scope_store_ids
from core.models import Company, Region, Store
from core.web import db_session

orgs = Blueprint("core_org", __name__, url_prefix="", description="Companies, regions and stores")


@orgs.route("/stores", methods=["GET"])
@requires("core.org.read")
@orgs.arguments(S.StoreQuery, location="query")
@orgs.response(200, S.StoreSchema(many=True))
@orgs.paginate()
def list_stores(args, pagination_parameters):
    """List the stores you may see."""
    stmt = select(Store).order_by(Store.code, Store.id)
    for key in ("kind", "format", "region_id", "operating_company_id", "active"):
        if key in args:
            stmt = stmt.where(getattr(Store, key) == args[key])
    if args.get("q"):
        pat = f"%{like(args['q'])}%"
        stmt = stmt.where(or_(Store.code.like(pat, escape="\\"), Store.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)


@orgs.route("/stores/<int:store_id>", methods=["GET"])
@requires("core.org.read")
@orgs.response(200, S.StoreSchema)
def get_store(store_id):
    """One store."""
    return get_visible(Store, store_id)


def _visible_org():
    """(company ids, region ids) a store-limited user may see: those of their stores."""
    ids = scope_store_ids()
    if ids is None:
        return None, None
    rows = db_session().execute(select(Store.operating_company_id, Store.region_id, Region.company_id)
                                .join(Region, Region.id == Store.region_id)).all()
    companies = {r[0] for r in rows} | {r[2] for r in rows}
    return companies, {r[1] for r in rows}


@orgs.route("/companies", methods=["GET"])
@requires("core.org.read")
@orgs.arguments(S.CodeNameQuery, location="query")
@orgs.response(200, S.CompanySchema(many=True))
@orgs.paginate()
def list_companies(args, pagination_parameters):
    """Companies: HQ, branches and franchisees (a store-limited user sees those of their stores)."""
    stmt = select(Company).order_by(Company.code, Company.id)
    companies, _regions = _visible_org()
    if companies is not None:
        stmt = stmt.where(Company.id.in_(sorted(companies)))
    if args.get("q"):
        pat = f"%{like(args['q'])}%"
        stmt = stmt.where(or_(Company.code.like(pat, escape="\\"), Company.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)


@orgs.route("/regions", methods=["GET"])
@requires("core.org.read")
@orgs.arguments(S.CodeNameQuery, location="query")
@orgs.response(200, S.RegionSchema(many=True))
@orgs.paginate()
def list_regions(args, pagination_parameters):
    """Sales regions (a store-limited user sees those of their stores)."""
    stmt = select(Region).order_by(Region.code, Region.id)
    _companies, regions = _visible_org()
    if regions is not None:
        stmt = stmt.where(Region.id.in_(sorted(regions)))
    if args.get("q"):
        pat = f"%{like(args['q'])}%"
        stmt = stmt.where(or_(Region.code.like(pat, escape="\\"), Region.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)
