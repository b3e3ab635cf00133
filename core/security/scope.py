"""Record scope, enforced centrally on the session (not per view).

A scoped session carries the user's :class:`Scope`. On every ORM select the kernel adds
``with_loader_criteria`` for each model it can scope: models with a ``store_id`` column
(or naming their column in ``__scope_column__``) are limited to the user's stores, and
addons add rules for other models through ``register_record_rules``. A model that is
part of another (``__scope_parent__``: a ticket's events, an order's lines) or only
seen with another (``__scope_via__``: a customer's consent) is read with that row, by a
rule the kernel derives. Lists, details, exports, reports and the API therefore obey
one rule set.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, with_loader_criteria

from core.db import RUNTIME, InfoKey
from core.forksafe import on_fork, register
from core.i18n import lazy_gettext as _l
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


def operating_companies(scope: Scope):
    """A select of the ids of the companies that operate a store of ``scope`` (for a
    franchisee's user: their own company), for record rules on rows that belong to a
    company rather than a store (a franchisee's receivables, contracts, statements). An
    unrestricted scope: None (no limit)."""
    if scope.store_ids is None:
        return None
    return select(Store.operating_company_id).where(Store.id.in_(sorted(scope.store_ids)))


_COMPUTE = object()
#: the :class:`Scope` a session is limited to (None: unscoped)
SCOPE: InfoKey[Scope] = InfoKey("core.scope")
#: the scope's loader criteria, built on the session's first scoped read
_SCOPE_CRITERIA: InfoKey = InfoKey("core.scope.criteria")


def scope_session(session: Session, user: User, store_ids=_COMPUTE) -> Scope:
    """Scope ``session`` to ``user``'s stores (``store_ids`` when already known, e.g. cached
    with a verified API token; otherwise read now)."""
    if store_ids is _COMPUTE:
        store_ids = store_ids_for(session, user)
    scope = Scope(user.id, store_ids)
    SCOPE.set(session, scope)
    return scope


def scope_of(session: Session) -> Scope | None:
    return SCOPE.get(session)


def users_of(scope: Scope):
    """The criterion (on ``core_user``) of the users a store-limited ``scope`` sees: itself,
    users who work in its stores, and users whose own scope lies inside its stores or their
    operating companies (never a superuser that way). The kernel's record rule on users; an
    addon whose rows point at a user (a team's supervisor) limits them with it."""
    from sqlalchemy import and_, or_

    from core.models import Employee

    ids = sorted(scope.store_ids)
    own_companies = select(Store.operating_company_id).where(Store.id.in_(ids))
    return or_(User.id == scope.user_id,
               User.employee_id.in_(select(Employee.id).where(Employee.store_id.in_(ids))),
               and_(User.scope_kind == "store", User.scope_ref_id.in_(ids)),
               and_(User.scope_kind == "company", User.scope_ref_id.in_(own_companies),
                    User.is_superuser.is_(False)))


def scoped_column(model):
    """The column that ties ``model`` to a store, or None."""
    name = getattr(model, "__scope_column__", None)
    if name is None and "store_id" in getattr(model, "__table__").c:
        name = "store_id"
    return getattr(model, name) if name else None


def scope_parent(model):
    """``(column, parent class)`` of a model that declares ``__scope_parent__`` (the foreign
    key of the row it is part of: a ticket's events, an order's lines), or None."""
    return _fk_parent(model, "__scope_parent__")


def read_parent(model):
    """``(column, parent class)`` of the row ``model``'s rows are read with: its
    ``__scope_parent__`` (part of that row: reads and writes follow it) or else its
    ``__scope_via__`` (only seen with that row, such as a customer's consent: reads follow it,
    writes are checked on their own references), or None."""
    return _fk_parent(model, "__scope_parent__") or _fk_parent(model, "__scope_via__")


def _fk_parent(model, attr: str):
    name = getattr(model, attr, None)
    if not name:
        return None
    col = getattr(model, name)
    fks = list(col.property.columns[0].foreign_keys)
    if len(fks) != 1:
        raise TypeError(f"{model.__name__}.{attr} = {name!r}: not a foreign key to one table")
    parent = _class_of_table(fks[0].column.table.name)
    if parent is None:
        raise TypeError(f"{model.__name__}.{attr} = {name!r}: {fks[0].column.table.name} is not mapped")
    return col, parent


def _rules_by_model(registry) -> dict:
    """``{model: [RecordRule]}`` from ``register_record_rules`` (kept on the registry)."""
    got = getattr(registry, "_banyan_rules_by_model", None)
    key = tuple(name for name, _ in registry.pm.list_name_plugin())
    if got is not None and got[0] == key:
        return got[1]
    rules: dict = {}
    for group in registry.hook.register_record_rules():
        for rule in group or ():
            rules.setdefault(rule.model, []).append(rule)
    try:
        registry._banyan_rules_by_model = (key, rules)
    except AttributeError:
        pass
    return rules


def row_criterion(registry, model, scope: Scope, _seen: frozenset = frozenset()):
    """The criterion of the rows of ``model`` that ``scope`` sees, or None (no limit): its
    store column among the scope's stores, each of its record rules, and (for a model with
    ``__scope_parent__`` or ``__scope_via__``) its parent row being one the scope sees, to any
    depth: a row that is part of another, or seen with it, is read with it."""
    from sqlalchemy import and_

    if scope.unrestricted:
        return None
    parts = []
    col = scoped_column(model)
    if col is not None:
        parts.append(col.in_(sorted(scope.store_ids)))
    for rule in _rules_by_model(registry).get(model, ()):
        crit = rule.where(scope)
        if crit is not None:
            parts.append(crit)
    derived = _parent_criterion(registry, model, scope, _seen)
    if derived is not None:
        parts.append(derived)
    return and_(*parts) if parts else None


def _parent_criterion(registry, model, scope: Scope, _seen: frozenset = frozenset()):
    """``model``'s parent key among the parent rows ``scope`` sees (None: no parent, or a
    parent nothing limits, such as a chain-wide calendar)."""
    found = read_parent(model)
    if found is None or model in _seen:
        return None
    col, parent = found
    crit = row_criterion(registry, parent, scope, _seen | {model})
    if crit is None:
        return None
    pk = parent.__mapper__.primary_key
    if len(pk) != 1:
        raise TypeError(f"{model.__name__}.__scope_parent__: {parent.__name__} has a composite key")
    pk_attr = parent.__mapper__.get_property_by_column(pk[0]).class_attribute
    return col.in_(select(pk_attr).where(crit))


def _all_models(registry) -> list:
    seen, out = set(), []
    for models in registry.models_by_addon.values():
        for model in models:
            if model not in seen:
                seen.add(model)
                out.append(model)
    return out


def criteria_for(registry, scope: Scope) -> list:
    opts = []
    if scope.unrestricted:
        return opts
    ids = sorted(scope.store_ids)
    models = _all_models(registry)
    for model in models:
        col = scoped_column(model)
        if col is not None:
            opts.append(with_loader_criteria(model, col.in_(ids), include_aliases=True))
    for model, rules in _rules_by_model(registry).items():
        for rule in rules:
            crit = rule.where(scope)
            if crit is not None:
                opts.append(with_loader_criteria(rule.model, crit, include_aliases=True))
    # a row that is part of another (``__scope_parent__``) is seen with its parent: one
    # rule, derived, for every such model (no addon writes it by hand)
    for model in models:
        crit = _parent_criterion(registry, model, scope)
        if crit is not None:
            opts.append(with_loader_criteria(model, crit, include_aliases=True))
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
        #: statements written with this scope's criteria (:func:`scoped_statement`)
        self.built: dict = {}
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


def scoped_statement(session, key: str, build):
    """A hot statement written with its record rules in place of the loader options: for a
    user limited to some stores, ``build(criterion)`` once per scope (kept with the scope's
    criteria, shared by sessions), where ``criterion(model)`` is :func:`row_criterion` for
    that scope (None: no limit); the statement must name every mapped model it reads, and
    it runs with ``banyan_unscoped`` (its criteria are already in it). An unlimited
    session gets ``build(lambda model: None)``, built once too. ``key``: the statement's
    name, unique in the process (``"core.checkout.ticket"``).

    Why: applying the loader options costs, on every execution of a cached statement,
    matching their bound values to the compiled statement's annotated copies, three SQL
    ``==`` expressions per criterion, plus a larger cache key to hash; for the checkout's
    one read that was about a third of its CPU (bench/README.md, "Timings the code refers
    to"). ``tests/test_scoped_statement.py`` holds the results equal to the options'."""
    scope = SCOPE.get(session)
    if scope is None or scope.unrestricted:
        stmt = _UNLIMITED.get(key)
        if stmt is None:
            stmt = _UNLIMITED[key] = build(lambda model: None).execution_options(banyan_unscoped=True)
        return stmt
    rt = RUNTIME.get(session)
    cache = _SCOPE_CRITERIA.get(session)
    if cache is None:
        cache = cached_criteria(rt.registry, scope)
        _SCOPE_CRITERIA.set(session, cache)
    stmt = cache.built.get(key)
    if stmt is None:
        registry = rt.registry
        # its criteria are in it: the loader options are not added, and what it loads is no
        # row read past the scope (``banyan_scope_inline``: not marked for ``get``)
        stmt = build(lambda model: row_criterion(registry, model, scope)).execution_options(
            banyan_unscoped=True, banyan_scope_inline=True)
        cache.built[key] = stmt
    return stmt


_UNLIMITED: dict = {}


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state):
    session = state.session
    scope = SCOPE.get(session)
    if scope is None or scope.unrestricted or not state.is_select:
        return
    if state.execution_options.get("banyan_unscoped"):
        return
    rt = RUNTIME.get(session)
    if rt is None:
        return
    cache = _SCOPE_CRITERIA.get(session)
    if cache is None:
        cache = cached_criteria(rt.registry, scope)
        _SCOPE_CRITERIA.set(session, cache)
    if cache:
        state.statement = cache.apply(state.statement)


# --- rows read past the scope, asked for again by ``get`` -------------------------------------
#
# A service reads unscoped (``banyan_unscoped``) through the request's own session, so the
# rows it loads sit in that session's identity map, and ``Session.get`` returns a row from
# the map without a query: without this, ``get`` of an id the user cannot see would answer
# that row if a service had read it earlier in the request. A row loaded past a restricted
# scope is marked; ``get`` re-checks a marked row with one scoped query, and answers None
# when the scope does not show it (what ``get`` answers when the row was not loaded yet).

#: identity keys of the rows this session read past its restricted scope
_UNSCOPED_ROWS: InfoKey = InfoKey("core.scope.unscoped_rows")


def _mark_load(target, context, *_attrs):
    session = getattr(context, "session", None)  # None: a merge() of a new object
    scope = SCOPE.get(session) if session is not None else None
    if scope is None or scope.unrestricted:
        return
    key = inspect(target).key
    if key is None:
        return
    stmt = getattr(context, "query", None)
    opts = stmt._execution_options if stmt is not None else {}
    marks = _UNSCOPED_ROWS.get(session)
    if ((context.execution_options.get("banyan_unscoped") or opts.get("banyan_unscoped"))
            and not opts.get("banyan_scope_inline")):
        if marks is None:
            marks = set()
            _UNSCOPED_ROWS.set(session, marks)
        marks.add(key)
    elif marks:
        marks.discard(key)  # read again through the scope: it showed the row


def _visible_on_get(session, obj) -> bool:
    marks = _UNSCOPED_ROWS.get(session)
    if not marks:
        return True
    state = inspect(obj)
    if state.key not in marks:
        return True
    scope = SCOPE.get(session)
    if scope is None or scope.unrestricted:
        return True
    mapper = state.mapper
    cond = [col == value for col, value in zip(mapper.primary_key, state.identity)]
    with session.no_autoflush:
        seen = session.execute(select(*mapper.primary_key).select_from(mapper).where(*cond)).first() is not None
        if not seen and len(mapper.primary_key) == 1:
            # a customer the checkout's lookup verified (a member of another store at the till)
            seen = _of_granted_customer(session, mapper.class_, mapper.primary_key[0], state.identity[0])
    if seen:
        marks.discard(state.key)
    return seen


def _install_identity_guard():
    from core.db import Base, BanyanSession

    if _visible_on_get not in BanyanSession.identity_guards:
        BanyanSession.identity_guards.append(_visible_on_get)
        event.listen(Base, "load", _mark_load, propagate=True)
        event.listen(Base, "refresh", _mark_load, propagate=True)


_install_identity_guard()


# --- writes ----------------------------------------------------------------------------------
#
# Reads are limited by the criteria above; writes are checked by the same rules, once, in a
# ``before_flush`` listener, so no surface (back-office form, inline form, custom page, bulk
# action, API endpoint, import) can skip it. On a session scoped to a user:
#
# 1. every reference a write sets (a foreign key to a model the scope limits: stores,
#    customers, members, companies, regions, promotions...) must name a row that user can
#    see; a reference outside the scope is refused (BusinessError naming the column), never
#    dropped or widened;
# 2. a store-limited user cannot leave the row's own store column empty (that would take the
#    row out of their scope), and
# 3. chain-wide rows (``__chain_wide__``: a store column left empty, or a chain setting) are
#    created, changed or deleted only with :data:`CHAIN_PERMISSION`.
#
# Model declarations (all optional, on the mapped class):
#
# ``__scope_via__``        (reads) the foreign-key column of the row this one is seen with
#                          (a customer's consent, a pool's hours): a scoped user reads it
#                          only when they may read that row (the rule the kernel derives
#                          for ``__scope_parent__``, without its write side).
# ``__chain_wide__``       ``True``: every row is a chain-wide setting (products, policies);
#                          ``"store_id"``: the row is chain-wide when that column is empty.
# ``__scope_parent__``     the foreign-key column of the row this one is part of (a price
#                          list's items, a promotion's products): the row is chain-wide when
#                          its parent is.
# ``__scope_derived__``    foreign-key columns a service derives from other records (the
#                          issuing store of stored value, the franchisee on the other side of
#                          a clearing): not checked, they are never user input.
# ``__scope_operational__`` columns business operations change on chain-wide rows (a
#                          reward's stock): changing only these needs no chain permission.
# ``__chain_wide__ = False`` explicitly: rows that are nobody's store yet no chain-wide data
#                          (a user's own notifications, the outbox, job runs); see rule 4.
# ``__scope_author__``     ``(author column, state column, states)`` on shared chain data (rule
#                          4): its author may still change or delete a row without the chain
#                          permission while the state column is, and stays, in ``states`` (a
#                          knowledge-base draft until it is reviewed); anyone else, or the
#                          author once the row has left those states, needs the chain
#                          permission (refused with 403). A new row's author column is the
#                          writing user (set when left empty; naming another user is refused
#                          without the chain permission). The author column is no scope
#                          reference: it does not make the model store-limited.
# ``__scope_links__``      the foreign-key columns of a row that links other rows (a "see
#                          also" between two articles): derived for a model whose primary
#                          key or a unique constraint is made of two or more foreign keys and
#                          nothing else, declared for any other. On shared chain data (rule
#                          4) such a row is part of every row it links: creating, changing or
#                          deleting it is a change of each of them (see rule 5 below).
# ``__chain_wide_unscoped__`` ``True``: a user who sees every store may write the chain-wide
#                          rows too, without the chain permission (the model's own
#                          permissions decide: HQ marketers' campaign content); a user
#                          limited to some stores never may.

#: the permission to create, change or delete chain-wide rows (see docs/permissions.md)
CHAIN_PERMISSION = "core.chain.write"
#: what a writer without it is told (the one message, whichever surface or service refuses)
CHAIN_REFUSED = _l("This applies to the whole chain: only users allowed to change "
                   "chain-wide records may create, change or delete it.")
#: what a writer of someone else's draft, or of a reviewed one, is told (``__scope_author__``)
AUTHOR_REFUSED = _l("Only its author may change a draft; once it is reviewed, only users allowed to "
                    "change chain-wide records may.")


def may_write_chain_wide(session) -> bool:
    """Whether the session's user may create, change or delete chain-wide rows: an unscoped
    session (CLI, jobs, the system) may; a user needs :data:`CHAIN_PERMISSION`. Services
    that check chain-wide rows before the flush (to name the field early) use this, so
    their rule is the write check's rule."""
    scope = SCOPE.get(session)
    if scope is None or not scope.user_id:
        return True
    from core.security.permissions import has_permission

    return has_permission(session, session.get(User, scope.user_id), CHAIN_PERMISSION)


class _Refs:
    """What the write check knows about one mapped class (built once per class)."""

    __slots__ = ("refs", "scope_col", "chain", "parent", "operational", "unscoped_ok", "author", "links")

    def __init__(self, cls):
        from sqlalchemy import inspect as sa_inspect

        mapper = sa_inspect(cls)
        derived = set(getattr(cls, "__scope_derived__", ()) or ())
        by_col = {}
        for prop in mapper.column_attrs:
            for col in prop.columns:
                by_col[col] = prop.key
        #: (attribute key, relationship key or None, target class)
        self.refs = []
        for fk in cls.__table__.foreign_keys:
            key = by_col.get(fk.parent)
            if key is None or key in derived:
                continue
            target = _class_of_table(fk.column.table.name)
            if target is None or target is cls and key == "id":
                continue
            rel = next((r.key for r in mapper.relationships
                        if r.direction.name == "MANYTOONE" and list(r.local_columns) == [fk.parent]), None)
            self.refs.append((key, rel, target))
        col = scoped_column(cls)
        self.scope_col = col.key if col is not None and col.key != "id" else None
        self.chain = getattr(cls, "__chain_wide__", None)
        self.parent = getattr(cls, "__scope_parent__", None)
        self.operational = set(getattr(cls, "__scope_operational__", ()) or ())
        self.unscoped_ok = bool(getattr(cls, "__chain_wide_unscoped__", False))
        #: ``(author key, state key, frozenset of states)`` or None (``__scope_author__``)
        author = getattr(cls, "__scope_author__", None)
        self.author = (author[0], author[1], frozenset(author[2])) if author else None
        #: ``(attribute key, target class)`` of the rows a link row links (``__scope_links__``)
        links = getattr(cls, "__scope_links__", None)
        if links is None:
            links = _derived_links(cls.__table__, by_col)
        targets = {k: t for k, _r, t in self.refs}
        self.links = tuple((k, targets[k]) for k in links if k in targets)


def _derived_links(table, by_col) -> tuple:
    """The attribute keys of the foreign keys that make up ``table``'s primary key or one of
    its unique constraints, when one is made of two or more foreign keys and nothing else (an
    association row: what it is, is which rows it links); else ``()``."""
    from sqlalchemy import UniqueConstraint

    keys = [table.primary_key] + [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    for key in keys:
        cols = list(key.columns)
        if len(cols) >= 2 and all(col.foreign_keys for col in cols) and all(col in by_col for col in cols):
            return tuple(by_col[col] for col in cols)
    return ()


_TABLE_CLASSES: dict = {}
_REFS: dict = {}
_LIMITED: dict = {}


def _class_of_table(name):
    if not _TABLE_CLASSES or name not in _TABLE_CLASSES:
        from core.db import Base

        _TABLE_CLASSES.clear()
        _TABLE_CLASSES.update({m.class_.__tablename__: m.class_ for m in Base.registry.mappers})
    return _TABLE_CLASSES.get(name)


def _refs_of(cls) -> _Refs:
    r = _REFS.get(cls)
    if r is None:
        r = _REFS[cls] = _Refs(cls)
    return r


def _limited_models(registry) -> frozenset:
    """Models the scope limits: by a store column, by a record rule, or through the parent
    they are part of (``__scope_parent__``)."""
    key = id(registry)
    got = _LIMITED.get(key)
    if got is None:
        ruled = set(_rules_by_model(registry))
        scoped = {m for m in _all_models(registry) if scoped_column(m) is not None}
        got = ruled | scoped
        # models seen with their parent (``__scope_parent__``/``__scope_via__``), when something limits it
        grew = True
        while grew:
            grew = False
            for m in _all_models(registry):
                found = m not in got and read_parent(m)
                if found and found[1] in got:
                    got.add(m)
                    grew = True
        got = _LIMITED[key] = frozenset(got)
    return got


_SHARED: dict = {}


def undeclared_shared(cls, info: _Refs, limited: frozenset) -> bool:
    """Whether ``cls`` is shared chain data by default (rule 4 of the write check): nothing
    ties its rows to a store and it declares nothing (``__chain_wide__`` unset)."""
    key = (cls, limited)
    got = _SHARED.get(key)
    if got is None:
        author = info.author[0] if info.author else None
        got = (info.scope_col is None and info.chain is None and not info.parent and cls not in limited
               and not any(target in limited or target is Store for k, _r, target in info.refs if k != author))
        _SHARED[key] = got
    return got


_DEFAULTS: dict = {}


def _with_defaults(cls, values: dict) -> dict:
    """``values`` with each missing column that has a plain (not computed) default set to
    it: what the row will hold once inserted."""
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        from sqlalchemy import inspect as sa_inspect

        defaults = {}
        for prop in sa_inspect(cls).column_attrs:
            col = prop.columns[0]
            default = getattr(col, "default", None)
            if default is not None and default.is_scalar:
                defaults[prop.key] = default.arg
        _DEFAULTS[cls] = defaults
    missing = {k: v for k, v in defaults.items() if k not in values}
    return {**missing, **values} if missing else values


def _changed(state, key) -> bool:
    return state.attrs[key].history.has_changes()


def _ref_value(obj, state, key, rel):
    """The value a reference will have once flushed: a related object set through the
    relationship wins over the (not yet synchronised) column. ``(value, pending)``: pending
    when it names a row created in this same flush (checked as a row of its own)."""
    if rel is not None:
        hist = state.attrs[rel].history
        if hist.added:
            target = hist.added[0]
            if target is None:
                return None, False
            tstate = object_state(target)
            if tstate.key is None:  # a new row: it is checked itself
                return None, True
            return tstate.identity[0], False
    return getattr(obj, key), False


def _before(obj, state, key):
    """The value of attribute ``key`` of a stored ``obj`` before this flush's change."""
    hist = state.attrs[key].history
    return (hist.deleted or hist.unchanged or [getattr(obj, key)])[0]


def object_state(obj):
    from sqlalchemy import inspect as sa_inspect

    return sa_inspect(obj)


_SECONDARY: dict = {}


def _secondary_relationships(cls) -> tuple:
    """The keys of ``cls``'s writable many-to-many relationships (a ``secondary`` table)."""
    got = _SECONDARY.get(cls)
    if got is None:
        from sqlalchemy import inspect as sa_inspect

        got = _SECONDARY[cls] = tuple(r.key for r in sa_inspect(cls).relationships
                                      if r.secondary is not None and not r.viewonly)
    return got


def _ref_touched(state, key, rel) -> bool:
    return _changed(state, key) or (rel is not None and _changed(state, rel))


class WriteCheck:
    """Checks one flush of a scoped session; collects ``{column: [messages]}``."""

    def __init__(self, session: Session, scope: Scope):
        self.session = session
        self.scope = scope
        rt = RUNTIME.get(session)
        self.limited = _limited_models(rt.registry) if rt is not None else frozenset()
        self.errors: dict[str, list] = {}
        self._chain_ok = None
        self._seen: dict = {}
        #: the error keys that are refusals of someone else's row (403, ``__scope_author__``)
        self.forbidden: set = set()

    def may_write_chain(self) -> bool:
        if self._chain_ok is None:
            from core.security.permissions import has_permission

            user = self.session.get(User, self.scope.user_id) if self.scope.user_id else None
            self._chain_ok = has_permission(self.session, user, CHAIN_PERMISSION)
        return self._chain_ok

    def refuse(self, key, message) -> None:
        msgs = self.errors.setdefault(key, [])
        if str(message) not in msgs:
            msgs.append(str(message))

    def visible(self, target, ident) -> bool:
        """Whether the user's scope sees row ``ident`` of ``target`` (or the row is the
        session's granted customer's: :func:`grant_customer`)."""
        if target is Store:
            return self.scope.allows_store(ident)
        if self.scope.unrestricted or target not in self.limited:
            return True
        k = (target, ident)
        if k not in self._seen:
            # the mapped attribute, not the table's column: a select of a bare Column is a Core
            # statement the scope's loader criteria do not reach (every row would be "visible")
            mapper = target.__mapper__
            pk = mapper.get_property_by_column(mapper.primary_key[0]).class_attribute
            self._seen[k] = (self.session.execute(select(pk).where(pk == ident)).first() is not None
                             or _of_granted_customer(self.session, target, pk, ident))
        return self._seen[k]

    def look_up(self, target, idents) -> None:
        """Find out, in one query, which of the rows ``idents`` of ``target`` the scope sees
        (what :meth:`visible` then answers from memory): for many rows at once."""
        if target is Store or self.scope.unrestricted or target not in self.limited:
            return
        todo = sorted({i for i in idents if i is not None and (target, i) not in self._seen})
        if not todo:
            return
        mapper = target.__mapper__
        pk = mapper.get_property_by_column(mapper.primary_key[0]).class_attribute
        seen = set(self.session.execute(select(pk).where(pk.in_(todo))).scalars())
        for ident in todo:
            self._seen[(target, ident)] = ident in seen

    def check_values(self, cls, values: dict) -> None:
        """Rules 1 to 3 for a new row of ``cls`` given as its column values (a Core
        ``INSERT`` or ``COPY``, which no flush sees), as :meth:`check` applies them to a new
        object: keys are attribute names; a missing key is the column's default."""
        info = _refs_of(cls)
        values = _with_defaults(cls, values)
        self.check_refs(info, lambda key, _rel: (values.get(key), False))
        if issubclass(cls, User) and not self.scope.unrestricted:
            from types import SimpleNamespace

            self.check_user_scope(SimpleNamespace(**{k: values.get(k) for k in (
                "is_superuser", "scope_kind", "scope_ref_id")}), None, "new")
        if info.links and not self.scope.unrestricted and self.is_undeclared_shared(cls, info):
            for _key, row in self.links_of(info, values.get):
                self.check_part(row, "_")
            return
        if info.chain is None and not info.parent:
            return
        if info.chain is True:
            wide, col = True, None
        elif isinstance(info.chain, str):
            wide, col = values.get(info.chain) is None, info.chain
        else:
            col, wide = info.parent, False
            parent_cls = next((t for k, _r, t in info.refs if k == info.parent), None)
            ident = values.get(info.parent)
            if parent_cls is not None and ident is not None:
                parent = self.session.get(parent_cls, ident)
                if parent is not None:
                    wide = self.chain_wide(parent, _refs_of(type(parent)))[0]
        if wide and not (info.unscoped_ok and self.scope.unrestricted) and not self.may_write_chain():
            self.refuse(col or "_", CHAIN_REFUSED)

    # rule 4: rows of a model that ties them to no store at all (no store column, no record
    # rule, no parent row, no reference to a row the scope limits) and declares nothing are
    # the whole chain's shared data (knowledge-base articles, tags, roles): a user limited to
    # some stores changes or deletes them only with the chain permission. A model whose rows
    # are nobody's store yet not shared data opts out with ``__chain_wide__ = False``.
    def is_undeclared_shared(self, cls, info: _Refs) -> bool:
        return undeclared_shared(cls, info, self.limited)

    def check_undeclared_shared(self, obj, info: _Refs, state, kind: str) -> None:
        if kind == "dirty":
            changed = {a.key for a in state.mapper.column_attrs if _changed(state, a.key)}
            changed |= {r.key for r in state.mapper.relationships
                        if r.direction.name == "MANYTOONE" and _changed(state, r.key)}
            if not changed - info.operational:
                return
        if info.author is not None and self.own_draft(obj, info, state, kind):
            return
        if info.author is not None and not self.may_write_chain() and self.someone_elses_draft(obj, info, state):
            self.forbidden.add("_")
            self.refuse("_", AUTHOR_REFUSED)
            return
        if not self.may_write_chain():
            self.refuse("_", CHAIN_REFUSED)

    def own_draft(self, obj, info: _Refs, state, kind: str) -> bool:
        """Whether ``obj`` (a ``__scope_author__`` row) is the session user's own, in one of
        the states its author may still change, before and after this change, and the write
        leaves its author alone."""
        author, status, states = info.author
        if not self.scope.user_id:
            return False
        if (_changed(state, author) or _before(obj, state, author) != self.scope.user_id
                or _before(obj, state, status) not in states):
            return False
        return kind == "deleted" or getattr(obj, status) in states

    def someone_elses_draft(self, obj, info: _Refs, state) -> bool:
        """Whether ``obj`` was, before this change, in its author-editable states with
        another author (refused as not theirs: 403; a row past those states is refused as
        chain data, like any shared row)."""
        author, status, _states = info.author
        return _before(obj, state, status) in info.author[2] and _before(obj, state, author) != self.scope.user_id

    def check_new_author(self, obj, info: _Refs, state) -> None:
        """A new ``__scope_author__`` row is the writing user's: the author column is set to
        them when left empty; naming someone else needs the chain permission."""
        key = info.author[0]
        if not self.scope.user_id:
            return
        value, pending = _ref_value(obj, state, key, self._rel(info, key))
        if value is None and not pending:
            setattr(obj, key, self.scope.user_id)
        elif value != self.scope.user_id and not self.may_write_chain():
            self.refuse(key, AUTHOR_REFUSED)
    # rule 5: a row that links rows (``__scope_links__``: an association row, or a pair of a
    # many-to-many collection kept in a secondary table) is part of the rows it links that
    # the scope limits (a customer's tags are the customer's: the tag is only referenced);
    # when it links no such row, it is part of every row it links (two articles' "see also"
    # shows on both). Adding it and removing it alike are a change of each row it is part
    # of: a row outside the scope is refused, a chain-wide or shared row needs the chain
    # permission (or, for a row its author may still change -- ``__scope_author__`` -- being
    # that author).
    def links_of(self, info: _Refs, value_of) -> list:
        """``[(attribute key, linked row)]`` of a link row, ``value_of(key)`` giving the id
        each link column names (None or a pending row: left out, it is checked itself)."""
        out = []
        for key, target in info.links:
            ident = value_of(key)
            if ident is None:
                continue
            row = self.session.get(target, ident)
            if row is not None:
                out.append((key, row))
        return out

    def check_link(self, rows, key) -> None:
        """Rule 5 for one link between ``rows`` (stored objects or new ones), refused on
        ``key``."""
        owners = [r for r in rows if type(r) in self.limited or isinstance(r, Store)] or list(rows)
        for row in owners:
            self.check_part(row, key)

    def check_part(self, row, key) -> None:
        """A change of ``row`` made by adding or removing a link that is part of it."""
        state = object_state(row)
        cls, info = type(row), _refs_of(type(row))
        if state.key is None or (self.scope.unrestricted and info.chain is None and not info.parent):
            return  # a new row is checked itself; an unrestricted scope sees every row
        mapper = state.mapper
        ident = state.identity[0] if len(mapper.primary_key) == 1 else None
        if (cls in self.limited or cls is Store) and ident is not None and not self.visible(cls, ident):
            self.refuse(key, _l("Outside the stores you may work for."))
            return
        if info.chain is not None or info.parent:
            wide = self.chain_wide(row, info)[0]
            if wide and not (info.unscoped_ok and self.scope.unrestricted) and not self.may_write_chain():
                self.refuse(key, CHAIN_REFUSED)
        elif (not self.scope.unrestricted and self.is_undeclared_shared(cls, info)
              and not self.may_change_shared(row)):
            self.refuse(key, CHAIN_REFUSED)

    def may_change_shared(self, row) -> bool:
        """Whether the user may change shared row ``row`` (rule 4): with the chain permission,
        or as the author of a row still in its author's hands (``__scope_author__``)."""
        if self.may_write_chain():
            return True
        author = getattr(type(row), "__scope_author__", None)
        return bool(author and self.scope.user_id and getattr(row, author[0]) == self.scope.user_id
                    and getattr(row, author[1]) in author[2])

    def check_link_row(self, obj, info: _Refs, state, kind: str) -> None:
        """Rule 5 for a row of a shared link model: the rows it links before the change (a
        removal, a change) and after it (an addition, a change)."""
        rows = []
        if kind != "new":
            rows += self.links_of(info, lambda key: _before(obj, state, key))
        if kind != "deleted":
            rows += self.links_of(info, lambda key: _ref_value(obj, state, key, self._rel(info, key))[0])
        for _key, row in rows:
            self.check_part(row, "_")
        if kind == "dirty":
            links = {k for k, _t in info.links}
            changed = {a.key for a in state.mapper.column_attrs if _changed(state, a.key)} - links
            if changed - info.operational and not self.may_write_chain():
                self.refuse("_", CHAIN_REFUSED)

    def check_collections(self, obj) -> None:
        """Rule 5 for the pairs added to or removed from ``obj``'s many-to-many collections
        (kept in a secondary table, which no flush sees as a row of its own)."""
        state = object_state(obj)
        for rel in _secondary_relationships(type(obj)):
            hist = state.attrs[rel].history
            for other in list(hist.added or ()) + list(hist.deleted or ()):
                if other is not None:
                    self.check_link([obj, other], rel)

    def _rel(self, info: _Refs, key):
        return next((r for k, r, _t in info.refs if k == key), None)

    def chain_wide(self, obj, info: _Refs) -> tuple[bool, str | None]:
        """Whether ``obj`` is, or was before this change, a chain-wide row, and the column
        that makes it so (``None``: the whole model is a chain setting)."""
        if info.chain is True:
            return True, None
        state = object_state(obj)
        if isinstance(info.chain, str):
            value, pending = _ref_value(obj, state, info.chain, self._rel(info, info.chain))
            before = None
            if state.key is not None:
                hist = state.attrs[info.chain].history
                before = (hist.deleted or hist.unchanged or [getattr(obj, info.chain)])[0]
            was_wide = state.key is not None and before is None
            return (value is None and not pending) or was_wide, info.chain
        if info.parent:
            rel = next((r for r in state.mapper.relationships
                        if [c.key for c in r.local_columns] == [info.parent]), None)
            parent = getattr(obj, rel.key) if rel is not None else None
            ident = getattr(obj, info.parent)
            if parent is None and ident is not None and rel is not None:
                parent = self.session.get(rel.mapper.class_, ident)
            if parent is not None:
                return self.chain_wide(parent, _refs_of(type(parent)))[0], info.parent
        return False, None

    def check_user_scope(self, user: User, state, kind: str) -> None:
        """A store-limited user gives other users a scope inside their own, never wider."""
        from core.i18n import lazy_gettext as _l

        keys = ("scope_kind", "scope_ref_id", "is_superuser")
        if kind == "dirty" and not any(_changed(state, k) for k in keys):
            return
        granted = store_ids_for(self.session, user)
        if granted is None or not granted <= self.scope.store_ids:
            self.refuse("scope_ref_id" if user.scope_kind in ("company", "region", "store") else "scope_kind",
                        _l("Wider than the stores you may work for."))

    def check_refs(self, info: _Refs, value_of, touched=None) -> None:
        """Rules 1 and 2 for one row: each reference it sets names a row the user can see,
        and a store-limited user does not leave its store column empty. ``value_of(key,
        rel)`` gives ``(value, pending)`` (see ``_ref_value``); ``touched(key, rel)``, for a
        change, whether the write sets that column (None: a new row, every column)."""
        for key, rel, target in info.refs:
            if touched is not None and not touched(key, rel):
                continue
            value, pending = value_of(key, rel)
            if value is not None and not pending and not self.visible(target, value):
                self.refuse(key, _l("Outside the stores you may work for."))
        col = info.scope_col
        if col and not info.chain and not self.scope.unrestricted:
            rel = self._rel(info, col)
            value, pending = value_of(col, rel)
            if value is None and not pending and (touched is None or touched(col, rel)):
                self.refuse(col, _l("Required: you may only work for some stores."))

    def default_store(self, obj, info: _Refs, state) -> None:
        """A new row whose store column is left empty by a user who works for exactly one
        store is that store's (as :func:`core.api.visible.require_store_for_scoped` answers
        a request): an agent, a clerk or a technician records a call, a ticket or a note
        without naming the store they work in. Chain-wide rows (``__chain_wide__``) keep
        their empty column; a user of several stores must still name one."""
        col = info.scope_col
        ids = self.scope.store_ids
        if not col or info.chain or ids is None or len(ids) != 1:
            return
        value, pending = _ref_value(obj, state, col, self._rel(info, col))
        if value is None and not pending:
            setattr(obj, col, next(iter(ids)))

    def check(self, obj, kind: str) -> None:
        """Check one ``new``, ``dirty`` or ``deleted`` object."""
        info = _refs_of(type(obj))
        state = object_state(obj)
        if kind == "new":
            self.default_store(obj, info, state)
            if info.author is not None:
                self.check_new_author(obj, info, state)
        if kind != "deleted":
            self.check_refs(info, lambda key, rel: _ref_value(obj, state, key, rel),
                            None if kind == "new" else lambda key, rel: _ref_touched(state, key, rel))
            if isinstance(obj, User) and not self.scope.unrestricted:
                self.check_user_scope(obj, state, kind)
        if info.links and not self.scope.unrestricted and self.is_undeclared_shared(type(obj), info):
            self.check_link_row(obj, info, state, kind)
            return
        if kind != "new" and not self.scope.unrestricted and self.is_undeclared_shared(type(obj), info):
            self.check_undeclared_shared(obj, info, state, kind)
            return
        if info.chain is None and not info.parent:
            return
        if kind == "dirty":
            changed = {a.key for a in state.mapper.column_attrs if _changed(state, a.key)}
            changed |= {r.key for r in state.mapper.relationships
                        if r.direction.name == "MANYTOONE" and _changed(state, r.key)}
            if not changed - info.operational:
                return
        wide, col = self.chain_wide(obj, info)
        if wide and not (info.unscoped_ok and self.scope.unrestricted) and not self.may_write_chain():
            self.refuse(col or "_", CHAIN_REFUSED)


# --- a customer granted by a chain-wide lookup --------------------------------------------------
#
# A till serves a member of any store (``core.lookup``: the lookup answers with a signed
# reference, the checkout verifies it). The sale then writes rows that reference that one
# customer and its own rows (membership, card, stored-value and points ledgers), outside
# the cashier's scope. :func:`grant_customer` lets this session's writes reference them; it
# grants no read (reads stay scoped) and lasts as long as the session (one request).

#: the customer ids this session may reference in writes (:func:`grant_customer`)
GRANTED: InfoKey[set] = InfoKey("core.scope.granted_customers")


def grant_customer(session, customer_id: int) -> None:
    """Let ``session``'s writes reference customer ``customer_id`` and the rows that belong
    to it (called by the checkout once a lookup's reference is verified, never otherwise)."""
    GRANTED.setdefault(session, set).add(int(customer_id))


def _customer_columns(cls) -> list:
    """Columns of ``cls`` whose value is a customer id: a foreign key to ``core_customer.id``
    or to a column that is itself one (a membership's key, which is its customer's id)."""
    out = []
    for fk in cls.__table__.foreign_keys:
        col = fk.column
        if col.table.name == "core_customer" and col.name == "id":
            out.append(fk.parent)
        elif any(f.column.table.name == "core_customer" and f.column.name == "id" for f in col.foreign_keys):
            out.append(fk.parent)
    return out


def _of_granted_customer(session, target, pk, ident) -> bool:
    granted = GRANTED.get(session)
    if not granted:
        return False
    if target.__tablename__ == "core_customer":
        return ident in granted
    cols = _customer_columns(target)
    if not cols:
        return False
    row = session.execute(select(*cols).select_from(target.__table__).where(pk == ident)
                          .execution_options(banyan_unscoped=True)).first()
    return row is not None and any(v in granted for v in row)


@event.listens_for(Session, "before_flush")
def _check_writes(session, _ctx, _instances):
    """Refuse a flush of a scoped session that writes outside the user's scope (see above)."""
    scope = SCOPE.get(session)
    if scope is None:
        return
    check = WriteCheck(session, scope)
    new, dirty = list(session.new), list(session.dirty)
    for obj in new:
        check.check(obj, "new")
    for obj in dirty:
        if session.is_modified(obj, include_collections=False):
            check.check(obj, "dirty")
    for obj in list(session.deleted):
        check.check(obj, "deleted")
    # many-to-many pairs (a secondary table's rows are no objects of the flush): rule 5
    for obj in new + dirty:
        if _secondary_relationships(type(obj)):
            check.check_collections(obj)
    # roles, users and tokens: nobody hands out more than they hold (core.security.delegation)
    from core.security.delegation import check_flush

    check_flush(session, scope, check.refuse)
    if check.errors:
        from core.errors import BusinessError, Forbidden

        if set(check.errors) <= check.forbidden:
            raise Forbidden(check.errors)
        raise BusinessError(check.errors)


def check_rows(session, model, rows: list[dict]) -> dict[int, dict[str, list[str]]]:
    """The write check of the flush (rules 1 to 3 above), for rows written with Core
    statements (``INSERT`` of many rows, ``COPY``), which bypass ``before_flush``.

    ``model`` is the mapped class, or its ``Table``; ``rows`` are dicts of the new rows'
    column values by attribute name (keys left out take the column default). Each is
    checked as a new object of ``model`` would be at a flush of ``session``, with the same
    messages; referenced rows are looked up once per batch (one query per referenced model
    the scope limits; stores cost no query). Returns ``{index in rows: {column:
    [messages]}}`` for the rows refused: empty when all pass or the session is not scoped
    (CLI, jobs). The caller must write none of the refused rows (``core.imports.bulk_insert``
    raises; ``core.imports.insert_rows`` leaves them out and reports them)."""
    scope = SCOPE.get(session)
    if scope is None or not rows:
        return {}
    cls = model if hasattr(model, "__mapper__") else _class_of_table(model.name)
    if cls is None:
        raise ValueError(f"check_rows: {model!r} is not a mapped table")
    check = WriteCheck(session, scope)
    info = _refs_of(cls)
    for key, _rel, target in info.refs:
        check.look_up(target, {row.get(key) for row in rows})
    refused = {}
    for i, values in enumerate(rows):
        check.errors = {}
        check.check_values(cls, values)
        if check.errors:
            refused[i] = check.errors
    return refused
