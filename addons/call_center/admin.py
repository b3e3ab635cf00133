"""Back-office views of call_center (imported only when the back office is built)."""
from __future__ import annotations

from flask import flash, request
from flask_admin import expose
from flask_admin.actions import action

from core.admin.args import record_id
from core.admin.base import BanyanModelView, BanyanView, flash_error
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext, lazy_pgettext
from core.i18n import lazy_gettext as _l

from . import services as svc
from .models import (Article, ArticleCategory, Calendar, InboundEmail, CallRecord, Closure, FollowUpRule, FollowUpTask, LineToken,
                     MailboxRun, Rating, RoutingRule, SlaPolicy, Team, Ticket, TicketArticle, TicketEvent)
from .permissions import (CALL_READ, CALL_WRITE, CONFIG, KB_PUBLISH, KB_READ, KB_WRITE, REPORT, SCREEN_POP,
                          TICKET_READ, TICKET_WRITE)


class TicketView(BanyanModelView):
    """The ticket queue: filters by status, type, priority, escalation; actions move tickets
    along the status machine (closing and cancelling ask first)."""
    permission = TICKET_READ
    write_permission = TICKET_WRITE
    can_delete = False
    can_view_details = True
    column_list = ("id", "subject", "ticket_type", "channel", "priority", "status", "customer", "store", "team",
                   "agent", "opened_at", "response_due_at", "resolution_due_at", "escalation")
    #: a ticket's card on a phone: what it is about, where it stands, who asked and when it is due
    column_card = ("subject", "status", "priority", "customer", "response_due_at")
    column_details_list = column_list + ("description", "sale_id", "product_id", "first_response_at",
                                         "resolved_at", "closed_at", "paused_since", "paused_minutes", "rating")
    column_formatters = {"rating": lambda v, c, m, n: _rating_text(m.rating)}
    column_labels = {"rating": _l("Satisfaction rating")}
    column_searchable_list = ("subject",)
    column_filters = ("status", "ticket_type", "channel", "priority", "escalation", "opened_at",
                      "resolution_due_at")
    column_default_sort = ("opened_at", True)
    form_columns = ("subject", "description", "ticket_type", "channel", "priority", "customer", "store", "team",
                    "agent")
    details_template = "call_center/ticket_details.html"
    #: an existing ticket changes type, priority, assignee and status through its services
    #: (SLA targets, routing, history), so its edit form only has the texts
    EDITABLE = ("subject", "description")

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        for name in [n for n in form._fields if n not in self.EDITABLE and n != "csrf_token"]:
            del form[name]
        return form

    def create_model(self, form):
        from core.web import current_user

        s = self.session
        data = {k: getattr(form, k).data for k in ("subject", "description", "ticket_type", "channel", "priority")}
        for rel in ("customer", "store", "team", "agent"):
            obj = getattr(form, rel).data
            data[f"{rel}_id"] = obj.id if obj is not None else None
        try:
            with transaction(s):
                ticket = svc.create_ticket(s, user=current_user(), **data)
        except BusinessError as exc:
            return self._fail(form, exc)
        return ticket

    def kb_panel(self, ticket) -> dict:
        """The details page's knowledge-base box: the articles linked to ``ticket``, and the
        published articles matching ``?kb=`` (the knowledge base's own search), which who may
        write articles links to the ticket with one button."""
        from core.web import has_perm

        q = (request.args.get("kb") or "").strip()[:200]
        results = []
        if q:
            results = list(self.session.execute(svc.search_articles(self.session, q, published_only=True,
                                                                     limit=10)).scalars())
        linked = svc.articles_of_ticket(self.session, ticket.id)
        taken = {a.id for a in linked}
        return {"q": q, "linked": linked, "results": [a for a in results if a.id not in taken],
                "searched": bool(q), "can_link": has_perm(KB_WRITE)}

    @expose("/kb-link/", methods=["POST"])
    def kb_link(self):
        """Link a knowledge-base article to a ticket (the details page's button); for who may
        write articles, on a ticket and an article they may see."""
        from flask import abort, redirect, url_for

        from core.web import current_user, has_perm

        from .models import Article

        if not has_perm(KB_WRITE):
            abort(403)
        ticket = self.get_one(request.form.get("ticket_id", ""))
        if ticket is None:
            abort(404)
        article_id = request.form.get("article_id", type=record_id)
        s = self.session
        article = s.get(Article, article_id) if article_id and 0 < article_id < 2**31 else None
        if article is None:
            flash(gettext("Choose an article."), "error")
        else:
            try:
                with transaction(s):
                    svc.link_article(s, ticket.id, article.id, user=current_user())
                flash(gettext("Article linked to the ticket."), "success")
            except BusinessError as exc:
                flash_error(exc, self)
        return redirect(url_for(".details_view", id=ticket.id, kb=request.form.get("kb") or None))

    def _move(self, ids, status, done):
        from core.web import current_user

        s = self.session
        try:
            with transaction(s):
                for t in self.selected(ids):
                    svc.set_status(s, t.id, status, user=current_user())
            flash(done, "success")
        except BusinessError as exc:
            flash_error(exc, self)

    @action("open", lazy_pgettext("action", "Open"), _l("Open the selected tickets?"))
    def action_open(self, ids):
        self._move(ids, "open", gettext("Tickets opened."))

    @action("wait", _l("Wait on customer"), _l("Pause the SLA clock of the selected tickets until the customer answers?"))
    def action_wait(self, ids):
        self._move(ids, "waiting", gettext("Tickets waiting on the customer."))

    @action("resolve", _l("Resolve"), _l("Resolve the selected tickets?"))
    def action_resolve(self, ids):
        self._move(ids, "resolved", gettext("Tickets resolved."))

    def _confirmed(self, ids, name, title, line, status, done):
        if request.form.get("confirm") != "1":
            rows = self.selected(ids)
            return self.render("banyan/action_confirm.html", title=title, action=name, ids=[str(t.id) for t in rows],
                               danger=True, lines=[line] + [str(t) for t in rows])
        self._move(ids, status, done)
        return None

    @action("close", _l("Close"))
    def action_close(self, ids):
        """Closing is final: asks first."""
        return self._confirmed(ids, "close", _l("Close the tickets"),
                               gettext("A closed ticket cannot be reopened."), "closed", gettext("Tickets closed."))

    @action("cancel", _l("Cancel"))
    def action_cancel(self, ids):
        """Cancelling is final: asks first."""
        return self._confirmed(ids, "cancel", _l("Cancel the tickets"),
                               gettext("A cancelled ticket cannot be reopened."), "cancelled",
                               gettext("Tickets cancelled."))


