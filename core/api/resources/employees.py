"""Employees (``/api/v1/employees``) of the stores the user may see."""
from __future__ import annotations

from sqlalchemy import or_, select

from core.api import Blueprint, paginate_select, requires
from core.api import schemas as S
from core.api.resources.common import like, unique
from core.api.visible import get_visible, ref_visible, require_store_for_scoped, scope_store_ids
from core.db import transaction
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.models import Employee, Store
from core.web import db_session

employees = Blueprint("core_employees", __name__, url_prefix="/employees", description="Employees")


@employees.route("", methods=["GET"])
@requires("core.employee.read")
@employees.arguments(S.EmployeeQuery, location="query")
@employees.response(200, S.EmployeeSchema(many=True))
@employees.paginate()
def list_employees(args, pagination_parameters):
    """Employees of the stores you may see."""
    stmt = select(Employee).order_by(Employee.code, Employee.id)
    for key in ("store_id", "role", "active"):
        if key in args:
            stmt = stmt.where(getattr(Employee, key) == args[key])
    if args.get("q"):
        pat = f"%{like(args['q'])}%"
        stmt = stmt.where(or_(Employee.code.like(pat, escape="\\"), Employee.name.like(pat, escape="\\")))
    return paginate_select(db_session(), stmt, pagination_parameters)


def _check_employee_refs(data):
    if "store_id" in data:
        ref_visible(Store, data["store_id"], "store_id")
    if data.get("manager_id") is not None:
        ref_visible(Employee, data["manager_id"], "manager_id")


@employees.route("", methods=["POST"])
@requires("core.employee.write")
@employees.arguments(S.EmployeeIn)
@employees.response(201, S.EmployeeSchema)
def create_employee(data):
    """Create an employee."""
    s = db_session()
    with transaction(s):
        data["store_id"] = require_store_for_scoped(data.get("store_id"), "store_id")
        unique(Employee, "code", data["code"])
        _check_employee_refs(data)
        emp = Employee(**data)
        s.add(emp)
        s.flush()
    return emp


@employees.route("/<int:employee_id>", methods=["GET"])
@requires("core.employee.read")
@employees.response(200, S.EmployeeSchema)
def get_employee(employee_id):
    """One employee."""
    return get_visible(Employee, employee_id)


@employees.route("/<int:employee_id>", methods=["PATCH"])
@requires("core.employee.write")
@employees.arguments(S.EmployeePatch)
@employees.response(200, S.EmployeeSchema)
def update_employee(data, employee_id):
    """Change some fields of an employee."""
    s = db_session()
    with transaction(s):
        emp = get_visible(Employee, employee_id)
        if "code" in data:
            unique(Employee, "code", data["code"], emp.id)
        if "store_id" in data and data["store_id"] is None and scope_store_ids() is not None:
            raise BusinessError({"store_id": _l("Required: you may only see some stores.")})
        if data.get("manager_id") == emp.id:
            raise BusinessError({"manager_id": _l("An employee cannot manage themselves.")})
        _check_employee_refs(data)
        for key, value in data.items():
            setattr(emp, key, value)
        s.flush()
    return emp
