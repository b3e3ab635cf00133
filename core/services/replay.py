"""Catch an addon up on the business events it missed while it was uninstalled.

Only installed addons take part in hook calls, so an addon uninstalled (tables kept) and
installed again has missed every ``on_sale_refunded`` and ``on_customer_merged`` of the
meantime: a refunded sale would keep its points, tier spend or other reaction, and the
removed customer of a merge would keep its rows. ``core.addons.installer.install`` calls
:func:`replay_missed_events` for such an addon, after its tables and ``post_install`` step,
in one transaction, with ``since`` = the moment it was uninstalled (``core_addon.updated_at``
of the "uninstalled" row). In time order:

- each customer merged since then: the addon's plain customer columns are re-pointed and
  its ``MergeRule`` keys resolved (``core.services.merge_rules``), then its
  ``on_customer_merged`` runs;
- each refund confirmed since then whose origin sale was confirmed BEFORE the uninstall
  (so the addon reacted to the sale): its ``on_sale_refunded`` runs.

Sales confirmed while the addon was away are not replayed: the programme was off for them
(reversal hooks ignore a sale they never reacted to, so their refunds are harmless).
Only the returning addon's own hook implementations are called.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from core.models import Customer, Sale

_UNSCOPED = {"banyan_unscoped": True}


def _impl(registry, hook: str, name: str):
    """Addon ``name``'s own implementation of ``hook`` (a ``core.plugins.Implementation``)."""
    from core.plugins import implementations

    found = implementations(registry.pm, hook, owner=name)
    return found[0] if found else None


def _call(impl, **kwargs) -> None:
    if impl is not None:
        impl(**kwargs)


def missed_events(session, since: datetime) -> list[tuple[datetime, str, int]]:
    """(at, kind, id) of merges ("merge", removed customer id) and refunds ("refund", refund
    id, origin confirmed before ``since``) that happened at or after ``since``, in time order."""
    events = [(at, "merge", cid) for cid, at in session.execute(
        select(Customer.id, Customer.merged_at).where(Customer.merged_at >= since)
        .execution_options(**_UNSCOPED))]
    origin = aliased(Sale)
    events += [(at, "refund", rid) for rid, at in session.execute(
        select(Sale.id, Sale.confirmed_at).join(origin, origin.id == Sale.origin_id)
        .where(Sale.kind == "refund", Sale.state != "draft", Sale.confirmed_at >= since,
               origin.confirmed_at < since).execution_options(**_UNSCOPED))]
    return sorted(events, key=lambda e: (e[0], e[1], e[2]))


def replay_missed_events(session, registry, name: str, since: datetime) -> dict[str, int]:
    """Run addon ``name``'s reactions to the events it missed since ``since`` (see module
    docstring), in the caller's transaction. Returns {"merge": n, "refund": n} replayed."""
    from core.services.merge_rules import apply_rules, customer_columns

    tables = registry.tables([name])
    on_merge = _impl(registry, "on_customer_merged", name)
    on_refund = _impl(registry, "on_sale_refunded", name)
    done = {"merge": 0, "refund": 0}
    for _at, kind, ident in missed_events(session, since):
        if kind == "merge":
            removed = session.get(Customer, ident)
            kept = session.get(Customer, removed.merged_into_id)
            handled = apply_rules(session, tables, registry.merge_rules, kept.id, removed.id)
            for table in tables:
                if table.name in handled:
                    continue
                for col in customer_columns(table):
                    session.execute(update(table).where(table.c[col] == removed.id).values({col: kept.id})
                                    .execution_options(**_UNSCOPED))
            session.flush()
            _call(on_merge, session=session, kept=kept, removed=removed)
        else:
            refund = session.get(Sale, ident)
            _call(on_refund, session=session, refund=refund, sale=session.get(Sale, refund.origin_id))
        session.flush()
        done[kind] += 1
    return done
