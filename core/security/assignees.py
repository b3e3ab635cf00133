"""Work or money goes only to people who may see the row's store.

A ticket, a work order, a follow-up task handed to a *user* who cannot see the row's store
is work nobody can do (the user gets 404 on it, the row counts as assigned); a commission
split or pool at a store that takes an *employee* of another company sends one franchisee's
money to another franchisee's staff. One rule, used by every service that puts a person on
a store's row (whatever the surface: API, back office, imports, jobs):

* a **user** may be given store S's rows when their record scope includes S
  (``core.security.scope.store_ids_for``: every store, their region's, their company's, or
  their one store);
* an **employee** may share store S's work or sales when they work at S, when their user
  account (``User.employee_id``) sees S, or when their store is operated by the company that
  operates S; an employee without a store (head office staff) only at stores not operated by
  a franchisee.

A row without a store (chain-wide) may go to anyone. :func:`assignee_errors` returns the
field-level messages (``{"agent_id": [...]}``, ``{"shares.1.employee_id": [...]}``) in the
user's language; :func:`check_assignees` raises them as ``BusinessError`` (422).
"""
from __future__ import annotations

from sqlalchemy import select

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

_U = {"banyan_unscoped": True}


def _operator(session, store_id):
    from core.models import Store

    return session.execute(select(Store.operating_company_id).where(Store.id == store_id)
                           .execution_options(**_U)).scalar()


def user_sees_store(session, user, store_id: int | None) -> bool:
    """Whether ``user`` (a User or its id) may be given rows of store ``store_id`` (None: a
    chain-wide row, anyone may). No such user: False."""
    from core.models import User
    from core.security.scope import store_ids_for

    if store_id is None:
        return True
    if not isinstance(user, User):
        user = session.execute(select(User).where(User.id == user).execution_options(**_U)).scalar()
    if user is None:
        return False
    stores = store_ids_for(session, user)
    return stores is None or store_id in stores


def user_store_ids(session, user) -> frozenset[int] | None:
    """The stores whose rows ``user`` (a User or its id) may be given (None: every store;
    no such user: none), for set-based jobs that pick a person per row."""
    from core.models import User
    from core.security.scope import store_ids_for

    if not isinstance(user, User):
        user = session.execute(select(User).where(User.id == user).execution_options(**_U)).scalar()
    return frozenset() if user is None else store_ids_for(session, user)


def user_for_store(session, user_id: int | None, store_column, otherwise=None):
    """A SQL expression: ``user_id`` for rows whose ``store_column`` that user sees (or is
    NULL: chain-wide), else ``otherwise`` (a column or None)."""
    from sqlalchemy import case, literal, null, or_

    other = null() if otherwise is None else otherwise
    if user_id is None:
        return other
    stores = user_store_ids(session, user_id)
    if stores is None:
        return literal(user_id)
    return case((or_(store_column.is_(None), store_column.in_(sorted(stores))), literal(user_id)), else_=other)


def employee_serves_store(session, employee, store_id: int | None) -> bool:
    """Whether ``employee`` (an Employee or its id) may share work or sales of store
    ``store_id`` (None: chain-wide, anyone may). No such employee: False."""
    from core.models import Company, Employee, User

    if store_id is None:
        return True
    if not isinstance(employee, Employee):
        employee = session.execute(select(Employee).where(Employee.id == employee)
                                   .execution_options(**_U)).scalar()
    if employee is None:
        return False
    if employee.store_id == store_id:
        return True
    account = session.execute(select(User).where(User.employee_id == employee.id, User.active.is_(True))
                              .execution_options(**_U)).scalars().first()
    if account is not None and not account.is_superuser and user_sees_store(session, account, store_id):
        return True
    operator = _operator(session, store_id)
    if employee.store_id is None:
        kind = session.execute(select(Company.kind).where(Company.id == operator).execution_options(**_U)).scalar()
        return kind != "franchisee"
    return operator is not None and _operator(session, employee.store_id) == operator


def _name(session, model, ident) -> str:
    row = session.execute(select(model).where(model.id == ident).execution_options(**_U)).scalar()
    return str(row) if row is not None else f"#{ident}"


def assignee_errors(session, store_id: int | None, users: dict | None = None, employees: dict | None = None) -> dict:
    """Field messages for the people of ``users`` / ``employees`` (``{field: id}``; None ids
    are skipped) who may not be put on a row of store ``store_id``."""
    from core.models import Employee, User

    errors: dict = {}
    if store_id is None:
        return errors
    for field, ident in (users or {}).items():
        if ident is not None and not user_sees_store(session, ident, store_id):
            errors[field] = [_l("%(name)s cannot see this store's records: choose someone who works for it.",
                                name=_name(session, User, ident))]
    for field, ident in (employees or {}).items():
        if ident is not None and not employee_serves_store(session, ident, store_id):
            errors[field] = [_l("%(name)s does not work for the company that runs this store.",
                                name=_name(session, Employee, ident))]
    return errors


def check_assignees(session, store_id: int | None, users: dict | None = None, employees: dict | None = None) -> None:
    """Raise ``BusinessError`` (422) naming every field of :func:`assignee_errors`."""
    errors = assignee_errors(session, store_id, users, employees)
    if errors:
        raise BusinessError(errors)
