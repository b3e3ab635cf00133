"""Roles, permissions and record rules of the commissions addon.

Who sees which ledger rows, statements and targets (a record rule, for the back office and
the API alike): a user holding ``commissions.line.read`` sees the rows of the stores in
their scope (a store manager: their store; HQ: every store) and their own; anyone else
sees only the rows of their own employee (``core_user.employee_id``) -- a sales clerk sees
their own lines, statements and attainment and nothing of their colleagues'.
"""
from __future__ import annotations

from sqlalchemy import exists, select

from core.contrib import Permission, RecordRule, RoleDef
from core.i18n import lazy_gettext as _l
from core.models import RolePermission, User
from core.models.employee import user_role

from .models import CommissionLine, CommissionStatement, CommissionTarget

OWN_READ = "commissions.own.read"
LINE_READ = "commissions.line.read"
PLAN_READ = "commissions.plan.read"
PLAN_WRITE = "commissions.plan.write"
TARGET_WRITE = "commissions.target.write"
APPROVE = "commissions.statement.approve"
PAY = "commissions.statement.pay"
ADJUST = "commissions.adjust"

CLERK = "sales_clerk"
ROLES = (RoleDef(CLERK, _l("Sales clerk"),
                 _l("Sells on the shop floor and sees their own commissions, statements and attainment.")),)

HQ = ("hq_admin",)
MANAGERS = ("hq_admin", "region_manager", "franchisee", "store_manager")

PERMISSIONS = (
    Permission(OWN_READ, _l("See one's own commissions, statements and attainment"),
               MANAGERS + ("cashier", CLERK)),
    Permission(LINE_READ, _l("See the commissions of the stores one manages"), MANAGERS),
    Permission(PLAN_READ, _l("See commission plans, rules, assignments and splits"), MANAGERS),
    Permission(PLAN_WRITE, _l("Edit commission plans, rules, assignments and the policy"), HQ),
    Permission(TARGET_WRITE, _l("Set commission targets and splits"), MANAGERS),
    Permission(APPROVE, _l("Approve commission statements"), ("hq_admin", "region_manager", "franchisee")),
    Permission(PAY, _l("Mark commission statements paid"), HQ + ("franchisee",)),
    Permission(ADJUST, _l("Adjust commissions by hand"), HQ),
)


def _rows(model):
    """Own rows, or (with ``commissions.line.read``) the rows of the scope's stores."""
    def where(scope):
        if scope.user_id is None:
            return None if scope.store_ids is None else model.store_id.in_(sorted(scope.store_ids))
        own = model.employee_id.in_(select(User.employee_id).where(User.id == scope.user_id,
                                                                   User.employee_id.is_not(None)))
        broad = exists().where(user_role.c.user_id == scope.user_id,
                               RolePermission.role_code == user_role.c.role_code,
                               RolePermission.permission == LINE_READ) | exists().where(
            User.id == scope.user_id, User.is_superuser.is_(True))
        if scope.store_ids is not None:
            broad = broad & model.store_id.in_(sorted(scope.store_ids))
        return own | broad
    return where


RECORD_RULES = (
    RecordRule(CommissionLine, "commissions.line.own_or_store", _rows(CommissionLine)),
    RecordRule(CommissionStatement, "commissions.statement.own_or_store", _rows(CommissionStatement)),
    RecordRule(CommissionTarget, "commissions.target.own_or_store", _rows(CommissionTarget)),
)
