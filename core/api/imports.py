"""``/api/v1/imports``: bulk import from CSV or XLSX (``core.imports``).

``POST /imports`` (multipart: ``importer``, ``file``, ``mode``) checks the file's columns
at once (422 naming them), then runs it: inline for a small file (201, the finished
report), on the job queue for a large one (202, ``state`` ``queued``); poll
``GET /imports/<id>``. A dry run writes nothing and keeps the file, so
``POST /imports/<id>/run`` can then import it for real without a second upload.
"""
from __future__ import annotations

from flask import Response, request
from marshmallow import Schema, fields, validate

from core.api import Blueprint, request_user, requires
from core.api.fields import Coded, Label
from core.api.schemas import Instant, Str
from core.db import transaction
from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.labels import IMPORT_PROBLEM
from core.web import db_session, runtime

imports = Blueprint("core_imports", __name__, url_prefix="/imports",
                    description="Bulk import of customers, products, prices, employees and addon records")

MODES = ("dry_run", "all_or_nothing", "valid_only")


class ImportErrorSchema(Schema):
    row = fields.Integer(metadata={"description": "row of the file (1 is the header; 0: the whole file)"})
    column = fields.String()
    message = fields.String()


class ImportSchema(Schema):
    id = fields.Integer()
    importer = fields.String()
    filename = fields.String()
    mode = fields.String()
    state = fields.String(metadata={"description": "queued, running, done or failed"})
    total_rows = fields.Integer()
    processed_rows = fields.Integer()
    error_rows = fields.Integer()
    written_rows = fields.Integer()
    error = fields.String(allow_none=True, metadata={"description": "a refusal of the file itself (in the "
                                                                    "importing user's language, like `errors`)"})
    error_code = Coded(IMPORT_PROBLEM, allow_none=True, metadata={"description": "why the run failed (a code)"})
    error_args = fields.Dict(allow_none=True, metadata={"description": "the figures of `error_code`"})
    error_label = Label(IMPORT_PROBLEM, of="error_code", args="error_args")
    errors = fields.List(fields.Nested(ImportErrorSchema))
    created_at = Instant()
    started_at = Instant(allow_none=True)
    finished_at = Instant(allow_none=True)


class ColumnSchema(Schema):
    name = fields.String()
    label = fields.String()
    required = fields.Boolean()
    type = fields.String()
    help = fields.String(allow_none=True)


class ImporterSchema(Schema):
    name = fields.String()
    label = fields.String()
    addon = fields.String()
    permission = fields.String()
    columns = fields.List(fields.Nested(ColumnSchema))


class FormatQuery(Schema):
    format = Str(load_default="xlsx", validate=validate.OneOf(("xlsx", "csv")))


class ReportQuery(Schema):
    format = Str(load_default="csv", validate=validate.OneOf(("xlsx", "csv")))


class RunIn(Schema):
    mode = Str(required=True, validate=validate.OneOf(MODES))


def _importer_out(imp) -> dict:
    return {"name": imp.name, "label": str(imp.label), "addon": imp.addon, "permission": imp.permission,
            "columns": [{"name": c.name, "label": str(c.label), "required": c.required, "type": c.type,
                         "help": None if c.help is None else str(c.help)} for c in imp.columns]}


def _own_import(import_id: int):
    """The import ``import_id`` if it is the user's own (a superuser sees all), else 404."""
    from core.models import ImportRun

    user = request_user()
    rec = db_session().get(ImportRun, import_id) if 0 < import_id < 2**31 else None
    if rec is None or (rec.user_id != user.id and not user.is_superuser):
        raise NotFound({"id": _l("Not found.")})
    return rec


def _download(data: bytes, filename: str, fmt: str) -> Response:
    mime = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx"
            else "text/csv; charset=utf-8")
    return Response(data, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@imports.route("/importers", methods=["GET"])
@requires("core.import.use")
@imports.response(200, ImporterSchema(many=True))
def list_importers():
    """The importers you may use, with their columns."""
    from core.imports import allowed_importers

    rt = runtime()
    return [_importer_out(imp) for imp in allowed_importers(db_session(), rt.registry, request_user())]


@imports.route("/templates/<string:name>", methods=["GET"])
@requires("core.import.use")
@imports.arguments(FormatQuery, location="query")
@imports.response(200)
def import_template(args, name):
    """A template file of importer ``name`` (XLSX with a help sheet, or CSV)."""
    from core.imports import get_importer, template

    imp = get_importer(runtime().registry, name)
    return _download(template(imp, args["format"]), f"{name}.{args['format']}", args["format"])


@imports.route("", methods=["POST"])
@requires("core.import.use")
@imports.response(201, ImportSchema)
@imports.alt_response(202, schema=ImportSchema, description="queued on the job queue (large file)")
def create_import():
    """Upload a file (multipart ``file``) for ``importer`` and run it in ``mode``
    (``dry_run`` by default, ``all_or_nothing`` or ``valid_only``)."""
    from core.imports import create, dispatch

    upload = request.files.get("file")
    name = (request.form.get("importer") or "").strip()
    mode = (request.form.get("mode") or "dry_run").strip()
    errors = {}
    if upload is None:
        errors["file"] = [_l("Required.")]
    if not name:
        errors["importer"] = [_l("Required.")]
    if errors:
        raise BusinessError(errors)
    s = db_session()
    with transaction(s):
        rec = create(s, name, upload.filename or "import", upload.read(), request_user(), mode)
    queued = dispatch(runtime(), rec)
    s.expire(rec)
    return rec, (202 if queued else 201)


@imports.route("/<int:import_id>", methods=["GET"])
@requires("core.import.use")
@imports.response(200, ImportSchema)
def get_import(import_id):
    """State, progress and the row-by-row error report of one of your imports."""
    return _own_import(import_id)


@imports.route("/<int:import_id>/run", methods=["POST"])
@requires("core.import.use")
@imports.arguments(RunIn)
@imports.response(201, ImportSchema)
@imports.alt_response(202, schema=ImportSchema, description="queued on the job queue (large file)")
def rerun_import(data, import_id):
    """Run an uploaded file again in ``mode``: the real run after a dry run."""
    from core.imports import again, dispatch, get_importer
    from core.security.permissions import has_permission

    s = db_session()
    with transaction(s):
        rec = _own_import(import_id)
        imp = get_importer(runtime().registry, rec.importer)
        if not has_permission(s, request_user(), imp.permission):
            from core.errors import Forbidden

            raise Forbidden({"importer": _l("You may not use this importer.")})
        again(s, rec, data["mode"])
    queued = dispatch(runtime(), rec)
    s.expire(rec)
    return rec, (202 if queued else 201)


@imports.route("/<int:import_id>/report", methods=["GET"])
@requires("core.import.use")
@imports.arguments(ReportQuery, location="query")
@imports.response(200)
def import_report(args, import_id):
    """The error report (row, column, message) as CSV or XLSX."""
    from core.imports import report_file

    rec = _own_import(import_id)
    return _download(report_file(rec, args["format"]), f"import-{rec.id}-errors.{args['format']}", args["format"])
