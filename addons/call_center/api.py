"""REST endpoints of call_center, mounted under /api/v1/call_center/.

Rows named by a request: ``get_visible`` for a path id (404 when the user's scope does not
show it), ``ref_visible`` for a reference in a body (422 naming the field).

The telephony webhook ``POST /telephony/calls`` and the mail gateway's ``POST /email/inbound``
are authenticated by a call-center integration token (header ``X-Call-Center-Token``, made in
the back office or by ``create_line_token``), not by an API token: they run with the
permissions and scope of the token's user, who needs the endpoint's own permission."""
from __future__ import annotations

from functools import wraps

from flask import g, request
from sqlalchemy import select

from core.api import Blueprint, paginate_select, request_user, requires
from core.api.errors import response as error_response
from core.api.visible import get_visible, ref_visible
from core.db import transaction
from core.i18n import gettext as _
from core.models import Customer, Product, Sale, Store, User
from core.web import db_session

from . import services as svc
from .models import Article, ArticleCategory, Calendar, CallRecord, FollowUpTask, Team, Ticket
from .permissions import (CALL_READ, CALL_WRITE, CONFIG, EMAIL_INTAKE, KB_PUBLISH, KB_READ, KB_WRITE, REPORT, SCREEN_POP, TICKET_READ,
                          TICKET_WRITE, WEBHOOK)
from .schemas import (AgentFiguresOut, ArticleIn, InboundEmailIn, InboundEmailOut, ArticleOut, ArticlePatch, ArticleQuery, ArticleStatusIn, AssignIn,
                      CallIn, CallOut, EndCallIn, IncomingCallIn, LinkArticleIn, MailboxRunOut, RelatedIn, QueueOut, RatingLinkOut, ReportQuery, ScreenPopOut,
                      SlaFiguresOut, SlaReportQuery,
                      StatusIn, TaskDoneIn, TaskOut, TeamIn, TeamOut, TeamPatch, TicketIn, TicketOut, TicketQuery)

blp = Blueprint("call_center", __name__, description="Call center: tickets, SLAs, calls and the screen-pop")


def requires_line_token(permission: str):
    """Authenticate the request by its telephony token (401 otherwise) and require
    ``permission`` of the token's user (403). A bearer API token is not accepted here."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            from core.security.permissions import has_permission
            from core.web import raw_session

            from .calls import authenticate_line_token

            plain = request.headers.get(svc_token_header(), "")
            raw = raw_session()
            ctx = authenticate_line_token(raw, plain.strip(), _line_token_cache())
            if ctx is None:
                return error_response(401, message=_("A valid telephony token is required (%(header)s).",
                                             header=svc_token_header()))
            g.api_auth_done = True
            # the request's own copy of the cached (detached) user; its stores and permissions
            # come with the token (``core.web.db_session``): no query
            g.api_auth = ctx
            g.api_user = raw.merge(ctx.user, load=False)
            if not has_permission(db_session(), g.api_user, permission):
                return error_response(403, message=_("You do not have the permission %(perm)s.", perm=permission))
            return func(*args, **kwargs)

        wrapper._banyan_permission = permission
        wrapper._banyan_test_headers = _line_token_headers
        return wrapper

    return decorator


def _line_token_cache():
    """This app's cache of verified telephony tokens: a kernel ``TokenCache`` with the API
    tokens' lifetime (``BANYAN_TOKEN_CACHE_SECONDS``, default 5 s; 0 turns it off)."""
    from flask import current_app

    cache = current_app.extensions.get("call_center_line_tokens")
    if cache is None:
        from core.security.tokens import CACHE_SECONDS, TokenCache, watch_auth_models

        from .models import LineToken

        watch_auth_models(LineToken)
        cache = TokenCache(ttl=current_app.config.get("BANYAN_TOKEN_CACHE_SECONDS", CACHE_SECONDS))
        current_app.extensions["call_center_line_tokens"] = cache
    return cache


def _line_token_headers(session, user) -> dict:
    """A fresh telephony token of ``user`` as request headers (``AddonChecks`` calls it)."""
    plain, _row = svc.create_line_token(session, "addon-checks", user.id)
    return {svc_token_header(): plain}


def svc_token_header() -> str:
    from .calls import TOKEN_HEADER

    return TOKEN_HEADER


