"""Back-office views of call_center (imported only when the back office is built)."""
from __future__ import annotations

from flask import flash, request
from flask_admin import expose
from flask_admin.actions import action

from core.admin.base import BanyanModelView, BanyanView
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext
from core.i18n import lazy_gettext as _l

from . import services as svc
from .models import (Calendar, CallRecord, Closure, FollowUpRule, FollowUpTask, LineToken, RoutingRule, SlaPolicy,
                     Team, Ticket, TicketEvent)
from .permissions import CALL_READ, CALL_WRITE, CONFIG, SCREEN_POP, TICKET_READ, TICKET_WRITE


def _flash_error(exc: BusinessError) -> None:
    for messages in exc.errors.values():
        for m in (messages if isinstance(messages, (list, tuple)) else [messages]):
            flash(str(m), "error")


class TicketView(BanyanModelView):
    """The ticket queue: filters by status, type, priority, escalation; actions move tickets
    along the status machine (closing and cancelling ask first)."""
    permission = TICKET_READ
    write_permission = TICKET_WRITE
    can_delete = False
    can_view_details = True
    column_list = ("id", "subject", "ticket_type", "channel", "priority", "status", "customer", "store", "team",
                   "agent", "opened_at", "response_due_at", "resolution_due_at", "escalation")
    column_details_list = column_list + ("description", "sale_id", "product_id", "first_response_at",
                                         "resolved_at", "closed_at", "paused_since", "paused_minutes")
    column_searchable_list = ("subject",)
    column_filters = ("status", "ticket_type", "channel", "priority", "escalation", "opened_at",
                      "resolution_due_at")
    column_default_sort = ("opened_at", True)
    form_columns = ("subject", "description", "ticket_type", "channel", "priority", "customer", "store", "team",
                    "agent")
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

    def _move(self, ids, status, done):
        from core.web import current_user

        s = self.session
        try:
            with transaction(s):
                for t in self.selected(ids):
                    svc.set_status(s, t.id, status, user=current_user())
            flash(done, "success")
        except BusinessError as exc:
            _flash_error(exc)

    @action("open", _l("Open"), _l("Open the selected tickets?"))
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


def _event_value(view, context, model, name):
    """A history row's before/after by its label: a status for status changes and creation,
    a priority for escalations; anything else (an agent, a team) as recorded."""
    from .models import PRIORITY, STATUS

    value = getattr(model, name)
    if value is None:
        return ""
    if model.kind in ("status", "created"):
        return STATUS.label(value)
    if model.kind == "escalated":
        return PRIORITY.label(value)
    return value


class TicketEventView(BanyanModelView):
    permission = TICKET_READ
    can_create = can_edit = can_delete = False
    column_list = ("ticket", "kind", "at", "user_id", "from_value", "to_value", "note")
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


class SlaPolicyView(ConfigView):
    column_list = ("ticket_type", "priority", "response_minutes", "resolution_minutes", "warn_minutes", "active")
    form_columns = column_list
    column_filters = ("ticket_type", "priority", "active")


class RoutingRuleView(ConfigView):
    column_list = ("sequence", "name", "ticket_type", "channel", "store", "customer_tier", "team", "agent", "active")
    form_columns = column_list
    column_default_sort = ("sequence", False)


class FollowUpRuleView(ConfigView):
    column_list = ("name", "kind", "ticket_type", "days", "agent", "active")
    form_columns = column_list


class FollowUpTaskView(BanyanModelView):
    """Agents' follow-up calls, soonest due first; "Done" closes the selected open tasks."""
    permission = TICKET_READ
    write_permission = TICKET_WRITE
    can_create = can_edit = can_delete = False
    column_list = ("due_at", "rule", "customer", "ticket", "agent", "status", "done_at", "note")
    column_filters = ("status", "due_at")
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
            _flash_error(exc)


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
        cid = request.args.get("customer_id", type=int)
        pop = None
        if not number and cid:
            phone = s.execute(select(Customer.phone).where(Customer.id == cid)).scalar()
            number = phone or ""
        if number:
            try:
                pop = svc.screen_pop(s, current_user(), number)
            except BusinessError as exc:
                _flash_error(exc)
        from .models import PRIORITY, TICKET_TYPE

        return self.render("call_center/screen_pop.html", number=number, pop=pop,
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
                svc.record_call(s, number=number, agent_id=current_user().id, customer_id=cust, outcome="ticket",
                                ticket_id=ticket.id)
            flash(gettext("Ticket %(number)s opened.", number=ticket.number), "success")
        except BusinessError as exc:
            _flash_error(exc)
        return redirect(url_for(".index", number=number))


def views(app=None):
    cat = _l("Call Center")
    return [
        ScreenPopPage(name=_l("Screen-pop"), category=cat, endpoint="call_center_screenpop"),
        TicketView(Ticket, name=_l("Tickets"), category=cat, endpoint="call_center_ticket"),
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
    ]
