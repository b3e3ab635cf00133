"""``/api/v1/notifications``: the caller's own in-app notifications (see :mod:`core.notify`).

Every authenticated user may use it, and only ever reaches their own notifications: another
user's id answers 404, exactly as an id that does not exist.
"""
from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy import select

from core.api import AUTHENTICATED, Blueprint, paginate_select, request_user, requires
from core.api.schemas import MAX_ID, Instant, Query
from core.db import transaction
from core.errors import NotFound
from core.i18n import lazy_gettext as _l
from core.web import db_session

notifications = Blueprint("core_notifications", __name__, url_prefix="/notifications",
                          description="Your notifications")


class NotificationSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    subject = fields.String()
    body = fields.String()
    link_model = fields.String(allow_none=True, metadata={"description": "table of the subject record"})
    link_id = fields.Integer(allow_none=True)
    url = fields.Method("_url", allow_none=True,
                        metadata={"description": "back-office address of the subject (a path, or a URL)"})
    created_at = Instant()
    read_at = Instant(allow_none=True)
    read = fields.Method("_read")

    def _url(self, n):
        from core.notify import link_path

        return link_path(n.link_model, n.link_id, n.url)

    def _read(self, n):
        return n.read_at is not None


class NotificationQuery(Query):
    unread = fields.Boolean(metadata={"description": "only the unread ones"})


class CountSchema(Schema):
    unread = fields.Integer()


class MarkedSchema(Schema):
    marked = fields.Integer(metadata={"description": "how many notifications were unread and are now read"})


def _me():
    return request_user()


def _own(notification_id: int):
    from core.models import Notification

    n = None
    if 0 < notification_id <= MAX_ID:
        n = db_session().execute(select(Notification).where(Notification.id == notification_id,
                                                            Notification.user_id == _me().id)).scalar()
    if n is None:
        raise NotFound({"id": _l("Not found.")})
    return n


@notifications.route("", methods=["GET"])
@requires(AUTHENTICATED)
@notifications.arguments(NotificationQuery, location="query")
@notifications.response(200, NotificationSchema(many=True))
@notifications.paginate()
def list_notifications(args, pagination_parameters):
    """Your notifications, newest first (``?unread=true``: only the unread ones)."""
    from core.models import Notification

    stmt = (select(Notification).where(Notification.user_id == _me().id)
            .order_by(Notification.id.desc()))
    if args.get("unread"):
        stmt = stmt.where(Notification.read_at.is_(None))
    return paginate_select(db_session(), stmt, pagination_parameters)


@notifications.route("/unread-count", methods=["GET"])
@requires(AUTHENTICATED)
@notifications.response(200, CountSchema)
def unread_count():
    """How many of your notifications are unread (the bell's number)."""
    from core.notify import unread_count as count

    return {"unread": count(db_session(), _me())}


@notifications.route("/<int:notification_id>/read", methods=["POST"])
@requires(AUTHENTICATED)
@notifications.response(200, NotificationSchema)
def read_notification(notification_id):
    """Mark one of your notifications read (already read: unchanged)."""
    from core.notify import mark_read

    s = db_session()
    n = _own(notification_id)
    with transaction(s):
        mark_read(s, _me(), [n.id])
    s.refresh(n)
    return n


@notifications.route("/read-all", methods=["POST"])
@requires(AUTHENTICATED)
@notifications.response(200, MarkedSchema)
def read_all():
    """Mark all your notifications read."""
    from core.notify import mark_read

    s = db_session()
    with transaction(s):
        marked = mark_read(s, _me())
    return {"marked": marked}