def _refs(data: dict) -> None:
    ref_visible(Customer, data.get("customer_id"), "customer_id")
    ref_visible(Store, data.get("store_id"), "store_id")
    ref_visible(Sale, data.get("sale_id"), "sale_id")
    ref_visible(Product, data.get("product_id"), "product_id")
    ref_visible(Team, data.get("team_id"), "team_id")
    ref_visible(User, data.get("agent_id"), "agent_id")


@blp.route("/tickets")
@requires(TICKET_READ)
@blp.arguments(TicketQuery, location="query")
@blp.response(200, TicketOut(many=True))
@blp.paginate()
def list_tickets(query, pagination_parameters):
    """Tickets you may see, newest first; filter by ``status`` and ``customer_id``."""
    stmt = select(Ticket).order_by(Ticket.opened_at.desc(), Ticket.id.desc())
    if query.get("status"):
        stmt = stmt.where(Ticket.status == query["status"])
    if query.get("customer_id"):
        stmt = stmt.where(Ticket.customer_id == query["customer_id"])
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/tickets/<int:ticket_id>")
@requires(TICKET_READ)
@blp.response(200, TicketOut)
def get_ticket(ticket_id):
    """One ticket (404 when you may not see it)."""
    return get_visible(Ticket, ticket_id)


@blp.route("/tickets", methods=["POST"])
@requires(TICKET_WRITE)
@blp.arguments(TicketIn)
@blp.response(201, TicketOut)
def post_ticket(data):
    """Open a ticket: routed (when no team or agent is given) and given its SLA targets; the
    assignee is notified. Moves no money or stock: no Idempotency-Key."""
    session = db_session()
    with transaction(session):
        _refs(data)
        ticket = svc.create_ticket(session, user=request_user(), **data)
    return ticket


@blp.route("/tickets/<int:ticket_id>/status", methods=["POST"])
@requires(TICKET_WRITE)
@blp.arguments(StatusIn)
@blp.response(200, TicketOut)
def post_status(data, ticket_id):
    """Move a ticket along its status machine (422 on ``status`` for a refused move).
    Moves no money or stock: no Idempotency-Key."""
    session = db_session()
    with transaction(session):
        get_visible(Ticket, ticket_id)
        ticket = svc.set_status(session, ticket_id, data["status"], user=request_user(), note=data.get("note"))
    return ticket


@blp.route("/tickets/<int:ticket_id>/assign", methods=["POST"])
@requires(TICKET_WRITE)
@blp.arguments(AssignIn)
@blp.response(200, TicketOut)
def post_assign(data, ticket_id):
    """Give a ticket to an agent and/or team (notified). Moves no money or stock."""
    session = db_session()
    with transaction(session):
        get_visible(Ticket, ticket_id)
        ref_visible(Team, data.get("team_id"), "team_id")
        ref_visible(User, data.get("agent_id"), "agent_id")
        ticket = svc.assign(session, ticket_id, agent_id=data.get("agent_id"), team_id=data.get("team_id"),
                            user=request_user(), note=data.get("note"))
    return ticket


@blp.route("/teams")
@requires(TICKET_READ)
@blp.response(200, TeamOut(many=True))
@blp.paginate()
def list_teams(pagination_parameters):
    """Teams you may see (a team whose supervisor is outside your scope is not shown)."""
    return paginate_select(db_session(), select(Team).order_by(Team.name, Team.id), pagination_parameters)


@blp.route("/teams", methods=["POST"])
@requires(CONFIG)
@blp.arguments(TeamIn)
@blp.response(201, TeamOut)
def post_team(data):
    """Make a team (422 ``supervisor_id`` when the supervisor cannot see a store the team's
    routing rules send it tickets of; ``name`` when used)."""
    session = db_session()
    with transaction(session):
        ref_visible(Calendar, data.get("calendar_id"), "calendar_id")
        ref_visible(User, data.get("supervisor_id"), "supervisor_id")
        team = svc.save_team(session, **data)
    return team


@blp.route("/teams/<int:team_id>", methods=["PATCH"])
@requires(CONFIG)
@blp.arguments(TeamPatch)
@blp.response(200, TeamOut)
def patch_team(data, team_id):
    """Change a team (the same checks as making one)."""
    session = db_session()
    with transaction(session):
        get_visible(Team, team_id)
        ref_visible(Calendar, data.get("calendar_id"), "calendar_id")
        ref_visible(User, data.get("supervisor_id"), "supervisor_id")
        team = svc.save_team(session, team_id=team_id, **data)
    return team


