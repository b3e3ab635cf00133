"""Back-office notifications: the signed-in user's own list (opened from the bell in the top
bar), and the email outbox for operators (failed emails are sent again from there)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from sqlalchemy import select

from core.admin.args import bounded
from core.admin.base import BanyanModelView, BanyanView
from core.api import AUTHENTICATED
from core.api.schemas import MAX_ID
from core.labels import MAIL_PROBLEM
from core.db import transaction
from core.i18n import gettext, lazy_gettext as _l
from core.notify import link_path

PAGE_SIZE = 50
#: notifications one poll of the live feed returns at most (the rest come with the next poll)
LIVE_LIMIT = 20
#: pages beyond it are empty anyway; a bigger number is the first page, not a database error
MAX_PAGE = 100_000


def record_url(table: str, ident: int) -> str | None:
    """The back-office page of row ``ident`` of ``table``: the details (else the edit) page of
    the first model view on that table the user may open; None when there is none."""
    from flask import current_app

    admin = current_app.extensions.get("banyan_admin")
    for view in getattr(admin, "_views", ()):
        if not isinstance(view, ModelView) or getattr(view.model, "__tablename__", None) != table:
            continue
        if not view.is_accessible():
            continue
        if view.can_view_details:
            return url_for(f"{view.endpoint}.details_view", id=ident)
        return url_for(f"{view.endpoint}.edit_view", id=ident)
    return None


class NotificationsView(BanyanView):
    """Your notifications: newest first, mark one or all read, open the subject record."""

    permission = AUTHENTICATED

    def is_visible(self):
        return False  # reached from the bell in the top bar

    def _me(self):
        from core.web import current_user

        return current_user()

    def _own(self, notification_id: int):
        from core.models import Notification
        from core.web import db_session

        n = db_session().execute(select(Notification).where(Notification.id == notification_id,
                                                            Notification.user_id == self._me().id)).scalar()
        if n is None:
            abort(404)
        return n

    @expose("/")
    def index(self):
        from core.models import Notification
        from core.notify import link_path
        from core.web import db_session

        page = request.args.get("page", 1, type=bounded(1, MAX_PAGE))
        unread_only = request.args.get("unread") == "1"
        stmt = select(Notification).where(Notification.user_id == self._me().id)
        if unread_only:
            stmt = stmt.where(Notification.read_at.is_(None))
        rows = db_session().execute(stmt.order_by(Notification.id.desc()).offset((page - 1) * PAGE_SIZE)
                                    .limit(PAGE_SIZE + 1)).scalars().all()
        return self.render("banyan/notifications.html", rows=rows[:PAGE_SIZE], page=page,
                           has_next=len(rows) > PAGE_SIZE, unread_only=unread_only,
                           has_link=lambda n: bool(link_path(n.link_model, n.link_id, n.url)))

    @expose("/live")
    def live(self):
        """The live feed of the bell (``core/static/banyan/live.js`` polls it): your
        notifications newer than ``?after=<id>``, oldest first (at most :data:`LIVE_LIMIT`),
        the cursor to ask from next time, and your unread count. JSON."""
        from flask import jsonify

        from core.notify import live_feed
        from core.web import db_session

        after = request.args.get("after", 0, type=bounded(0, MAX_ID))
        feed = live_feed(db_session(), self._me(), after, limit=LIVE_LIMIT)
        items = [{"id": n.id, "kind": n.kind, "subject": n.subject, "body": n.body,
                  "url": url_for(".open", notification_id=n.id),
                  "link": link_path(n.link_model, n.link_id, n.url)} for n in feed["items"]]
        resp = jsonify({"cursor": feed["cursor"], "unread": feed["unread"], "items": items})
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @expose("/<int:notification_id>/read", methods=["POST"])
    def read(self, notification_id):
        from core.notify import mark_read
        from core.web import db_session

        n = self._own(notification_id)
        s = db_session()
        with transaction(s):
            mark_read(s, self._me(), [n.id])
        return redirect(url_for(".index"))

    @expose("/read-all", methods=["POST"])
    def read_all(self):
        from core.notify import mark_read
        from core.web import db_session

        s = db_session()
        with transaction(s):
            n = mark_read(s, self._me())
        flash(gettext("%(n)s notification(s) marked read.", n=n))
        return redirect(url_for(".index"))

    @expose("/<int:notification_id>/open")
    def open(self, notification_id):
        """Mark the notification read and go to its subject."""
        from core.notify import mark_read
        from core.web import db_session

        n = self._own(notification_id)
        s = db_session()
        with transaction(s):
            mark_read(s, self._me(), [n.id])
        if n.link_model and n.link_id is not None:
            return self.go(n.link_model, n.link_id)
        if n.url:
            return redirect(n.url)
        return redirect(url_for(".index"))

    @expose("/go/<model>/<int:record_id>")
    def go(self, model, record_id):
        """The page of a notification's subject record (the link in emails)."""
        target = record_url(model, record_id)
        if target is None:
            flash(gettext("You cannot open this record here."), "error")
            return redirect(url_for(".index"))
        return redirect(target)


class MailOutboxView(BanyanModelView):
    """Every email the chain sent or tries to send; failed ones can be queued again."""

    permission = "core.mail.admin"
    allow_create = False
    allow_edit = False
    allow_delete = False
    simple_list_pager = True
    column_list = ("id", "created_at", "kind", "to_address", "subject", "state", "attempts",
                   "next_attempt_at", "sent_at", "last_error")
    column_filters = ("state", "kind", "to_address", "created_at")
    column_searchable_list = ("to_address", "subject")
    column_exclude_list = ("claim",)
    column_details_exclude_list = ("claim",)
    # what the worker itself wrote is a code, shown as its label; an SMTP answer as it came
    column_formatters = {"last_error": lambda v, c, m, n: MAIL_PROBLEM.label(m.last_error)}
    # labels and the states' labels: core.labels (core_mail_message)

    @action("retry", _l("Send again"), _l("Send the selected failed emails again?"))
    def action_retry(self, ids):
        from core.notify import requeue
        from core.web import db_session

        s = db_session()
        with transaction(s):
            n = requeue(s, [int(i) for i in ids])
        flash(gettext("%(n)s email(s) queued again.", n=n))

