"""REST endpoints of franchise, mounted under /api/v1/franchise/ (imported only by the web app)."""
from __future__ import annotations

from sqlalchemy import select

from core.api import Blueprint, requires
from core.db import transaction
from core.web import db_session

from .models import FranchiseItem
from .permissions import READ, WRITE
from .schemas import ItemSchema
from .services import create_item

blp = Blueprint("franchise", __name__, description="Franchise")


@blp.route("/items")
@requires(READ)
@blp.response(200, ItemSchema(many=True))
def list_items():
    return list(db_session().execute(select(FranchiseItem).order_by(FranchiseItem.id)).scalars())


@blp.route("/items", methods=["POST"])
@requires(WRITE)
@blp.arguments(ItemSchema)
@blp.response(201, ItemSchema)
def post_item(data):
    session = db_session()
    with transaction(session):
        item = create_item(session, **data)
    return item
