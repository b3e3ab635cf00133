"""The customer page of the back office, duplicates and the merge that asks first.

``CustomerPageMixin`` is mixed into the kernel's Customers view (``core.defaults.admin``):

- the details page of a customer is *the customer page*: the record, every installed addon's
  panel from ``customer_summary`` (the ones the user may see), the links each panel offers
  (the member page, points history, "Enrol" for a customer who is not a member), and the
  recent purchases, each linking to its sale;
- ``/duplicates/`` lists each pair of likely duplicates once, with every reason they match
  (same phone, same email, same name and birthday);
- ``/merge/`` never merges on a plain POST: it shows the two (or more) records side by side
  (what is kept, what disappears) and merges only when the confirmation form posts
  ``confirm=1``. The bulk action "Merge" goes through the same page.

Everything is read through the request's scoped session: a customer outside the user's
stores is "no such customer".
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from sqlalchemy import func, select

from core.admin.args import id_or_none, record_id
from core.errors import BusinessError
from core.i18n import gettext, lazy_gettext as _l, lazy_pgettext

MERGE_PERMISSION = "core.customer.merge"
RECENT_PURCHASES = 10
#: why two customers look alike (``core.services.customers.find_duplicates`` labels)
REASONS = {"phone": _l("same phone"), "email": _l("same email"), "name+birthday": _l("same name and birthday")}
#: the fields compared side by side before a merge
COMPARED = (("name", _l("Name")), ("kind", _l("Kind")), ("phone", _l("Phone")), ("email", _l("Email")),
            ("id_number", _l("ID number")), ("birthday", _l("Birthday")), ("home_store", _l("Home store")),
            ("address", _l("Address")), ("created_at", lazy_pgettext("time", "Created")))


def _has(name: str) -> bool:
    from core.web import has_perm

    return has_perm(name)


def panel_links(panel) -> list[dict]:
    """The links of ``panel`` this user may follow: ``[{label, url, primary}]``. A link to an
    endpoint that is not registered (its addon's views are not loaded) is left out."""
    from werkzeug.routing import BuildError

    out = []
    for link in getattr(panel, "links", ()) or ():
        if link.permission and not _has(link.permission):
            continue
        try:
            url = url_for(link.endpoint, **dict(link.params))
        except BuildError:
            continue
        out.append({"label": link.label, "url": url, "primary": link.primary})
    return out


def duplicate_pairs(session, limit: int = 100) -> list[dict]:
    """Each pair of likely duplicates once: ``[{"kept": Customer, "other": Customer,
    "reasons": [label, ...]}]``, the older record (lower id) first. Only customers this
    session may see; at most ``limit`` pairs."""
    from core.models import Customer
    from core.services.customers import find_duplicates

    reasons: dict[tuple[int, int], list] = {}
    for label, ids in find_duplicates(session, limit=limit):
        ids = sorted(ids)
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                got = reasons.setdefault((a, b), [])
                reason = REASONS.get(label, label)
                if reason not in got:
                    got.append(reason)
    wanted = sorted(reasons)[: limit * 4]
    seen = {c.id: c for c in session.execute(select(Customer).where(
        Customer.id.in_({x for pair in wanted for x in pair}))).scalars()}
    out = []
    for a, b in wanted:
        if a in seen and b in seen:  # the other copy may be out of this user's scope
            out.append({"kept": seen[a], "other": seen[b], "reasons": reasons[(a, b)]})
        if len(out) >= limit:
            break
    return out


class CustomerPageMixin:
    """The customer page, duplicates and merge (see the module docstring)."""

    details_template = "banyan/customer_page.html"

    # --- the customer page ---------------------------------------------------------------
    def customer_page(self, customer) -> dict:
        """What the customer page shows besides the record: ``panels`` (title, fields,
        links), ``purchases`` (recent sales, newest first) and ``can_merge``."""
        from core.contrib import sort_by_priority
        from core.models import Sale
        from core.web import current_user, db_session, runtime

        s = db_session()
        found = sort_by_priority(runtime().hook.customer_summary(session=s, customer=customer, user=current_user()))
        panels = []
        for p in found:
            if p.permission and not _has(p.permission):
                continue
            if p.addon == "core":  # recent purchases: the table below shows them with links
                continue
            panels.append({"title": p.title, "addon": p.addon, "fields": list(p.fields), "links": panel_links(p)})
        purchases = []
        if _has("core.sale.read"):
            purchases = s.execute(select(Sale).where(Sale.customer_id == customer.id, Sale.state != "draft")
                                  .order_by(Sale.confirmed_at.desc(), Sale.id.desc())
                                  .limit(RECENT_PURCHASES)).scalars().all()
        return {"panels": panels, "purchases": purchases, "can_merge": _has(MERGE_PERMISSION)}

    # --- duplicates and merge ------------------------------------------------------------
    @expose("/duplicates/")
    def duplicates_view(self):
        pairs = duplicate_pairs(self.session)
        return self.render("banyan/duplicates.html", pairs=pairs, view=self, can_merge=_has(MERGE_PERMISSION))

    def _merge_records(self, kept_id, removed_ids):
        """The records to merge, read through the scoped session; 404 when one is not visible."""
        from core.models import Customer

        if kept_id is None or not removed_ids or None in removed_ids or kept_id in removed_ids:
            abort(404)
        kept = self.session.get(Customer, kept_id)
        removed = [self.session.get(Customer, rid) for rid in removed_ids]
        if kept is None or any(r is None for r in removed) or kept.merged_into_id is not None \
                or any(r.merged_into_id is not None for r in removed):
            abort(404)
        return kept, removed

    def merge_comparison(self, kept, removed: list) -> dict:
        """Side by side: ``rows`` of (label, kept value, [removed values]), and per record its
        number of sales, so the user sees what is kept and what disappears."""
        from core.admin.base import mask
        from core.labels import codes_of
        from core.localtime import format_local
        from core.models import Sale

        sensitive = set(getattr(type(kept), "__sensitive__", ()) or ())
        hide = not _has("core.customer.view_sensitive")

        def value(c, name):
            v = getattr(c, name, None)
            if v is None or v == "":
                return ""
            if name == "created_at":
                return format_local(v, "%Y-%m-%d %H:%M")
            if hide and name in sensitive:
                return mask(v)
            codes = codes_of(type(c), name)  # a coded value (kind) by its label, not its code
            return str(codes.label(v)) if codes is not None else str(v)

        rows = []
        for name, label in COMPARED:
            mine = value(kept, name)
            theirs = [value(r, name) for r in removed]
            rows.append({"label": label, "kept": mine, "removed": theirs,
                         "differs": any(t != mine for t in theirs)})
        ids = [kept.id] + [r.id for r in removed]
        sales = dict(self.session.execute(select(Sale.customer_id, func.count()).where(Sale.customer_id.in_(ids))
                                          .group_by(Sale.customer_id)).all())
        rows.append({"label": _l("Sales"), "kept": str(sales.get(kept.id, 0)),
                     "removed": [str(sales.get(r.id, 0)) for r in removed], "differs": False})
        return {"rows": rows}

    @expose("/merge/", methods=["GET", "POST"])
    def merge_view(self):
        """GET (or POST without ``confirm=1``): the comparison and the confirmation form.
        POST with ``confirm=1``: merge each removed customer into the kept one, in one
        transaction."""
        if not _has(MERGE_PERMISSION):
            abort(403)
        kept_id = request.values.get("kept_id", type=record_id)
        removed_ids = [id_or_none(x) for x in request.values.getlist("removed_id")]
        kept, removed = self._merge_records(kept_id, removed_ids)
        if request.method == "POST" and request.form.get("confirm") == "1":
            if self._merge(kept.id, [r.id for r in removed]):
                flash(gettext("Customers merged."))
                return redirect(url_for(".details_view", id=kept_id))
            return redirect(url_for(".merge_view", kept_id=kept_id, removed_id=removed_ids))
        return self.render("banyan/merge_confirm.html", kept=kept, removed=removed,
                           comparison=self.merge_comparison(kept, removed),
                           back=request.values.get("url") or url_for(".duplicates_view"))

    def _merge(self, kept_id, removed_ids) -> bool:
        from core.services.customers import merge_customers
        from core.web import current_user

        s = self.session
        try:
            for rid in removed_ids:
                merge_customers(s, kept_id, rid, user=current_user())
            s.flush()
            s.commit()
            return True
        except BusinessError as exc:
            s.rollback()
            for messages in exc.errors.values():
                for m in messages:
                    flash(str(m), "error")
            return False

    def is_action_allowed(self, name):
        if name == "merge":
            return _has(MERGE_PERMISSION)
        return super().is_action_allowed(name)

    @action("merge", _l("Merge…"))
    def action_merge(self, ids):
        """Bulk action: never merges by itself; it opens the comparison of the selected
        customers, the oldest kept."""
        ids = sorted(int(i) for i in ids)
        if len(ids) < 2:
            flash(gettext("Select at least two customers to merge."), "error")
            return None
        return redirect(url_for(".merge_view", kept_id=ids[0], removed_id=ids[1:]))