def _rating_text(rating) -> str:
    if rating is None:
        return ""
    return f"{rating.score}/5" + (f" · {rating.comment}" if rating.comment else "")


class InboundEmailView(BanyanModelView):
    """Emails taken in by the intake webhook, newest first, with the ticket each went to."""
    permission = TICKET_READ
    can_create = can_edit = can_delete = False
    can_view_details = True
    column_list = ("received_at", "from_address", "subject", "ticket", "created_ticket", "message_id")
    column_details_list = column_list + ("in_reply_to", "body")
    column_searchable_list = ("from_address", "subject", "message_id")
    column_filters = ("received_at", "created_ticket", "ticket_id")
    column_default_sort = ("received_at", True)


class MailboxRunView(BanyanModelView):
    """Every run of the job that reads the IMAP mailbox (``[call_center] imap_*``): what it
    took in, or why it could not read the mailbox (read-only)."""
    permission = CONFIG
    can_create = can_edit = can_delete = False
    can_view_details = True
    column_list = ("started_at", "state", "host", "folder", "fetched", "created", "replies", "duplicates",
                   "rejected", "error")
    column_details_list = column_list + ("finished_at",)
    column_filters = ("state", "started_at")
    column_default_sort = ("started_at", True)


class RatingView(BanyanModelView):
    """Customers' ratings of resolved tickets (given through the signed link; read-only)."""
    permission = TICKET_READ
    can_create = can_edit = can_delete = False
    column_list = ("rated_at", "ticket", "score", "comment", "agent", "team_id")
    column_filters = ("score", "rated_at", "agent_id", "team_id")
    column_default_sort = ("rated_at", True)


