"""Marshmallow schemas of the call_center API, built from the kernel's fields
(``core.api.fields``) so inputs are as strict as the kernel's."""
from __future__ import annotations

from marshmallow import Schema, fields

from core.api.fields import Choice, Id, Input, Instant, QId, QInt, Query, Str, from_column

from .models import (ARTICLE_LANGUAGE, ARTICLE_STATUS, CHANNELS, DIRECTIONS, OUTCOMES, PRIORITIES, STATUSES,
                     TICKET_TYPES, Ticket)


class TicketIn(Input):
    subject = from_column(Ticket.subject, min=1, required=True)
    description = Str(max=10000, load_default=None, allow_none=True)
    ticket_type = Choice(TICKET_TYPES, required=True)
    channel = Choice(CHANNELS, required=True)
    priority = Choice(PRIORITIES, load_default="normal")
    customer_id = Id(load_default=None, allow_none=True)
    store_id = Id(load_default=None, allow_none=True)
    sale_id = Id(load_default=None, allow_none=True)
    product_id = Id(load_default=None, allow_none=True)
    team_id = Id(load_default=None, allow_none=True)
    agent_id = Id(load_default=None, allow_none=True)


class TeamIn(Input):
    name = Str(min=1, max=80, required=True)
    calendar_id = Id(load_default=None, allow_none=True)
    supervisor_id = Id(load_default=None, allow_none=True)
    active = fields.Bool(load_default=True)


class TeamPatch(Input):
    name = Str(min=1, max=80)
    calendar_id = Id(allow_none=True)
    supervisor_id = Id(allow_none=True)
    active = fields.Bool()


class TeamOut(Schema):
    id = fields.Int()
    name = fields.Str()
    calendar_id = fields.Int(allow_none=True)
    supervisor_id = fields.Int(allow_none=True)
    active = fields.Bool()


class StatusIn(Input):
    status = Choice(STATUSES, required=True)
    note = Str(max=500, load_default=None, allow_none=True)


class AssignIn(Input):
    agent_id = Id(load_default=None, allow_none=True)
    team_id = Id(load_default=None, allow_none=True)
    note = Str(max=500, load_default=None, allow_none=True)


class TicketQuery(Query):
    status = Choice(STATUSES, load_default=None)
    customer_id = QId(load_default=None)


class TicketOut(Schema):
    id = fields.Int()
    number = fields.Str()
    subject = fields.Str()
    description = fields.Str(allow_none=True)
    ticket_type = fields.Str()
    channel = fields.Str()
    priority = fields.Str()
    status = fields.Str()
    customer_id = fields.Int(allow_none=True)
    store_id = fields.Int(allow_none=True)
    sale_id = fields.Int(allow_none=True)
    product_id = fields.Int(allow_none=True)
    team_id = fields.Int(allow_none=True)
    agent_id = fields.Int(allow_none=True)
    opened_at = Instant()
    first_response_at = Instant(allow_none=True)
    resolved_at = Instant(allow_none=True)
    response_due_at = Instant(allow_none=True)
    resolution_due_at = Instant(allow_none=True)
    paused_minutes = fields.Int()
    escalation = fields.Int()
    rating = fields.Method("_rating")

    def _rating(self, obj):
        r = obj.rating
        if r is None:
            return None
        return {"score": r.score, "comment": r.comment, "rated_at": Instant()._serialize(r.rated_at, None, None)}


class IncomingCallIn(Input):
    """What the phone system posts when a call comes in."""
    number = Str(required=True, min=3, max=40)
    line = Str(max=40, load_default=None, allow_none=True)
    agent_id = Id(load_default=None, allow_none=True)


class CallIn(Input):
    number = Str(required=True, min=3, max=40)
    direction = Choice(DIRECTIONS, load_default="in")
    line = Str(max=40, load_default=None, allow_none=True)
    customer_id = Id(load_default=None, allow_none=True)
    ticket_id = Id(load_default=None, allow_none=True)
    outcome = Choice(OUTCOMES, load_default="answered")
    notes = Str(max=5000, load_default=None, allow_none=True)


class EndCallIn(Input):
    outcome = Choice([o for o in OUTCOMES if o != "ringing"], required=True)
    notes = Str(max=5000, load_default=None, allow_none=True)
    ticket_id = Id(load_default=None, allow_none=True)


class CallOut(Schema):
    id = fields.Int()
    direction = fields.Str()
    number = fields.Str()
    line = fields.Str(allow_none=True)
    customer_id = fields.Int(allow_none=True)
    agent_id = fields.Int(allow_none=True)
    ticket_id = fields.Int(allow_none=True)
    started_at = Instant()
    ended_at = Instant(allow_none=True)
    duration_seconds = fields.Int(allow_none=True)
    outcome = fields.Str()
    notes = fields.Str(allow_none=True)


class PopTicketOut(Schema):
    id = fields.Int()
    number = fields.Str()
    subject = fields.Str()
    status = fields.Str()
    priority = fields.Str()
    resolution_due_at = Instant(allow_none=True)


class PopPanelOut(Schema):
    addon = fields.Str()
    title = fields.Str()
    fields_ = fields.List(fields.List(fields.Str()), data_key="fields", attribute="fields")


class PopArticleOut(Schema):
    id = fields.Int()
    title = fields.Str()


