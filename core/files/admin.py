"""The file store in the back office: an attachments panel for any model view, in one line.

A :class:`core.admin.base.BanyanModelView` whose model is a ``FileOwner`` writes
``attachments = True``; its details page then lists the record's files (download links),
and offers an upload form and delete buttons to users holding the owner's write permission.
The panel posts to this blueprint (``/admin/files/...``, CSRF-protected like every form),
which goes through :mod:`core.files`: same size limit, type check, permissions and scope as
the API. Refusals are flashed; the user is sent back to the page they came from.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for

from core import files as F
from core.db import transaction
from core.errors import BusinessError, NotFound
from core.i18n import gettext as _

bp = Blueprint("files_admin", __name__, url_prefix="/admin/files")


def _user():
    from core.web import current_user

    return current_user()


def _back():
    from urllib.parse import urlsplit

    target = request.form.get("next") or request.args.get("next") or ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        target = url_for("admin.index")  # never redirect off-site
    return redirect(target)


def _login_or_none():
    if _user() is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


def _flash_error(exc: BusinessError) -> None:
    for messages in exc.errors.values():
        for m in messages:
            flash(m, "error")


@bp.route("/upload", methods=["POST"])
def upload():
    """Form fields ``owner``, ``record``, ``file`` (and ``next``, where to go back to)."""
    from core.web import db_session

    denied = _login_or_none()
    if denied:
        return denied
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise BusinessError({"file": _("Choose a file to upload.")})
        try:
            record = int(request.form.get("record", ""))
        except ValueError:
            raise NotFound({"record": _("Not found.")}) from None
        s = db_session()
        with transaction(s):
            row = F.attach(s, request.form.get("owner", ""), record, upload.filename, upload.stream, _user())
        flash(_("File %(name)s attached.", name=row.filename))
    except BusinessError as exc:
        _flash_error(exc)
    return _back()


@bp.route("/<int:file_id>", methods=["GET"])
def download(file_id):
    from core.files.api import send_download
    from core.web import db_session

    denied = _login_or_none()
    if denied:
        return denied
    try:
        dl = F.open_for_download(db_session(), file_id, _user())
    except NotFound:
        abort(404)
    return send_download(dl)


@bp.route("/<int:file_id>/delete", methods=["POST"])
def delete(file_id):
    from core.web import db_session

    denied = _login_or_none()
    if denied:
        return denied
    try:
        s = db_session()
        with transaction(s):
            F.delete(s, file_id, _user())
        flash(_("File deleted."))
    except BusinessError as exc:
        _flash_error(exc)
    return _back()


def panel(view, model) -> dict | None:
    """What ``banyan/attachments_panel.html`` shows for ``model`` on ``view``'s details
    page, or None when the user may not read the owner's files (no panel at all)."""
    from core.runtime import runtime_of
    from core.security.permissions import has_permission
    from core.web import db_session

    s = db_session()
    user = _user()
    owner = model.__table__.name
    _addon, fo = F.owners(runtime_of(s).registry)[owner]
    if user is None or not has_permission(s, user, fo.read_permission):
        return None
    ident = model.__mapper__.primary_key_from_instance(model)[0]
    try:
        rows = F.list_for(s, owner, ident, user)
    except NotFound:
        return None
    conf = F.settings(runtime_of(s))
    return {"owner": owner, "record": ident, "files": rows,
            "can_write": has_permission(s, user, fo.write_permission),
            "max_size": F.human_size(conf.max_size), "accept": ",".join(sorted(conf.allowed_types)),
            "next": request.full_path.rstrip("?")}
