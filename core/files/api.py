"""REST endpoints of the file store, mounted under ``/api/v1/files`` (``core.defaults.api``).

* ``POST /api/v1/files`` multipart form: ``owner`` (e.g. ``core_customer``), ``record`` (the
  record's id), ``file``. 201 with the file's metadata; 413 / 422 on ``file``, 404 on
  ``record``, 403 without the owner's write permission.
* ``GET /api/v1/files?owner=&record=``: the record's files.
* ``GET /api/v1/files/<id>``: the bytes (``Content-Disposition: attachment``, the sniffed
  content type, ``X-Content-Type-Options: nosniff``).
* ``DELETE /api/v1/files/<id>``: 204.

The endpoints need any authenticated user; the owner's permissions and the record's scope
are checked by :mod:`core.files` (a file the user may not reach is 404).
"""
from __future__ import annotations

from flask import request, send_file
from marshmallow import Schema, fields

from core import files as F
from core.api import AUTHENTICATED, Blueprint, request_user, requires
from core.api.schemas import Instant, QId, Str
from core.db import transaction
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.web import db_session

blp = Blueprint("core_files", __name__, url_prefix="/files",
                description="Files attached to records (photos, reports, e-mails)")


class FileSchema(Schema):
    id = fields.Integer()
    owner = fields.String(attribute="owner_table")
    record = fields.Integer(attribute="owner_id")
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer(metadata={"description": "bytes"})
    sha256 = fields.String()
    store_id = fields.Integer(allow_none=True)
    uploaded_by_id = fields.Integer(allow_none=True)
    uploaded_at = Instant()


class FileQuery(Schema):
    owner = Str(max=80, metadata={"description": "owner name, e.g. core_customer"})
    record = QId(metadata={"description": "the owning record's id (with owner)"})


UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["owner", "record", "file"],
        "properties": {
            "owner": {"type": "string", "maxLength": 80, "example": "core_customer"},
            "record": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            "file": {"type": "string", "format": "binary"},
        }}}},
}


def _record_field(raw) -> int:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise BusinessError({"record": _l("Not a valid integer.")}) from None
    if not 0 < value <= F.MAX_ID:
        raise BusinessError({"record": _l("Out of range.")})
    return value


@blp.route("", methods=["POST"])
@requires(AUTHENTICATED)
@blp.doc(requestBody=UPLOAD_BODY)
@blp.response(201, FileSchema)
def upload():
    """Attach a file to a record (multipart: owner, record, file)."""
    errors = {}
    owner = (request.form.get("owner") or "").strip()
    if not owner:
        errors["owner"] = _l("Missing data for required field.")
    if request.form.get("record") in (None, ""):
        errors["record"] = _l("Missing data for required field.")
    upload = request.files.get("file")
    if upload is None:
        errors["file"] = _l("Missing data for required field.")
    if errors:
        raise BusinessError(errors)
    record = _record_field(request.form["record"])
    s = db_session()
    with transaction(s):
        row = F.attach(s, owner, record, upload.filename, upload.stream, request_user())
    return row


@blp.route("", methods=["GET"])
@requires(AUTHENTICATED)
@blp.arguments(FileQuery, location="query")
@blp.response(200, FileSchema(many=True))
@blp.paginate()
def list_files(args, pagination_parameters):
    """The files of one record (owner and record), of one owner, or all you may read."""
    from core.api import paginate_select
    from core.models import FileRecord

    s, user = db_session(), request_user()
    if "record" in args:
        if "owner" not in args:
            raise BusinessError({"owner": _l("Missing data for required field.")})
        F.list_for(s, args["owner"], args["record"], user)  # 403 / 404 on the record
        stmt = F.visible(s, user, args["owner"]).where(FileRecord.owner_id == args["record"])
    else:
        stmt = F.visible(s, user, args.get("owner"))
    return paginate_select(s, stmt.order_by(FileRecord.id), pagination_parameters)


@blp.route("/<int:file_id>", methods=["GET"])
@requires(AUTHENTICATED)
@blp.response(200, {"format": "binary", "type": "string"}, content_type="application/octet-stream",
              description="The file's bytes, with its sniffed content type.")
def download(file_id):
    """Download a file."""
    return send_download(F.open_for_download(db_session(), file_id, request_user()))


@blp.route("/<int:file_id>", methods=["DELETE"])
@requires(AUTHENTICATED)
@blp.response(204)
def delete_file(file_id):
    """Delete a file (its record's write permission)."""
    s = db_session()
    with transaction(s):
        F.delete(s, file_id, request_user())


def send_download(dl: F.Download):
    """The response sending ``dl``: always an attachment, with the stored (sniffed) type,
    ``nosniff``, its size and an ETag of its SHA-256 (the file's bytes never change)."""
    row = dl.record
    resp = send_file(dl.stream, mimetype=row.content_type, as_attachment=True,
                     download_name=row.filename, etag=row.sha256, max_age=0, conditional=True)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp
