"""Unique keys that contain a customer, and the merge rules that resolve them.

A customer merge re-points every foreign key to ``core_customer`` from the removed customer
to the kept one. Where a unique key (primary key, unique constraint or unique index)
contains that column, both customers may hold "the same" row (a member row, an account, a
rebate for the same year, the same tag), and a blind re-point would break the key. Each
such table must be covered by a :class:`core.contrib.MergeRule` that its owner (the kernel
or the addon that registers the model) returns from ``register_merge_rules``:

- :func:`customer_unique_keys` lists the keys of a set of tables;
- :func:`check_rules` is called by the loader (``core.plugins.build_registry``): a key
  with no rule from the table's owner refuses to load, naming the addon, table and key;
- :func:`apply_rules` is called by ``core.services.customers.merge_customers`` inside the
  merge's transaction, before ``on_customer_merged``.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint, and_, delete, select, true, update

from core.errors import AddonError

CUSTOMER_TABLE = "core_customer"
_UNSCOPED = {"banyan_unscoped": True}


@dataclass(frozen=True)
class CustomerKey:
    """One unique key of ``table`` that contains customer column ``column``."""

    table: object  # sqlalchemy.Table
    column: str
    key: tuple[str, ...]
    name: str


def customer_columns(table) -> list[str]:
    """Columns of ``table`` holding a foreign key to ``core_customer`` (not the table itself)."""
    if table.name == CUSTOMER_TABLE:
        return []
    return sorted({fk.parent.name for fk in table.foreign_keys if fk.column.table.name == CUSTOMER_TABLE})


def customer_unique_keys(tables) -> list[CustomerKey]:
    """Every unique key (PK, unique constraint, unique index, ``unique=True`` column) of
    ``tables`` that contains a customer column."""
    out = []
    for table in tables:
        cols = customer_columns(table)
        if not cols:
            continue
        keys = []
        for c in table.constraints:
            if isinstance(c, (PrimaryKeyConstraint, UniqueConstraint)) and len(c.columns):
                keys.append((tuple(x.name for x in c.columns), c.name or type(c).__name__))
        for i in table.indexes:
            if i.unique:
                keys.append((tuple(x.name for x in i.columns), i.name or "unique index"))
        for col in table.columns:
            if col.unique:
                keys.append(((col.name,), f"{col.name} unique"))
        seen = set()
        for key, name in keys:
            for col in cols:
                if col in key and (col, key) not in seen:
                    seen.add((col, key))
                    out.append(CustomerKey(table, col, key, str(name)))
    return out


def collect_rules(registry) -> dict[str, tuple[str, object]]:
    """{table name: (owner, MergeRule)} from every ``register_merge_rules`` implementation."""
    rules: dict[str, tuple[str, object]] = {}
    for owner, rule in registry.collect_items("register_merge_rules"):
        if rule.table in rules:
            raise AddonError(f"addon {owner}: a merge rule for {rule.table} is already declared "
                             f"by {rules[rule.table][0]}")
        rules[rule.table] = (owner, rule)
    return rules


def check_rules(registry) -> dict[str, object]:
    """Refuse (``AddonError``) a loaded table whose unique key contains a customer column
    and that its owner gave no merge rule, or a rule declared for another owner's table.
    Returns {table name: MergeRule}."""
    rules = collect_rules(registry)
    owner_of = {t.name: owner for owner, tables in registry.tables_by_addon.items() for t in tables}
    for name, (owner, _rule) in rules.items():
        if owner_of.get(name, owner) != owner:
            raise AddonError(f"addon {owner}: declares a merge rule for {name}, which belongs to "
                             f"{owner_of[name]}; only a table's owner says how it merges")
    for key in customer_unique_keys(registry.tables()):
        if key.table.name not in rules:
            owner = owner_of.get(key.table.name, "core")
            raise AddonError(
                f"addon {owner}: table {key.table.name} has unique key {key.name} "
                f"({', '.join(key.key)}) on the customer column {key.column}, so a customer merge "
                f"cannot simply re-point it; return a core.contrib.MergeRule for {key.table.name} "
                f"from register_merge_rules")
    return {name: rule for name, (_owner, rule) in rules.items()}


def _where(table, row, cols):
    return and_(true(), *[table.c[c] == row[c] for c in cols])


def _counterpart(session, table, column, keys, row, kept_id):
    for key in keys:
        rest = [k for k in key if k != column]
        if any(row[k] is None for k in rest):
            continue  # NULLs never collide in a unique key
        hit = session.execute(select(table).where(table.c[column] == kept_id, _where(table, row, rest))
                              .limit(1).execution_options(**_UNSCOPED)).mappings().first()
        if hit is not None:
            return hit
    return None


def apply_rules(session, tables, rules, kept_id: int, removed_id: int) -> set[str]:
    """Resolve the removed customer's rows in every table with a unique customer key:
    re-point those without a counterpart, resolve the others by the table's rule. Returns
    the names of the tables handled here (the caller re-points the other tables)."""
    handled: set[str] = set()
    by_table: dict[str, list[CustomerKey]] = {}
    for key in customer_unique_keys(tables):
        by_table.setdefault(key.table.name, []).append(key)
    for name, keys in by_table.items():
        handled.add(name)
        rule = rules[name]
        if rule.resolve == "owner":
            continue
        table = keys[0].table
        pk = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
        for column in sorted({k.column for k in keys}):
            col_keys = [k.key for k in keys if k.column == column]
            removed_rows = session.execute(select(table).where(table.c[column] == removed_id)
                                           .execution_options(**_UNSCOPED)).mappings().all()
            for row in removed_rows:
                kept_row = _counterpart(session, table, column, col_keys, row, kept_id)
                if kept_row is None:
                    session.execute(update(table).where(_where(table, row, pk)).values({column: kept_id})
                                    .execution_options(**_UNSCOPED))
                    continue
                _resolve(session, table, rule, pk, column, kept_row, row)
        # any other customer column of the table (not in a unique key) is re-pointed plainly
        for column in customer_columns(table):
            if column not in {k.column for k in keys}:
                session.execute(update(table).where(table.c[column] == removed_id).values({column: kept_id})
                                .execution_options(**_UNSCOPED))
    return handled


def _resolve(session, table, rule, pk, column, kept_row, removed_row) -> None:
    """Fold ``removed_row`` into ``kept_row`` by ``rule``, then delete ``removed_row`` (first
    for "keep_newest", whose copied columns may themselves be unique)."""
    drop = delete(table).where(_where(table, removed_row, pk)).execution_options(**_UNSCOPED)
    if callable(rule.resolve):
        rule.resolve(session, table, kept_row, removed_row)
        session.execute(drop)
        return
    where = _where(table, kept_row, pk)
    session.execute(drop)
    if rule.resolve == "sum":
        values = {c: table.c[c] + removed_row[c] for c in rule.columns if removed_row[c] is not None}
        if values:
            session.execute(update(table).where(where).values(values).execution_options(**_UNSCOPED))
    elif rule.resolve == "keep_newest":
        newer = removed_row[rule.newest_by] is not None and (
            kept_row[rule.newest_by] is None or removed_row[rule.newest_by] > kept_row[rule.newest_by])
        if newer:
            values = {c: removed_row[c] for c in removed_row.keys() if c not in pk and c != column}
            if values:
                session.execute(update(table).where(where).values(values).execution_options(**_UNSCOPED))
    # "keep_kept": nothing to fold
