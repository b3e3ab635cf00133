"""Call Center services: the addon's public, stable API (other addons import only this module
and ``hookspecs``, and only the names in ``__all__``). Every function works on the caller's
session: it flushes, never commits; surfaces wrap calls in ``core.db.transaction(session)``.
Instants are naive UTC; business minutes are whole minutes.

Stable API::

    # tickets (tickets.py)
    create_ticket(session, *, subject, ticket_type, channel, priority="normal", description=None,
                  customer_id=None, store_id=None, sale_id=None, product_id=None, team_id=None,
                  agent_id=None, user=None, at=None) -> Ticket
        BusinessError {"subject"|"ticket_type"|"channel"|"priority": ...}
    set_status(session, ticket_id, status, user=None, note=None, at=None) -> Ticket
        BusinessError {"status"} for a move the status machine refuses; NotFound
    assign(session, ticket_id, *, agent_id=None, team_id=None, user=None, note=None, at=None) -> Ticket
    save_team(session, *, team_id=None, name, calendar_id=None, supervisor_id=None, active=True) -> Team
        BusinessError {"name"|"supervisor_id"}: the supervisor must see every store the team
        serves (its routing rules' stores; core.security.assignees)
    team_errors(session, team_id, supervisor_id, store_ids=None, field="supervisor_id") -> dict
    sla_state(session, ticket, at=None) -> dict      # due instants, breached flags, paused minutes
    open_tickets_of(session, customer_id, limit=20) -> list[Ticket]
    # business hours (business_hours.py)
    hours_of(session, calendar_id) -> Hours | None
    business_minutes(hours, start, end) -> int;  add_business_minutes(hours, start, minutes) -> datetime
    # escalation (escalation.py)
    run_escalations(session, at=None) -> {"breached": n, "warned": n, "notified": n}
    # follow-ups (follow_ups.py)
    run_follow_ups(session, at=None) -> {rule_id: tasks created}      # idempotent
    complete_task(session, task_id, note=None, status="done", at=None) -> FollowUpTask
    # figures (reports.py)
    queue(session, store_ids=None, at=None) -> {"by_status": {...}, "breached": n, "unassigned": n}
    agent_report(session, start, end, store_ids=None) -> [{"agent_id", "calls", "avg_handling_seconds",
                                                          "resolved", "fcr_rate", "breach_rate",
                                                          "ratings", "satisfaction"}]
    sla_figures(session, by, start, end, store_ids=None, at=None) -> [{"id", "open", "overdue", "opened",
        "resolved", "avg_first_response_minutes", "avg_resolution_minutes", "breach_rate", "ratings",
        "satisfaction"}]                      # by = "team" | "agent"
    # email intake (intake.py)
    intake_email(session, *, message_id, from_address, subject, body, in_reply_to=None, references=None,
                 user=None) -> {"email", "ticket", "created", "duplicate"}   # idempotent on message_id
    # ratings (ratings.py)
    rating_url(session, ticket) -> str;  rate(session, token, score, comment=None) -> Rating
    # telephony (calls.py)
    screen_pop(session, user, raw_number, *, panels=True, relaxed_commit=False) -> dict
    find_caller(session, e164, *, relaxed_commit=False) -> (Customer, Contact)   # one statement,
        # the open tickets kept for the transaction; relaxed_commit: synchronous_commit off for
        # this transaction (PostgreSQL; the telephony webhook)
    announce_call(session, call, pop)       # in-app notice to the call's agent, linking the screen-pop
    record_call(...) -> CallRecord;  end_call(session, call_id, *, outcome, ...) -> CallRecord
    call_duration(started_at, ended_at) -> int       # seconds; BusinessError ended_at before started_at
    create_line_token(session, name, user_id) -> (plain, LineToken);  revoke_line_token(...)
    # knowledge base (kb.py)
    save_article(session, *, article_id=None, title, body, category_id, tags, language) -> Article
    set_article_status(session, article_id, status) -> Article     # draft -> reviewed -> published
    search_articles(session, text, *, published_only=True, language=None, category_id=None,
                    limit=20, offset=0) -> Select[Article]   # the full-text index, one statement
    suggest_for_customer(session, customer_id, limit=3) -> list[Article]
    link_article(session, ticket_id, article_id, user=None) -> TicketArticle;  articles_of_ticket(...)
    related_articles(session, article_id, published_only=False) -> list[Article]   # both ways
    relate_articles(session, article_id, related_ids) -> list[Article]   # sets the whole list
    # the mailbox (mailbox.py)
    poll_mailbox(rt, at=None) -> {"state": "ok"|"failed"|"off", "fetched", "created", "replies",
                                  "duplicates", "rejected", "error"}      # never raises for IMAP faults

Where the code lives::

    business_hours.py  calendars, China's holidays, closing days, business-minute arithmetic
    tickets.py         routing, SLA targets, status machine, assignment
    escalation.py      the periodic set-based escalation
    calls.py           telephony tokens, screen-pop, call records
    reports.py         the live queue and per-agent figures
    follow_ups.py      follow-up rules and the tasks they make
    kb.py              knowledge-base articles, search, links to tickets
    ratings.py         satisfaction ratings by signed link
    intake.py          inbound emails to tickets and replies
    mailbox.py         the IMAP mailbox read by a job into the intake
    public.py          the pages without a login (help centre, rating page)
"""
from __future__ import annotations

from .business_hours import Hours, add_business_minutes, business_minutes, cn_holidays, hours_of
from .calls import (announce_call, call_duration, create_line_token, end_call, find_caller, normalise_number, record_call, revoke_line_token,
                    screen_pop, user_for_line_token)
from .escalation import run_escalations
from .follow_ups import complete_task, run_follow_ups
from .kb import (articles_of_ticket, link_article, relate_articles, related_articles, save_article, search_articles,
                 set_article_status, suggest_for_customer)
from .mailbox import poll as poll_mailbox
from .intake import intake_email
from .ratings import rate, rating_url
from .reports import agent_report, queue, sla_figures
from .tickets import (TRANSITIONS, assign, create_ticket, open_tickets_of, policy_for, route, save_team, set_status,
                      sla_state, team_errors)

__all__ = ["Hours", "add_business_minutes", "business_minutes", "cn_holidays", "hours_of",
           "announce_call", "call_duration", "create_line_token", "end_call", "find_caller", "normalise_number", "record_call", "revoke_line_token",
           "screen_pop", "user_for_line_token", "run_escalations", "TRANSITIONS", "assign", "create_ticket",
           "open_tickets_of", "policy_for", "route", "save_team", "set_status", "sla_state", "team_errors",
           "agent_report", "queue", "sla_figures",
           "complete_task", "run_follow_ups", "articles_of_ticket", "link_article", "save_article",
           "search_articles", "set_article_status", "suggest_for_customer", "relate_articles", "related_articles",
           "poll_mailbox", "rate", "rating_url", "intake_email"]
