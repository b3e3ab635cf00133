"""The back office's Import page: choose an importer, download its template, upload a file,
dry-run it, read the errors (or download them), then import for real."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select

from core.admin.base import BanyanView
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext

#: errors shown on the page (the downloadable report has them all)
SHOWN_ERRORS = 500


class ImportView(BanyanView):
    permission = "core.import.use"

    def _importers(self):
        from core.imports import allowed_importers
        from core.web import current_user, db_session, runtime

        return allowed_importers(db_session(), runtime().registry, current_user())

    def _own(self, import_id: int):
        from core.models import ImportRun
        from core.web import current_user, db_session

        rec = db_session().get(ImportRun, import_id)
        user = current_user()
        if rec is None or (rec.user_id != user.id and not user.is_superuser):
            abort(404)
        return rec

    @expose("/")
    def index(self):
        from core.models import ImportRun
        from core.web import current_user, db_session

        recent = db_session().execute(select(ImportRun).where(ImportRun.user_id == current_user().id)
                                      .order_by(ImportRun.id.desc()).limit(20)).scalars().all()
        return self.render("banyan/imports.html", importers=self._importers(), recent=recent,
                           chosen=request.args.get("importer"))

    @expose("/template/<importer_name>")
    def template_view(self, importer_name):
        from core.imports import template

        name = importer_name
        imp = {i.name: i for i in self._importers()}.get(name)
        if imp is None:
            abort(404)
        fmt = "csv" if request.args.get("format") == "csv" else "xlsx"
        mime = ("text/csv; charset=utf-8" if fmt == "csv"
                else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return Response(template(imp, fmt), mimetype=mime,
                        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})

    @expose("/upload", methods=["POST"])
    def upload_view(self):
        from core.imports import create, dispatch
        from core.web import current_user, db_session, runtime

        upload = request.files.get("file")
        name = request.form.get("importer") or ""
        mode = request.form.get("mode") or "dry_run"
        if upload is None or not upload.filename:
            flash(gettext("Choose a file."), "error")
            return redirect(url_for(".index", importer=name))
        s = db_session()
        try:
            with transaction(s):
                rec = create(s, name, upload.filename, upload.read(), current_user(), mode)
        except BusinessError as exc:
            for messages in exc.errors.values():
                for m in messages:
                    flash(m, "error")
            return redirect(url_for(".index", importer=name))
        dispatch(runtime(), rec)
        return redirect(url_for(".detail_view", import_id=rec.id))

    @expose("/<int:import_id>")
    def detail_view(self, import_id):
        from core.imports import get_importer
        from core.web import runtime

        rec = self._own(import_id)
        try:
            imp = get_importer(runtime().registry, rec.importer)
        except BusinessError:
            imp = None
        return self.render("banyan/import_detail.html", rec=rec, importer=imp,
                           errors=(rec.errors or [])[:SHOWN_ERRORS], shown=SHOWN_ERRORS)

    @expose("/<int:import_id>/run", methods=["POST"])
    def run_view(self, import_id):
        from core.imports import again, dispatch
        from core.web import db_session, runtime

        s = db_session()
        try:
            with transaction(s):
                rec = again(s, self._own(import_id), request.form.get("mode") or "all_or_nothing")
        except BusinessError as exc:
            for messages in exc.errors.values():
                for m in messages:
                    flash(m, "error")
            return redirect(url_for(".detail_view", import_id=import_id))
        dispatch(runtime(), rec)
        return redirect(url_for(".detail_view", import_id=import_id))

    @expose("/<int:import_id>/report")
    def report_view(self, import_id):
        from core.imports import report_file

        rec = self._own(import_id)
        fmt = "xlsx" if request.args.get("format") == "xlsx" else "csv"
        mime = ("text/csv; charset=utf-8" if fmt == "csv"
                else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        return Response(report_file(rec, fmt), mimetype=mime,
                        headers={"Content-Disposition": f'attachment; filename="import-{rec.id}-errors.{fmt}"'})