@blp.route("/tickets/<int:ticket_id>/rating-link")
@requires(TICKET_WRITE)
@blp.response(200, RatingLinkOut)
def get_rating_link(ticket_id):
    """The signed rating link of a resolved ticket with a customer, to send by another
    channel (a text message, the chat); 422 ``_`` (the ticket as a whole) when it is not resolved, has no
    customer, or is rated already. Valid ``days`` days."""
    from core.errors import BusinessError
    from core.runtime import runtime_of

    from .ratings import rating_days, rating_of, rating_url

    session = db_session()
    ticket = get_visible(Ticket, ticket_id)
    if ticket.status not in ("resolved", "closed") or ticket.customer_id is None:
        raise BusinessError({"_": [_("Only a resolved ticket with a customer can be rated.")]})
    if rating_of(session, ticket.id) is not None:
        raise BusinessError({"_": [_("This ticket has already been rated. Thank you.")]})
    return {"url": rating_url(session, ticket), "days": rating_days(runtime_of(session))}


@blp.route("/screen-pop/<string:number>")
@requires(SCREEN_POP)
@blp.response(200, ScreenPopOut)
def get_screen_pop(number):
    """The screen-pop of a phone number (422 on ``number`` when it is no valid number)."""
    session = db_session()
    out = svc.screen_pop(session, request_user(), number)
    session.rollback()
    return _pop_response({**out, "call_id": None}, 200)


@blp.route("/telephony/calls", methods=["POST"])
@requires_line_token(WEBHOOK)
@blp.arguments(IncomingCallIn)
@blp.response(201, ScreenPopOut)
def post_incoming_call(data):
    """The phone system posts an incoming call (header ``X-Call-Center-Token``): the call is
    recorded (``ringing``), its agent (when given) is told in the app with a link to the
    screen-pop page, and the screen-pop is returned with its ``call_id``. A retry makes a
    second call record; it moves no money or stock: no Idempotency-Key."""
    session = db_session()
    with transaction(session):
        ref_visible(User, data.get("agent_id"), "agent_id")
        # the transaction's commit does not wait for the disk (PostgreSQL): see find_caller
        pop = svc.screen_pop(session, g.api_user, data["number"], relaxed_commit=True)
        customer_id = pop["customer"]["id"] if pop["customer"] else None
        call = svc.record_call(session, number=pop["number"], line=data.get("line"), agent_id=data.get("agent_id"),
                               customer_id=customer_id, outcome="ringing")
        pop["call_id"] = call.id
        svc.announce_call(session, call, pop)
    return _pop_response(pop, 201)


def _pop_response(pop: dict, status: int):
    """The screen-pop as JSON, as ``ScreenPopOut`` dumps it (a test holds them equal),
    without the schema: the webhook answers every ring, and its dump was a tenth of a
    call's CPU. Instants as the API writes them (local time with its offset)."""
    from flask import jsonify

    from core.localtime import aware_local

    tickets = [{**t, "resolution_due_at": None if t["resolution_due_at"] is None
                else aware_local(t["resolution_due_at"]).isoformat()} for t in pop["open_tickets"]]
    resp = jsonify({**pop, "open_tickets": tickets})
    resp.status_code = status
    return resp


@blp.route("/email/inbound", methods=["POST"])
@requires_line_token(EMAIL_INTAKE)
@blp.arguments(InboundEmailIn)
@blp.response(200, InboundEmailOut)
@blp.alt_response(201, schema=InboundEmailOut, description="The email opened a new ticket.")
def post_inbound_email(data):
    """The mail gateway posts one inbound email (header ``X-Call-Center-Token``): ``from``,
    ``subject``, ``body``, ``message_id``, ``in_reply_to``, ``references``. It becomes a new
    ticket (201) or a reply on the ticket it threads to (200); the customer is matched by the
    sender's address. Idempotent on ``message_id``: posting it again answers the same ticket
    with ``duplicate`` true and changes nothing."""
    from .intake import DuplicateEmail, intake_email

    session = db_session()
    try:
        with transaction(session):
            out = intake_email(session, message_id=data["message_id"], from_address=data["from_"],
                               subject=data.get("subject"), body=data.get("body"),
                               in_reply_to=data.get("in_reply_to"), references=data.get("references"),
                               user=g.api_user)
            answer = {"email_id": out["email"].id, "ticket_id": out["ticket"].id,
                      "ticket_number": out["ticket"].number, "created": out["created"],
                      "duplicate": out["duplicate"]}
    except DuplicateEmail as dup:
        ticket = session.get(Ticket, dup.ticket_id)
        answer = {"email_id": dup.email_id, "ticket_id": ticket.id, "ticket_number": ticket.number,
                  "created": False, "duplicate": True}
    return answer, (201 if answer["created"] else 200)


