"""REST endpoints of campaign, mounted under /api/v1/campaign/ (imported only by the web app).

Rows named by a request: ``get_visible`` for a path id (404 when the user's scope does not
show it, the same as a missing row), ``ref_visible`` for a reference in a body (422 naming
the field). See docs/validation.md."""
from __future__ import annotations

from sqlalchemy import select

from core.api import Blueprint, paginate_select, requires
from core.api.visible import get_visible, ref_visible
from core.db import transaction
from core.models import Customer
from core.web import db_session

from .models import CampaignItem
from .permissions import READ, WRITE
from .schemas import ItemIn, ItemOut
from .services import create_item

blp = Blueprint("campaign", __name__, description="Campaign")


@blp.route("/items")
@requires(READ)
@blp.response(200, ItemOut(many=True))
@blp.paginate()
def list_items(pagination_parameters):
    """Items you may see, oldest first."""
    stmt = select(CampaignItem).order_by(CampaignItem.id)
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/items/<int:item_id>")
@requires(READ)
@blp.response(200, ItemOut)
def get_item(item_id):
    """One item (404 when you may not see it)."""
    return get_visible(CampaignItem, item_id)


@blp.route("/items", methods=["POST"])
@requires(WRITE)
@blp.arguments(ItemIn)
@blp.response(201, ItemOut)
def post_item(data):
    """Create an item (its customer must be one you may see: 422 on ``customer_id``)."""
    session = db_session()
    with transaction(session):
        ref_visible(Customer, data["customer_id"], "customer_id")
        item = create_item(session, **data)
    return item