def _event_value(view, context, model, name):
    """A history row's before/after by its label: a status for status changes and creation,
    a priority for escalations, an assignment's agent by username and team by name (recorded
    as the agent's user id or ``team:<id>``); anything else as recorded."""
    from .models import PRIORITY, STATUS

    value = getattr(model, name)
    if value is None:
        return ""
    if model.kind in ("status", "created"):
        return STATUS.label(value)
    if model.kind == "escalated":
        return PRIORITY.label(value)
    if model.kind == "assigned":
        return assignee_text(view.session, value)
    return value


def assignee_text(session, value: str) -> str:
    """Who a ticket was assigned to, recorded as an agent's user id (``"7"``) or a team
    (``"team:2"``): the agent's username or the team's name, read in the user's record scope
    (a record out of sight, or gone, stays as recorded)."""
    from sqlalchemy import select

    from core.models import User

    from .models import Team

    text = str(value)
    kind, _sep, ident = text.rpartition(":")
    model, column = (Team, Team.name) if kind == "team" else (User, User.username) if not kind else (None, None)
    if model is None or not ident.isdigit():
        return text
    name = session.execute(select(column).where(model.id == int(ident))).scalar()
    return str(name) if name is not None else text


class TicketEventView(BanyanModelView):
    permission = TICKET_READ
    can_create = can_edit = can_delete = False
    column_list = ("ticket", "kind", "at", "user_id", "from_value", "to_value", "note")
    #: a row's card on a phone: what changed, from what to what (the card showed the kind and time only)
    column_card = ("ticket", "kind", "from_value", "to_value", "at")
    column_formatters = {"from_value": _event_value, "to_value": _event_value}
    column_filters = ("kind", "at", "ticket_id")
    column_default_sort = ("at", True)


class CallView(BanyanModelView):
    permission = CALL_READ
    write_permission = CALL_WRITE
    can_delete = False
    column_list = ("started_at", "direction", "number", "line", "customer", "agent", "outcome",
                   "duration_seconds", "ticket", "notes")
    column_filters = ("direction", "outcome", "started_at")
    column_searchable_list = ("number",)
    column_default_sort = ("started_at", True)
    form_columns = ("direction", "number", "line", "customer", "agent", "started_at", "ended_at", "outcome",
                    "notes", "ticket")
    #: a call once recorded keeps its agent, times and outcome (the agents' figures count them:
    #: handling time, first-contact resolution); its form changes what was said and what it
    #: is linked to. A ringing call ends through ``calls.end_call`` (screen-pop, API).
    EDITABLE = ("customer", "notes", "ticket")

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        for name in [n for n in form._fields if n not in self.EDITABLE and n != "csrf_token"]:
            del form[name]
        return form

    def on_model_change(self, form, model, is_created):
        """A call logged by hand with its end: the duration, as ``calls.end_call`` counts it."""
        super().on_model_change(form, model, is_created)
        if is_created and model.ended_at is not None:
            model.duration_seconds = svc.call_duration(model.started_at, model.ended_at)


class ConfigView(BanyanModelView):
    permission = TICKET_READ
    write_permission = CONFIG


class CalendarView(ConfigView):
    column_list = ("name", "opens_at", "closes_at", "weekdays", "cn_holidays")
    form_columns = column_list


class ClosureView(ConfigView):
    column_list = ("calendar", "day", "note")
    form_columns = column_list
    column_default_sort = ("day", True)


class TeamView(ConfigView):
    column_list = ("name", "calendar", "supervisor", "active")
    form_columns = column_list

    def on_model_change(self, form, model, is_created):
        """The supervisor must see every store the team's routing rules send it tickets of
        (``services.team_errors``, ``core.security.assignees``): on the form's field."""
        super().on_model_change(form, model, is_created)
        with self.session.no_autoflush:
            errors = svc.team_errors(self.session, None if is_created else model.id,
                                     getattr(model.supervisor, "id", None) or model.supervisor_id, field="supervisor")
        if errors:
            raise BusinessError(errors)