@blp.route("/mailbox-runs")
@requires(CONFIG)
@blp.response(200, MailboxRunOut(many=True))
@blp.paginate()
def list_mailbox_runs(pagination_parameters):
    """The runs of the job that reads the IMAP mailbox, newest first: what each took in, or
    why it could not read the mailbox (``state`` failed, ``error``)."""
    from .models import MailboxRun

    stmt = select(MailboxRun).order_by(MailboxRun.id.desc())
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/calls")
@requires(CALL_READ)
@blp.response(200, CallOut(many=True))
@blp.paginate()
def list_calls(pagination_parameters):
    """Call records you may see, newest first."""
    stmt = select(CallRecord).order_by(CallRecord.started_at.desc(), CallRecord.id.desc())
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/calls", methods=["POST"])
@requires(CALL_WRITE)
@blp.arguments(CallIn)
@blp.response(201, CallOut)
def post_call(data):
    """Record a call by hand (an outgoing call back, a call the phone system missed)."""
    session = db_session()
    with transaction(session):
        ref_visible(Customer, data.get("customer_id"), "customer_id")
        ref_visible(Ticket, data.get("ticket_id"), "ticket_id")
        call = svc.record_call(session, agent_id=request_user().id, **data)
    return call


@blp.route("/calls/<int:call_id>/end", methods=["POST"])
@requires(CALL_WRITE)
@blp.arguments(EndCallIn)
@blp.response(200, CallOut)
def post_end_call(data, call_id):
    """End a call: duration, outcome, notes, linked ticket (422 ``call`` when already ended)."""
    session = db_session()
    with transaction(session):
        get_visible(CallRecord, call_id)
        ref_visible(Ticket, data.get("ticket_id"), "ticket_id")
        call = svc.end_call(session, call_id, **data)
    return call


@blp.route("/queue")
@requires(TICKET_READ)
@blp.response(200, QueueOut)
def get_queue():
    """The live queue: open tickets you may see by status, breached now, unassigned."""
    return svc.queue(db_session())


@blp.route("/reports/agents")
@requires(REPORT)
@blp.arguments(ReportQuery, location="query")
@blp.response(200, AgentFiguresOut(many=True))
def get_agent_report(query):
    """Per agent over the last ``days`` days (default 30): calls, average handling time in
    seconds, tickets resolved, first-contact resolution and SLA breach rate (fractions)."""
    from datetime import timedelta

    from core.mixins import utcnow

    now = utcnow()
    return svc.agent_report(db_session(), now - timedelta(days=query["days"]), now)


@blp.route("/reports/sla")
@requires(REPORT)
@blp.arguments(SlaReportQuery, location="query")
@blp.response(200, SlaFiguresOut(many=True))
def get_sla_report(query):
    """The supervisor's figures per team (``by=team``) or agent (``by=agent``) over the last
    ``days`` days: open and overdue tickets now, opened and resolved in the period, mean
    first-response and resolution times (wall-clock minutes), SLA breach rate (fraction),
    ratings and mean satisfaction (1-5)."""
    from datetime import timedelta

    from core.mixins import utcnow

    from .reports import names_of, sla_figures

    session = db_session()
    now = utcnow()
    rows = sla_figures(session, query["by"], now - timedelta(days=query["days"]), now, at=now)
    names = names_of(session, query["by"], [r["id"] for r in rows])
    return [{**r, "name": names.get(r["id"], str(r["id"]))} for r in rows]


@blp.route("/follow-ups")
@requires(TICKET_READ)
@blp.response(200, TaskOut(many=True))
@blp.paginate()
def list_follow_ups(pagination_parameters):
    """Open follow-up tasks you may see, soonest due first."""
    stmt = select(FollowUpTask).where(FollowUpTask.status == "open").order_by(FollowUpTask.due_at, FollowUpTask.id)
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/follow-ups/<int:task_id>/done", methods=["POST"])
@requires(TICKET_WRITE)
@blp.arguments(TaskDoneIn)
@blp.response(200, TaskOut)
def post_follow_up_done(data, task_id):
    """Close a follow-up (``done`` or ``cancelled``; 422 ``status`` when it is not open).
    Moves no money or stock: no Idempotency-Key."""
    session = db_session()
    with transaction(session):
        get_visible(FollowUpTask, task_id)
        task = svc.complete_task(session, task_id, note=data.get("note"), status=data["status"])
    return task


