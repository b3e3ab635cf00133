"""The addons page of the back office (``/admin/addons/``), for HQ administrators.

Lists every addon the installed distributions offer: title, version (the database's and the
code's), state (installed, uninstalled with tables kept, available, needs upgrade) and its
dependencies. Install, upgrade and uninstall call the same lifecycle functions as
``banyan addons install|upgrade|uninstall`` (``core.addons.installer``). Each asks first: a
POST without ``confirm=1`` only shows what will happen (the dependencies installed with it,
the addons that block an uninstall, whether the tables are dropped).

Allowed to users holding ``core.addons.admin`` with a chain-wide scope (or superusers): an
addon changes the whole chain, so an administrator scoped to one franchisee may not.
The other server processes and this one load the new set of addons' back-office views at
their next start; the page says so.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import inspect, select

from core.admin.base import BanyanView
from core.errors import AddonError
from core.i18n import gettext, lazy_gettext as _l, lazy_pgettext

PERMISSION = "core.addons.admin"
OPS = {"install": _l("Install"), "upgrade": _l("Upgrade"), "uninstall": _l("Uninstall")}
STATES = {"installed": _l("Installed"), "uninstalled": _l("Uninstalled (data kept)"), "available": lazy_pgettext("addon", "Available"),
          "upgrade": _l("Needs upgrade")}


def _rt():
    from core.web import runtime

    return runtime()


def schema_mode(connection) -> str:
    """``"migrate"`` for a database under Alembic (``banyan init``), ``"create_all"`` for one
    built straight from the models (tests, demos). ``connection``: the request's."""
    from core.migrations import VERSION_TABLE

    return "migrate" if inspect(connection).has_table(VERSION_TABLE) else "create_all"


def addon_rows(rt) -> list[dict]:
    """One row per available addon: name, title, summary, code and database versions, state
    (a :data:`STATES` key), dependencies and the installed addons depending on it."""
    from core.addons.graph import dependents
    from core.models import InstalledAddon

    with rt.session() as s:
        rows = {r.name: r for r in s.execute(select(InstalledAddon)).scalars()}
        s.commit()
    available = rt.registry.available
    installed = {n: r.version for n, r in rows.items() if r.state == "installed"}
    out = []
    for name in sorted(available):
        m = available[name].manifest
        row = rows.get(name)
        state = row.state if row is not None else "available"
        if state == "installed" and row.version != m.version:
            state = "upgrade"
        out.append({"name": name, "title": m.title, "summary": m.summary, "version": m.version,
                    "db_version": row.version if row is not None else None, "state": state,
                    "depends": list(m.dependency_names), "optional": list(m.optional_depends),
                    "needed_by": dependents(name, installed, available) if name in installed else []})
    return out


class AddonsView(BanyanView):
    """See the module docstring."""

    permission = PERMISSION

    def is_accessible(self):
        from core.web import current_user

        if not super().is_accessible():
            return False
        user = current_user()
        return user.is_superuser or user.scope_kind == "all"

    @expose("/")
    def index(self):
        return self.render("banyan/addons.html", rows=addon_rows(_rt()), states=STATES, ops=OPS)

    def _plan(self, rt, op: str, name: str, purge: bool) -> list:
        """What ``op`` on ``name`` will do, in sentences; raises AddonError when it cannot."""
        from core.addons.graph import closure, dependents
        from core.addons.installer import installed_versions

        available = rt.registry.available
        if name not in available:
            raise AddonError(gettext("No such addon."))
        current = installed_versions(rt)
        if op == "install":
            if name in current:
                raise AddonError(gettext("Already installed."))
            order = [n for n in closure([name], available) if n not in current]
            lines = [gettext("These addons are installed, in this order: %(names)s.", names=", ".join(order))]
            lines.append(gettext("Their tables are created and their permissions granted to the default roles."))
            return lines
        if name not in current:
            raise AddonError(gettext("Not installed."))
        if op == "upgrade":
            return [gettext("The database of %(name)s is migrated from version %(old)s to %(new)s.", name=name,
                            old=current[name], new=available[name].manifest.version)]
        deps = dependents(name, current, available)
        if deps:
            raise AddonError(gettext("Installed addons depend on it: %(names)s. Uninstall them first.",
                                     names=", ".join(deps)))
        if purge:
            return [gettext("%(name)s is uninstalled and its tables and data are dropped for good.", name=name)]
        return [gettext("%(name)s is uninstalled; its tables and data are kept, and installing it again "
                        "catches up on what it missed.", name=name)]

    @expose("/do", methods=["POST"])
    def do(self):
        from core.addons import installer

        op = request.form.get("op", "")
        name = request.form.get("name", "")
        purge = request.form.get("purge") == "1"
        if op not in OPS:
            abort(400)
        rt = _rt()
        try:
            lines = self._plan(rt, op, name, purge)
        except AddonError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        if request.form.get("confirm") != "1":
            return self.render("banyan/addons_confirm.html", op=op, op_label=OPS[op], name=name, purge=purge,
                               lines=lines)
        from core.web import db_session

        schema = schema_mode(db_session().connection())
        db_session().commit()  # hold no read transaction while the installer writes (SQLite)
        try:
            if op == "install":
                done = installer.install(rt, [name], schema=schema)
                flash(gettext("Installed: %(names)s.", names=", ".join(done)), "success")
            elif op == "upgrade":
                installer.upgrade(rt, [name], schema=schema)
                flash(gettext("Upgraded: %(name)s.", name=name), "success")
            else:
                installer.uninstall(rt, name, purge=purge)
                flash(gettext("Uninstalled: %(name)s.", name=name), "success")
        except AddonError as exc:
            flash(str(exc), "error")
            return redirect(url_for(".index"))
        flash(gettext("Restart the server so that every process loads the new set of addons."), "warning")
        return redirect(url_for(".index"))
