"""Roles, permissions and record rules of spare_parts.

Roles: the kernel's ``technician`` (repairs; declared by the kernel's ``register_roles``)
and this addon's ``parts_keeper`` (HQ or regional parts warehouse: receives, ships,
transfers, counts).

Record rules: stock rows follow their warehouse's store (a store user sees their back room;
the HQ and central warehouses, which belong to no store, only users who see every store).
Work orders, replacement requests and warranties are store rows (the kernel scopes them by
``store_id``); on top of that a *technician* (a user whose roles give no wider duty: only
``technician``, maybe with ``cashier``) sees only the work orders assigned to them and
those work orders' requests and steps.
"""
from __future__ import annotations

from sqlalchemy import and_, exists, or_, select

from core.contrib import Permission, RecordRule, RoleDef
from core.i18n import lazy_gettext as _l
from core.models import Warehouse
from core.models.employee import user_role

from .models import PartRequest, StockAlert, StockBalance, StockCount, StockCountLine, StockLevel, StockMove, WorkOrder

KEEPER = "parts_keeper"
TECH = "technician"
ROLES = (RoleDef(KEEPER, _l("Parts keeper"),
                 _l("Receives, ships, transfers and counts spare parts in a parts warehouse.")),)

ADMIN = ("hq_admin",)
MANAGERS = ("hq_admin", "region_manager", "franchisee", "store_manager")
#: roles that, held by a technician, widen what they see beyond their own work orders
WIDE_ROLES = MANAGERS + (KEEPER, "agent", "marketer", "clerk")

PART_READ = "spare_parts.part.read"
PART_WRITE = "spare_parts.part.write"
STOCK_READ = "spare_parts.stock.read"
STOCK_WRITE = "spare_parts.stock.write"
WARRANTY_READ = "spare_parts.warranty.read"
WARRANTY_WRITE = "spare_parts.warranty.write"
WO_READ = "spare_parts.work_order.read"
WO_WRITE = "spare_parts.work_order.write"
WO_WORK = "spare_parts.work_order.work"
REQ_READ = "spare_parts.request.read"
REQ_WRITE = "spare_parts.request.write"
REQ_SHIP = "spare_parts.request.ship"
REQ_CHARGE = "spare_parts.request.charge"
REPORT_READ = "spare_parts.report.read"

PERMISSIONS = (
    Permission(PART_READ, _l("See the spare parts catalog"), MANAGERS + (TECH, KEEPER, "agent")),
    Permission(PART_WRITE, _l("Edit the spare parts catalog, fits and supersessions"), ADMIN),
    Permission(STOCK_READ, _l("See spare parts stock, moves and alerts"), MANAGERS + (TECH, KEEPER)),
    Permission(STOCK_WRITE, _l("Receive, transfer and adjust spare parts stock"), ADMIN + ("store_manager", KEEPER)),
    Permission(WARRANTY_READ, _l("See warranty registrations and check warranties"),
               MANAGERS + (TECH, "agent", "cashier")),
    Permission(WARRANTY_WRITE, _l("Register sold items for warranty"), MANAGERS + ("cashier",)),
    Permission(WO_READ, _l("See work orders"), MANAGERS + (TECH, "agent")),
    Permission(WO_WRITE, _l("Open, schedule, close and cancel work orders"), MANAGERS + ("agent",)),
    Permission(WO_WORK, _l("Start and finish jobs and log labour hours"), ADMIN + ("store_manager", TECH)),
    Permission(REQ_READ, _l("See parts replacement requests"), MANAGERS + (TECH, KEEPER)),
    Permission(REQ_WRITE, _l("Raise, install and cancel parts replacement requests"),
               ADMIN + ("store_manager", TECH)),
    Permission(REQ_SHIP, _l("Ship parts and receive faulty parts"), ADMIN + (KEEPER,)),
    Permission(REQ_CHARGE, _l("Charge out-of-warranty parts to the customer"), ADMIN + ("store_manager", "cashier")),
    Permission(REPORT_READ, _l("See spare parts and repair reports"), MANAGERS + (KEEPER,)),
)


def _warehouses_of(scope):
    return select(Warehouse.id).where(Warehouse.store_id.in_(sorted(scope.store_ids))).execution_options(
        banyan_unscoped=True)


def _by_warehouse(model):
    def where(scope):
        if scope.unrestricted:
            return None
        return model.warehouse_id.in_(_warehouses_of(scope))
    return RecordRule(model, f"{model.__tablename__}_by_warehouse", where)


def technician_only(user_id: int):
    """SQL: the user holds ``technician`` and no role of :data:`WIDE_ROLES`."""
    ur = user_role
    return and_(exists(select(ur.c.user_id).where(ur.c.user_id == user_id, ur.c.role_code == TECH)),
                ~exists(select(ur.c.user_id).where(ur.c.user_id == user_id, ur.c.role_code.in_(WIDE_ROLES))))


def _own_work_orders(scope):
    if scope.user_id is None:
        return None
    return or_(~technician_only(scope.user_id), WorkOrder.technician_id == scope.user_id)


def _assigned(scope):
    return select(WorkOrder.id).where(WorkOrder.technician_id == scope.user_id).execution_options(
        banyan_unscoped=True)


def _own_requests(scope):
    if scope.user_id is None:
        return None
    return or_(~technician_only(scope.user_id), PartRequest.work_order_id.in_(_assigned(scope)))


RECORD_RULES = (
    _by_warehouse(StockMove), _by_warehouse(StockBalance), _by_warehouse(StockLevel), _by_warehouse(StockAlert),
    _by_warehouse(StockCount), _by_warehouse(StockCountLine),
    RecordRule(WorkOrder, "spare_parts_work_order_own_for_technicians", _own_work_orders),
    RecordRule(PartRequest, "spare_parts_request_own_for_technicians", _own_requests),
)
