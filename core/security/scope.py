"""Record scope, enforced centrally on the session (not per view).

A scoped session carries the user's :class:`Scope`. On every ORM select the kernel adds
``with_loader_criteria`` for each model it can scope: models with a ``store_id`` column
(or naming their column in ``__scope_column__``) are limited to the user's stores, and
addons add rules for other models through ``register_record_rules``. Lists, details,
exports, reports and the API therefore obey one rule set.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import Session, with_loader_criteria

from core.forksafe import on_fork, register
from core.models import Region, Store, User


@dataclass(frozen=True)
class Scope:
    user_id: int | None
    store_ids: frozenset[int] | None  # None: every store

    @property
    def unrestricted(self) -> bool:
        return self.store_ids is None

    def allows_store(self, store_id: int | None) -> bool:
        return self.store_ids is None or store_id in self.store_ids


def store_ids_for(session: Session, user: User) -> frozenset[int] | None:
    """The stores ``user`` may see: all (None), a company's, a region's (with sub-regions), one."""
    if user.is_superuser or user.scope_kind == "all":
        return None
    ref = user.scope_ref_id
    # read without scoping: this *defines* the scope
    opts = {"banyan_unscoped": True}
    if user.scope_kind == "store":
        return frozenset([ref]) if ref else frozenset()
    if user.scope_kind == "company":
        rows = session.execute(select(Store.id).where(Store.operating_company_id == ref)
                               .execution_options(**opts)).scalars().all()
        regions = session.execute(select(Region.id).where(Region.company_id == ref)
                                  .execution_options(**opts)).scalars().all()
        if regions:
            rows += session.execute(select(Store.id).where(Store.region_id.in_(regions))
                                    .execution_options(**opts)).scalars().all()
        return frozenset(rows)
    if user.scope_kind == "region":
        regions, frontier = {ref}, {ref}
        while frontier:
            frontier = set(session.execute(select(Region.id).where(Region.parent_id.in_(frontier))
                                           .execution_options(**opts)).scalars()) - regions
            regions |= frontier
        return frozenset(session.execute(select(Store.id).where(Store.region_id.in_(regions))
                                         .execution_options(**opts)).scalars())
    return frozenset()


_COMPUTE = object()


def scope_session(session: Session, user: User, store_ids=_COMPUTE) -> Scope:
    """Scope ``session`` to ``user``'s stores (``store_ids`` when already known, e.g. cached
    with a verified API token; otherwise read now)."""
    if store_ids is _COMPUTE:
        store_ids = store_ids_for(session, user)
    scope = Scope(user.id, store_ids)
    session.info["scope"] = scope
    return scope


def scope_of(session: Session) -> Scope | None:
    return session.info.get("scope")


def scoped_column(model):
    """The column that ties ``model`` to a store, or None."""
    name = getattr(model, "__scope_column__", None)
    if name is None and "store_id" in getattr(model, "__table__").c:
        name = "store_id"
    return getattr(model, name) if name else None


def criteria_for(registry, scope: Scope) -> list:
    opts = []
    if scope.unrestricted:
        return opts
    ids = sorted(scope.store_ids)
    for models in registry.models_by_addon.values():
        for model in models:
            col = scoped_column(model)
            if col is not None:
                opts.append(with_loader_criteria(model, col.in_(ids), include_aliases=True))
    for group in registry.hook.register_record_rules():
        for rule in group or ():
            crit = rule.where(scope)
            if crit is not None:
                opts.append(with_loader_criteria(rule.model, crit, include_aliases=True))
    return opts


#: criteria are kept per registry (on the registry object) and scope, shared by sessions:
#: the options are immutable and rules depend on the scope only (RecordRule's contract)
_CRITERIA_MAX = 512
_criteria_lock = threading.Lock()
_STATEMENTS_MAX = 256


@on_fork
def _new_lock_after_fork() -> None:
    # another thread of the parent may have held it when the process forked
    global _criteria_lock
    _criteria_lock = threading.Lock()


class _Criteria(list):
    """A scope's ``with_loader_criteria`` options, plus the statements they were applied to.

    Applying a dozen options to a statement (coercing each) and computing the new statement's
    cache key cost about 0.2 ms per ORM select of a scoped user. Statements built once at
    module level (the checkout's) come back on every request; for those the optioned
    statement is kept, so its cache key is computed once (statements memoise their key).
    The most recently used ``_STATEMENTS_MAX`` are kept, so one-off statements cannot grow it."""

    def __init__(self, options):
        super().__init__(options)
        self.statements: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        register(self, _Criteria._after_fork)

    def _after_fork(self) -> None:
        self.lock = threading.Lock()

    def apply(self, statement):
        with self.lock:
            optioned = self.statements.get(statement)
            if optioned is not None:
                self.statements.move_to_end(statement)
                return optioned
        optioned = statement.options(*self)
        with self.lock:
            self.statements[statement] = optioned
            if len(self.statements) > _STATEMENTS_MAX:
                self.statements.popitem(last=False)
        return optioned


def cached_criteria(registry, scope: Scope) -> list:
    """:func:`criteria_for`, built once per registry and scope (not on every request)."""
    # the registered plugins are part of the key: registering one (tests, runtime install)
    # may add record rules, and must not be answered from a stale entry
    key = (scope, tuple(name for name, _ in registry.pm.list_name_plugin()))
    per = getattr(registry, "_banyan_scope_criteria", None)
    if per is not None:
        opts = per.get(key)
        if opts is not None:
            return opts
    opts = _Criteria(criteria_for(registry, scope))
    with _criteria_lock:
        per = getattr(registry, "_banyan_scope_criteria", None)
        if per is None:
            per = {}
            try:
                registry._banyan_scope_criteria = per
            except AttributeError:  # a registry that takes no attributes: no caching
                return opts
        if len(per) >= _CRITERIA_MAX:
            per.clear()
        per[key] = opts
    return opts


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state):
    scope = state.session.info.get("scope")
    if scope is None or scope.unrestricted or not state.is_select:
        return
    if state.execution_options.get("banyan_unscoped"):
        return
    rt = state.session.info.get("runtime")
    if rt is None:
        return
    cache = state.session.info.setdefault("_scope_criteria", None)
    if cache is None:
        cache = cached_criteria(rt.registry, scope)
        state.session.info["_scope_criteria"] = cache
    if cache:
        state.statement = cache.apply(state.statement)
