"""Permissions, the supervisor role and the record rules of call_center.

Agents use the kernel's ``agent`` role; this addon adds ``cc_supervisor`` (SLA policies,
calendars, routing, telephony tokens, reports). Tickets and calls with a store are limited to
the user's stores by the kernel; their events, ratings, linked articles and inbound emails
follow the ticket (``__scope_parent__``, the kernel derives the rule). Teams, telephony tokens and
routing rules that name a user are shown to a store-limited user only when that user is one
they see (``core.security.scope.users_of``)."""
from __future__ import annotations

from sqlalchemy import or_, select

from core.contrib import Permission, RecordRule, RoleDef
from core.i18n import lazy_gettext as _l

from core.models import User
from core.security.scope import users_of

from .models import FollowUpRule, LineToken, RoutingRule, Team

TICKET_READ = "call_center.ticket.read"
TICKET_WRITE = "call_center.ticket.write"
CALL_READ = "call_center.call.read"
CALL_WRITE = "call_center.call.write"
SCREEN_POP = "call_center.screen_pop"
WEBHOOK = "call_center.telephony.webhook"
CONFIG = "call_center.config.write"
REPORT = "call_center.report.read"
EMAIL_INTAKE = "call_center.email.intake"
KB_READ = "call_center.kb.read"
KB_WRITE = "call_center.kb.write"
KB_PUBLISH = "call_center.kb.publish"
READ = TICKET_READ

SUPERVISOR = "cc_supervisor"
ROLES = (RoleDef(SUPERVISOR, _l("Call-center supervisor"),
                 _l("Runs the call center: SLA policies, calendars, routing, escalations and reports.")),)

STAFF = ("hq_admin", "agent", SUPERVISOR)
MANAGERS = ("hq_admin", SUPERVISOR)

PERMISSIONS = (
    Permission(TICKET_READ, _l("See call-center tickets"), STAFF + ("store_manager",)),
    Permission(TICKET_WRITE, _l("Open, assign and move call-center tickets"), STAFF),
    Permission(CALL_READ, _l("See call records"), STAFF),
    Permission(CALL_WRITE, _l("Record calls"), STAFF),
    Permission(SCREEN_POP, _l("Open a caller's screen-pop"), STAFF),
    Permission(WEBHOOK, _l("Post incoming calls from the phone system"), STAFF),
    Permission(REPORT, _l("See the call center's figures per agent"), MANAGERS),
    Permission(EMAIL_INTAKE, _l("Post inbound emails from the mail gateway"), STAFF),
    Permission(KB_READ, _l("Read the knowledge base, drafts included"), STAFF + ("store_manager",)),
    Permission(KB_WRITE, _l("Write knowledge-base articles and link them to tickets"), STAFF),
    Permission(KB_PUBLISH, _l("Review and publish knowledge-base articles"), MANAGERS),
    Permission(CONFIG, _l("Edit SLA policies, calendars, teams, routing and telephony tokens"), MANAGERS),
)


def _of_users(column, optional: bool):
    def where(scope):
        if scope.unrestricted:
            return None
        seen = column.in_(select(User.id).where(users_of(scope)))
        return or_(column.is_(None), seen) if optional else seen
    return where


RECORD_RULES = (
    # a team led, a token run or a rule assigning to a user outside the scope is not shown
    RecordRule(Team, "call_center_team_by_supervisor", _of_users(Team.supervisor_id, True)),
    RecordRule(LineToken, "call_center_line_token_by_user", _of_users(LineToken.user_id, False)),
    RecordRule(RoutingRule, "call_center_routing_rule_by_agent", _of_users(RoutingRule.agent_id, True)),
    RecordRule(FollowUpRule, "call_center_follow_up_rule_by_agent", _of_users(FollowUpRule.agent_id, True)),
)