class SlaPolicyView(ConfigView):
    column_list = ("ticket_type", "priority", "response_minutes", "resolution_minutes", "warn_minutes", "active")
    form_columns = column_list
    column_filters = ("ticket_type", "priority", "active")


class RoutingRuleView(ConfigView):
    column_list = ("sequence", "name", "ticket_type", "channel", "store", "customer_tier", "team", "agent", "active")
    form_columns = column_list
    column_default_sort = ("sequence", False)

    def on_model_change(self, form, model, is_created):
        """A rule for one store gives its tickets only to an agent who sees that store
        (``core.security.assignees``; a chain-wide rule's agent is skipped at routing for
        the stores they do not see)."""
        from core.security.assignees import check_assignees

        with self.session.no_autoflush:
            store_id = getattr(model.store, "id", None) or model.store_id
            check_assignees(self.session, store_id,
                            users={"agent": getattr(model.agent, "id", None) or model.agent_id})
            # the team's supervisor takes the store's breached tickets: they must see it too
            team = model.team
            if team is not None and store_id is not None and model.active:
                errors = svc.team_errors(self.session, None, team.supervisor_id, [store_id], field="team")
                if errors:
                    raise BusinessError(errors)


class FollowUpRuleView(ConfigView):
    column_list = ("name", "kind", "ticket_type", "days", "agent", "active")
    form_columns = column_list


class FollowUpTaskView(BanyanModelView):
    """Agents' follow-up calls, soonest due first; "Done" closes the selected open tasks."""
    permission = TICKET_READ
    write_permission = TICKET_WRITE
    can_create = can_edit = can_delete = False
    column_list = ("due_at", "rule", "customer", "ticket", "agent", "status", "done_at", "cancel_reason", "note")
    column_filters = ("status", "cancel_reason", "due_at")
    column_default_sort = ("due_at", False)

    @action("done", _l("Done"), _l("Mark the selected follow-ups done?"))
    def action_done(self, ids):
        s = self.session
        try:
            with transaction(s):
                for t in self.selected(ids):
                    svc.complete_task(s, t.id)
            flash(gettext("Follow-ups done."), "success")
        except BusinessError as exc:
            flash_error(exc, self)


class LineTokenView(BanyanModelView):
    """Telephony tokens: the list, and revoke (asks first). New tokens are made on the
    screen-pop page's token form, which shows the plain token once."""
    permission = CONFIG
    write_permission = CONFIG
    can_create = can_edit = can_delete = False
    column_list = ("name", "prefix", "user", "created_at", "revoked_at")

    @action("revoke", _l("Revoke"))
    def action_revoke(self, ids):
        if request.form.get("confirm") != "1":
            rows = self.selected(ids)
            return self.render("banyan/action_confirm.html", title=_l("Revoke the tokens"), action="revoke",
                               ids=[str(t.id) for t in rows], danger=True,
                               lines=[gettext("The phone system can no longer post calls with these tokens.")]
                               + [str(t) for t in rows])
        s = self.session
        with transaction(s):
            for t in self.selected(ids):
                svc.revoke_line_token(s, t.id)
        flash(gettext("Tokens revoked."), "success")
        return None


