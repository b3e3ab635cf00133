"""Employees, users, roles, API tokens."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from core.codes import Code
from core.db import Base
from core.mixins import IdPk, Timestamps, utcnow
from core.validation import normalize_email, normalize_phone
from core.labels import EMPLOYEE_ROLE, SCOPE_KIND

EMPLOYEE_ROLES = EMPLOYEE_ROLE.codes  # declared with labels in core.labels
SCOPE_KINDS = SCOPE_KIND.codes  # declared with labels in core.labels


class Employee(IdPk, Timestamps, Base):
    __tablename__ = "core_employee"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="clerk")
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("core_employee.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    #: where notifications by email go when the employee has no login (``core.notify``)
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    store = relationship("Store")
    manager: Mapped["Employee | None"] = relationship(remote_side="Employee.id")

    @validates("phone")
    def _v_phone(self, _key, value):
        return normalize_phone(value)

    @validates("email")
    def _v_email(self, _key, value):
        return normalize_email(value)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


user_role = Table(
    "core_user_role", Base.metadata,
    Column("user_id", ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True),
    Column("role_code", ForeignKey("core_role.code", ondelete="CASCADE"), primary_key=True, index=True),
)


class Role(Base):
    __tablename__ = "core_role"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    permissions: Mapped[list["RolePermission"]] = relationship(cascade="all, delete-orphan")

    @property
    def label(self):
        """The role's name for people: a declared role (the kernel's or an addon's,
        ``register_roles``) that nobody renamed shows its translated label, any other its
        stored name."""
        from sqlalchemy.orm import object_session

        from core.db import RUNTIME
        from core.i18n import force_locale
        from core.security.permissions import DEFAULT_ROLES, role_labels

        session = object_session(self)
        rt = RUNTIME.get(session) if session is not None else None
        labels = role_labels(rt.registry) if rt is not None else DEFAULT_ROLES
        default = labels.get(self.code)
        if default is not None:
            with force_locale("en"):
                english = str(default)
            if self.name in (english, self.code):
                return default
        return self.name

    def __str__(self) -> str:
        return str(self.label)


class RolePermission(Base):
    __tablename__ = "core_role_permission"
    role_code: Mapped[str] = mapped_column(ForeignKey("core_role.code", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(80), primary_key=True)


class User(IdPk, Timestamps, Base):
    """A login. ``scope_kind``/``scope_ref_id`` say which stores the user sees: all, those of
    a company (HQ, branch or franchisee), of a region, or one store."""

    __tablename__ = "core_user"
    #: canonical (lower case, no outer spaces): "Admin" and "admin" are one login
    username: Mapped[str] = mapped_column(Code(60, "key"), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("core_employee.id"), index=True)
    locale: Mapped[str | None] = mapped_column(String(10))
    #: the user's own address for notifications by email; falls back to their employee's
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    scope_kind: Mapped[str] = mapped_column(String(10), default="all")
    scope_ref_id: Mapped[int | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    employee: Mapped[Employee | None] = relationship()
    roles: Mapped[list[Role]] = relationship(secondary=user_role)

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:  # noqa: D401
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @validates("email")
    def _v_email(self, _key, value):
        return normalize_email(value)

    @property
    def mail_address(self) -> str | None:
        """Where this user's notifications by email go: ``email``, else their employee's."""
        return self.email or (self.employee.email if self.employee is not None else None)

    def __str__(self) -> str:
        return self.username


def request_user_loads() -> tuple:
    """Loader options for the user a request runs as (login and API token): their employee
    and roles are read with them. The user is read by the request's lookup session, which
    ends its transaction at once; a lazy load later would open a second transaction beside
    the request's own, and on SQLite wait for the request's write lock ("database is
    locked" after 30 s)."""
    from sqlalchemy.orm import joinedload, selectinload

    return (joinedload(User.employee), selectinload(User.roles))


class ApiToken(IdPk, Base):
    """A per-user API token; only its SHA-256 is stored. Revoked tokens get 401."""

    __tablename__ = "core_api_token"
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    user: Mapped[User] = relationship()