# --------------------------------------------------------------------------- knowledge base

@blp.route("/articles")
@requires(KB_READ)
@blp.arguments(ArticleQuery, location="query")
@blp.response(200, ArticleOut(many=True))
@blp.paginate()
def list_articles(query, pagination_parameters):
    """Articles, drafts included: ``q`` searches title, tags and text (every word, Chinese
    as substrings; best first), filtered by ``status``, ``language``, ``category_id`` (and
    its sub-categories)."""
    session = db_session()
    stmt = svc.search_articles(session, query.get("q"), published_only=False, language=query.get("language"),
                               category_id=query.get("category_id"), limit=None)
    if query.get("status"):
        stmt = stmt.where(Article.status == query["status"])
    return paginate_select(session, stmt, pagination_parameters)


@blp.route("/articles/<int:article_id>")
@requires(KB_READ)
@blp.response(200, ArticleOut)
def get_article(article_id):
    """One article."""
    return get_visible(Article, article_id)


@blp.route("/articles", methods=["POST"])
@requires(KB_WRITE)
@blp.arguments(ArticleIn)
@blp.response(201, ArticleOut)
def post_article(data):
    """Write an article (a draft)."""
    session = db_session()
    with transaction(session):
        ref_visible(ArticleCategory, data.get("category_id"), "category_id")
        art = svc.save_article(session, **data)
    return art


@blp.route("/articles/<int:article_id>", methods=["PATCH"])
@requires(KB_WRITE)
@blp.arguments(ArticlePatch)
@blp.response(200, ArticleOut)
def patch_article(data, article_id):
    """Change an article's texts, category, tags or language (a published one stays published)."""
    session = db_session()
    with transaction(session):
        get_visible(Article, article_id)
        ref_visible(ArticleCategory, data.get("category_id"), "category_id")
        art = svc.save_article(session, article_id=article_id, **data)
    return art


@blp.route("/articles/<int:article_id>/status", methods=["POST"])
@requires(KB_PUBLISH)
@blp.arguments(ArticleStatusIn)
@blp.response(200, ArticleOut)
def post_article_status(data, article_id):
    """Review, publish or withdraw an article (422 ``status`` for a refused move)."""
    session = db_session()
    with transaction(session):
        get_visible(Article, article_id)
        art = svc.set_article_status(session, article_id, data["status"])
    return art


@blp.route("/articles/<int:article_id>/related")
@requires(KB_READ)
@blp.response(200, ArticleOut(many=True))
def list_related_articles(article_id):
    """The articles related to this one (the relation goes both ways)."""
    get_visible(Article, article_id)
    return svc.related_articles(db_session(), article_id)


@blp.route("/articles/<int:article_id>/related", methods=["PUT"])
@requires(KB_WRITE)
@blp.arguments(RelatedIn)
@blp.response(200, ArticleOut(many=True))
def put_related_articles(data, article_id):
    """Set the whole list of related articles (each lists this one back; at most 20; 422
    ``related_ids`` for an unknown id or the article itself). Moves no money or stock."""
    session = db_session()
    with transaction(session):
        get_visible(Article, article_id)
        for i, ref in enumerate(data["related_ids"]):
            ref_visible(Article, ref, f"related_ids.{i}")
        out = svc.relate_articles(session, article_id, data["related_ids"])
    return out


@blp.route("/tickets/<int:ticket_id>/articles")
@requires(TICKET_READ)
@blp.response(200, ArticleOut(many=True))
def list_ticket_articles(ticket_id):
    """The articles linked to a ticket."""
    get_visible(Ticket, ticket_id)
    return svc.articles_of_ticket(db_session(), ticket_id)


@blp.route("/tickets/<int:ticket_id>/articles", methods=["POST"])
@requires(KB_WRITE)
@blp.arguments(LinkArticleIn)
@blp.response(201, ArticleOut(many=True))
def post_ticket_article(data, ticket_id):
    """Link an article to a ticket (again: no change); answers the ticket's articles."""
    session = db_session()
    with transaction(session):
        get_visible(Ticket, ticket_id)
        ref_visible(Article, data["article_id"], "article_id")
        svc.link_article(session, ticket_id, data["article_id"], user=request_user())
        out = svc.articles_of_ticket(session, ticket_id)
    return out