class ScreenPopPage(BanyanView):
    """The screen-pop of a number (``?number=``) or customer (``?customer_id=``): who is calling,
    every addon's panel about them, their open tickets; a form to log the call as a ticket."""
    permission = SCREEN_POP

    @expose("/", methods=["GET"])
    def index(self):
        from sqlalchemy import select

        from core.models import Customer
        from core.web import current_user, db_session

        s = db_session()
        number = (request.args.get("number") or "").strip()
        cid = request.args.get("customer_id", type=record_id)
        pop = None
        if not number and cid:
            phone = s.execute(select(Customer.phone).where(Customer.id == cid)).scalar()
            number = phone or ""
        if number:
            try:
                pop = svc.screen_pop(s, current_user(), number)
            except BusinessError as exc:
                flash_error(exc, self)
        from .models import PRIORITY, TICKET_TYPE

        call_id = request.args.get("call_id", type=record_id) if pop is not None else None
        return self.render("call_center/screen_pop.html", number=number, pop=pop, call_id=call_id,
                           ticket_type_label=TICKET_TYPE.label, priority_label=PRIORITY.label)

    @expose("/ticket", methods=["POST"])
    def ticket(self):
        from flask import redirect, url_for

        from core.web import current_user, db_session, has_perm

        number = request.form.get("number", "")
        if not has_perm(TICKET_WRITE):
            flash(gettext("You may not open tickets."), "error")
            return redirect(url_for(".index", number=number))
        s = db_session()
        try:
            with transaction(s):
                pop = svc.screen_pop(s, current_user(), number, panels=False)
                cust = pop["customer"]["id"] if pop["customer"] else None
                ticket = svc.create_ticket(s, subject=request.form.get("subject", ""),
                                           ticket_type=request.form.get("ticket_type", ""), channel="phone",
                                           priority=request.form.get("priority", "normal"),
                                           description=request.form.get("description") or None,
                                           customer_id=cust, user=current_user())
                if not _end_ringing_call(s, request.form.get("call_id", type=record_id), pop["number"], ticket.id):
                    svc.record_call(s, number=number, agent_id=current_user().id, customer_id=cust,
                                    outcome="ticket", ticket_id=ticket.id)
            flash(gettext("Ticket %(number)s opened.", number=ticket.number), "success")
        except BusinessError as exc:
            flash_error(exc, self)
        return redirect(url_for(".index", number=number))


def _end_ringing_call(session, call_id, number: str, ticket_id: int) -> bool:
    """End the ringing call ``call_id`` that the phone system posted (the screen-pop was
    opened from its notification) with the outcome ``ticket``, when it is the signed-in
    agent's own call of this number; False otherwise (the caller records a new call)."""
    from sqlalchemy import select

    from core.web import current_user

    from .models import CallRecord

    if not call_id:
        return False
    call = session.execute(select(CallRecord).where(CallRecord.id == call_id)).scalar()
    if (call is None or call.agent_id != current_user().id or call.number != number
            or call.ended_at is not None or call.outcome != "ringing"):
        return False
    svc.end_call(session, call.id, outcome="ticket", ticket_id=ticket_id)
    return True


class ArticleCategoryView(BanyanModelView):
    permission = KB_READ
    write_permission = KB_WRITE
    column_list = ("name", "parent")
    form_columns = column_list
    column_searchable_list = ("name",)