class ScreenPopOut(Schema):
    number = fields.Str()
    customer = fields.Dict(allow_none=True)
    contact = fields.Dict(allow_none=True)
    panels = fields.List(fields.Nested(PopPanelOut))
    open_tickets = fields.List(fields.Nested(PopTicketOut))
    articles = fields.List(fields.Nested(PopArticleOut))
    create_customer = fields.Bool()
    call_id = fields.Int(allow_none=True)


class ReportQuery(Query):
    days = QInt(1, 366, load_default=30)


class AgentFiguresOut(Schema):
    agent_id = fields.Int()
    calls = fields.Int()
    avg_handling_seconds = fields.Int(allow_none=True)
    resolved = fields.Int()
    fcr_rate = fields.Decimal(as_string=True, allow_none=True)
    breach_rate = fields.Decimal(as_string=True, allow_none=True)
    ratings = fields.Int()
    satisfaction = fields.Decimal(as_string=True, allow_none=True)


class QueueOut(Schema):
    by_status = fields.Dict(keys=fields.Str(), values=fields.Int())
    breached = fields.Int()
    unassigned = fields.Int()


class TaskDoneIn(Input):
    status = Choice(("done", "cancelled"), load_default="done")
    note = Str(max=500, load_default=None, allow_none=True)


class TaskOut(Schema):
    id = fields.Int()
    rule_id = fields.Int()
    customer_id = fields.Int()
    ticket_id = fields.Int(allow_none=True)
    resolved_at = Instant(allow_none=True, metadata={"description": "the resolution of the ticket the task follows"})
    agent_id = fields.Int(allow_none=True)
    due_at = Instant()
    status = fields.Str()
    done_at = Instant(allow_none=True)
    cancel_reason = fields.Str(allow_none=True, metadata={
        "description": "agent, reopened (the ticket was reopened) or not_key_account"})
    note = fields.Str(allow_none=True)


class MailboxRunOut(Schema):
    id = fields.Int()
    started_at = Instant()
    finished_at = Instant(allow_none=True)
    state = fields.Str(metadata={"description": "ok (read) or failed"})
    host = fields.Str()
    folder = fields.Str()
    fetched = fields.Int(metadata={"description": "messages read"})
    created = fields.Int(metadata={"description": "tickets opened"})
    replies = fields.Int()
    duplicates = fields.Int(metadata={"description": "messages already taken in"})
    rejected = fields.Int(metadata={"description": "messages the intake refused"})
    error = fields.Str(allow_none=True)


class ArticleIn(Input):
    title = Str(required=True, min=1, max=200)
    body = Str(max=100000, load_default="")
    category_id = Id(load_default=None, allow_none=True)
    tags = fields.List(Str(min=1, max=40), load_default=None, allow_none=True)
    language = Choice(ARTICLE_LANGUAGE.codes, load_default="zh_Hans")


class ArticlePatch(Input):
    title = Str(min=1, max=200)
    body = Str(max=100000)
    category_id = Id(allow_none=True)
    tags = fields.List(Str(min=1, max=40))
    language = Choice(ARTICLE_LANGUAGE.codes)


class ArticleStatusIn(Input):
    status = Choice(ARTICLE_STATUS.codes, required=True)


class ArticleQuery(Query):
    q = Str(max=200, load_default=None)
    status = Choice(ARTICLE_STATUS.codes, load_default=None)
    language = Choice(ARTICLE_LANGUAGE.codes, load_default=None)
    category_id = QId(load_default=None)


class ArticleOut(Schema):
    id = fields.Int()
    title = fields.Str()
    body = fields.Str()
    category_id = fields.Int(allow_none=True)
    tags = fields.Method("_tags")
    status = fields.Str()
    language = fields.Str()
    author_id = fields.Int(allow_none=True)
    published_at = Instant(allow_none=True)
    updated_at = Instant()

    def _tags(self, obj):
        return [t for t in (obj.tags or "").split(",") if t]


class RelatedIn(Input):
    related_ids = fields.List(Id(), required=True,
                              metadata={"description": "the whole list of related articles (both ways)"})


class LinkArticleIn(Input):
    article_id = Id(required=True)


class RatingLinkOut(Schema):
    url = fields.Str()
    days = fields.Int()


class SlaReportQuery(Query):
    by = Choice(("team", "agent"), load_default="team")
    days = QInt(1, 366, load_default=30)


class SlaFiguresOut(Schema):
    id = fields.Int()
    name = fields.Str()
    open = fields.Int()
    overdue = fields.Int()
    opened = fields.Int()
    resolved = fields.Int()
    avg_first_response_minutes = fields.Decimal(as_string=True, allow_none=True)
    avg_resolution_minutes = fields.Decimal(as_string=True, allow_none=True)
    breach_rate = fields.Decimal(as_string=True, allow_none=True)
    ratings = fields.Int()
    satisfaction = fields.Decimal(as_string=True, allow_none=True)


class InboundEmailIn(Input):
    """What the mail gateway posts for one inbound email (header values as received)."""
    message_id = Str(required=True, min=3, max=250)
    from_ = Str(required=True, min=3, max=320, data_key="from")
    subject = Str(max=1000, load_default=None, allow_none=True)
    body = Str(max=100000, load_default=None, allow_none=True)
    in_reply_to = Str(max=1000, load_default=None, allow_none=True)
    references = Str(max=10000, load_default=None, allow_none=True)


class InboundEmailOut(Schema):
    email_id = fields.Int()
    ticket_id = fields.Int()
    ticket_number = fields.Str()
    created = fields.Bool()
    duplicate = fields.Bool()