class ArticleView(BanyanModelView):
    """Knowledge-base articles: the search box is the knowledge base's own search (every
    word in title, tags or text, best first); review, publish and withdraw are actions for
    who may publish (withdrawing asks first)."""
    permission = KB_READ
    write_permission = KB_WRITE
    can_delete = False
    can_view_details = True
    column_list = ("title", "category", "tags", "status", "language", "published_at", "updated_at")
    column_details_list = column_list + ("body",)
    column_filters = ("status", "language", "published_at")
    column_searchable_list = ("title", "tags", "body")
    column_default_sort = ("updated_at", True)
    form_columns = ("title", "body", "category", "tags", "language")
    column_details_list = column_details_list + ("related",)
    column_labels = {"related": _l("Related articles")}
    column_formatters = {"related": lambda v, c, m, n: ", ".join(a.title for a in svc.related_articles(v.session, m.id))}
    PUBLISH_ACTIONS = ("review", "publish", "withdraw")

    def scaffold_form(self):
        """The form, plus "Related articles" (saved both ways by ``kb.relate_articles``)."""
        from flask_admin.contrib.sqla.fields import QuerySelectMultipleField

        class RelatedField(QuerySelectMultipleField):
            def populate_obj(self, obj, name):  # saved by on_model_change, not as an attribute
                pass

        form_class = super().scaffold_form()
        form_class.related = RelatedField(_l("Related articles"), query_factory=lambda: self.session.query(Article)
                                          .order_by(Article.title, Article.id), get_label="title")
        return form_class

    def on_form_prefill(self, form, id):
        art = self.get_one(id)
        if art is not None and hasattr(form, "related"):
            form.related.data = svc.related_articles(self.session, art.id)

    def on_model_change(self, form, model, is_created):
        super().on_model_change(form, model, is_created)
        if hasattr(form, "related"):
            self.session.flush()
            svc.relate_articles(self.session, model.id, [a.id for a in (form.related.data or [])
                                                         if a.id != model.id])

    def is_action_allowed(self, name):
        from core.web import has_perm

        if name in self.PUBLISH_ACTIONS:
            return has_perm(KB_PUBLISH)
        return super().is_action_allowed(name)

    def _move(self, ids, status, done):
        s = self.session
        try:
            with transaction(s):
                for a in self.selected(ids):
                    svc.set_article_status(s, a.id, status)
            flash(done, "success")
        except BusinessError as exc:
            flash_error(exc, self)

    @action("review", _l("Mark reviewed"), _l("Mark the selected articles reviewed?"))
    def action_review(self, ids):
        self._move(ids, "reviewed", gettext("Articles reviewed."))

    @action("publish", _l("Publish"), _l("Publish the selected articles on the public help page?"))
    def action_publish(self, ids):
        self._move(ids, "published", gettext("Articles published."))

    @action("withdraw", _l("Withdraw"))
    def action_withdraw(self, ids):
        """Taking an article off the public page asks first."""
        if request.form.get("confirm") != "1":
            rows = self.selected(ids)
            return self.render("banyan/action_confirm.html", title=_l("Withdraw the articles"), action="withdraw",
                               ids=[str(a.id) for a in rows], danger=True,
                               lines=[gettext("Customers will no longer find these articles on the help page.")]
                               + [str(a) for a in rows])
        self._move(ids, "draft", gettext("Articles withdrawn."))
        return None


class TicketArticleView(BanyanModelView):
    """Which article answered which ticket; a new row links an article to a ticket."""
    permission = TICKET_READ
    write_permission = KB_WRITE
    can_edit = can_delete = False
    column_list = ("ticket", "article", "user_id", "linked_at")
    column_filters = ("ticket_id", "article_id", "linked_at")
    column_default_sort = ("linked_at", True)
    form_columns = ("ticket", "article")

    def create_model(self, form):
        from core.web import current_user

        s = self.session
        ticket, article = form.ticket.data, form.article.data
        try:
            with transaction(s):
                if ticket is None:
                    raise BusinessError({"ticket": [_l("Choose a ticket.")]})
                if article is None:
                    raise BusinessError({"article": [_l("Choose an article.")]})
                link = svc.link_article(s, ticket.id, article.id, user=current_user())
        except BusinessError as exc:
            return self._fail(form, exc)
        return link


class SupervisorPage(BanyanView):
    """The supervisor's page: the live queue, and per team and per agent over a period (open,
    overdue against the SLA, first-response and resolution times, breach rate, satisfaction)
    with charts; each table exports to CSV/XLSX (``?export=csv&by=team``)."""
    permission = REPORT

    @expose("/", methods=["GET"])
    def index(self):
        from core.charts import Chart, Series, render_responsive
        from core.reporting import export_response, last_days, period_from_args
        from core.web import db_session

        from .models import STATUS
        from .reports import names_of, queue, sla_figures

        s = db_session()
        errors = {}
        try:
            period = period_from_args(request.args)
        except BusinessError as exc:
            errors = {k: [str(m) for m in v] for k, v in exc.errors.items()}
            period = last_days(30)
        start, end = period.bounds()
        tables = {}
        for by in ("team", "agent"):
            rows = sla_figures(s, by, start, end)
            names = names_of(s, by, [r["id"] for r in rows])
            for r in rows:
                r["name"] = names.get(r["id"], str(r["id"]))
            tables[by] = rows
        columns = [gettext("Name"), gettext("Open"), gettext("Overdue"), gettext("Opened"), gettext("Resolved"),
                   gettext("First response (min)"), gettext("Resolution (min)"), gettext("SLA breach rate"),
                   gettext("Ratings"), gettext("Satisfaction (1-5)")]
        keys = ("name", "open", "overdue", "opened", "resolved", "avg_first_response_minutes",
                "avg_resolution_minutes", "breach_rate", "ratings", "satisfaction")
        export = request.args.get("export")
        if export and not errors:
            by = request.args.get("by") if request.args.get("by") in tables else "team"
            return export_response(export, f"call_center_{by}", columns,
                                   [[r[k] for k in keys] for r in tables[by]], period)
        team_rows = tables["team"]
        labels = [r["name"] for r in team_rows]
        cards = [
            {"key": "team-queue", "title": gettext("Open and overdue tickets by team"),
             "chart": Chart(labels=labels, kind="hbar", money=False, title=gettext("Open and overdue tickets by team"),
                            series=[Series(_l("Open"), [r["open"] for r in team_rows]),
                                    Series(_l("Overdue"), [r["overdue"] for r in team_rows])])},
            {"key": "team-satisfaction", "title": gettext("Satisfaction by team (1-5)"),
             "chart": Chart(labels=labels, kind="hbar", money=False, title=gettext("Satisfaction by team (1-5)"),
                            series=[Series(_l("Satisfaction (1-5)"), [r["satisfaction"] for r in team_rows])])},
        ]
        for card in cards:
            card["svg"] = render_responsive(card["chart"])
        q = queue(s)
        from .mailbox import last_run, settings

        mailbox = last_run(s) if settings(self._runtime())["host"] else None
        return self.render("call_center/supervisor.html", period=period, errors=errors, cards=cards,
                           tables=tables, columns=columns, keys=keys, queue=q, status_label=STATUS.label,
                           mailbox=mailbox)

    @staticmethod
    def _runtime():
        from core.web import runtime

        return runtime()


def views(app=None):
    cat = _l("Call Center")
    return [
        ScreenPopPage(name=_l("Screen-pop"), category=cat, endpoint="call_center_screenpop"),
        SupervisorPage(name=_l("Supervisor board"), category=cat, endpoint="call_center_supervisor"),
        TicketView(Ticket, name=lazy_pgettext("service", "Tickets"), category=cat, endpoint="call_center_ticket"),
        TicketEventView(TicketEvent, name=_l("Ticket history"), category=cat, endpoint="call_center_ticket_event"),
        CallView(CallRecord, name=_l("Calls"), category=cat, endpoint="call_center_call"),
        SlaPolicyView(SlaPolicy, name=_l("SLA policies"), category=cat, endpoint="call_center_sla_policy"),
        CalendarView(Calendar, name=_l("Business calendars"), category=cat, endpoint="call_center_calendar"),
        ClosureView(Closure, name=_l("Closing days"), category=cat, endpoint="call_center_closure"),
        TeamView(Team, name=_l("Teams"), category=cat, endpoint="call_center_team"),
        RoutingRuleView(RoutingRule, name=_l("Routing rules"), category=cat, endpoint="call_center_routing_rule"),
        FollowUpTaskView(FollowUpTask, name=_l("Follow-ups"), category=cat, endpoint="call_center_follow_up_task"),
        FollowUpRuleView(FollowUpRule, name=_l("Follow-up rules"), category=cat, endpoint="call_center_follow_up_rule"),
        LineTokenView(LineToken, name=_l("Telephony tokens"), category=cat, endpoint="call_center_line_token"),
        InboundEmailView(InboundEmail, name=_l("Inbound emails"), category=cat, endpoint="call_center_inbound_email"),
        MailboxRunView(MailboxRun, name=_l("Mailbox runs"), category=cat, endpoint="call_center_mailbox_run"),
        RatingView(Rating, name=_l("Satisfaction ratings"), category=cat, endpoint="call_center_rating"),
        ArticleView(Article, name=_l("Knowledge base"), category=cat, endpoint="call_center_article"),
        ArticleCategoryView(ArticleCategory, name=_l("Article categories"), category=cat,
                            endpoint="call_center_article_category"),
        TicketArticleView(TicketArticle, name=_l("Articles of tickets"), category=cat,
                          endpoint="call_center_ticket_article"),
    ]
