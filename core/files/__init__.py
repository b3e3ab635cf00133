"""The file store: attachments of records (repair photos, fault reports, audit evidence,
ticket e-mails), for the kernel and every addon.

A model carries attachments when its addon returns a :class:`core.contrib.FileOwner` from
``register_file_owners``. Then, on every surface (this service API, the back-office panel
of :mod:`core.files.admin`, the REST endpoints ``/api/v1/files`` of :mod:`core.files.api`):

* **access follows the owning record**: reading needs the owner's ``read_permission``,
  adding and deleting its ``write_permission``; and the record must be visible to the user
  through the record rules (:mod:`core.security.scope`). A file of a record the user cannot
  see is "not found" (404), exactly like the record;
* **checked content**: at most ``[files] max_size`` bytes (else 413 on the field ``file``);
  the content type is read from the bytes (:mod:`core.files.sniff`), never taken from the
  name or the browser, and must be one of ``[files] allowed_types`` (else 422 on ``file``);
  the file name is cleaned (:func:`sanitize_filename`) and is never part of a path;
* **one row per file** in ``core_file`` (:class:`core.models.FileRecord`), written in the
  caller's transaction; the bytes go to the configured :class:`~core.files.storage.Storage`
  (by default a folder of the instance, ``[files] root``) under their SHA-256, so identical
  content is stored once;
* **consistency**: the blob is written (atomically) before the row is flushed. When the
  transaction rolls back, the row is gone and the blob is left unreferenced; the kernel job
  ``core.files.gc`` deletes unreferenced blobs once they are ``[files] gc_grace_seconds``
  old, and the rows of records that were deleted. Deleting a file removes its row; its blob
  goes with the next clean-up when no other row shares it. (Blobs are never deleted in the
  request: a concurrent upload of the same bytes may be reusing the blob in a transaction
  not yet committed; the grace period covers it, as ``put`` refreshes a reused blob's time);
* **purge**: ``banyan addons uninstall NAME --purge`` deletes the rows of the files attached
  to NAME's records and their blobs (:func:`purge_addon`).

Service functions take the caller's ``session`` (they flush, never commit) and the acting
``user`` (``None`` for the system itself, e.g. a job filing incoming e-mails: no permission
or scope check then).
"""
from __future__ import annotations

import hashlib
import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from sqlalchemy import delete as sql_delete, select

from core.contrib import FileOwner  # re-exported: ``from core.files import FileOwner``
from core.errors import AddonError, BusinessError, Forbidden, NotFound
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow

__all__ = [
    "FileOwner", "Download", "FileSettings", "attach", "list_for", "open_for_download", "delete",
    "get_for", "visible", "owners", "settings", "settings_from", "storage_of", "sanitize_filename", "collect_garbage",
    "purge_addon", "repoint", "FileTooLarge",
]

log = logging.getLogger("banyan.files")

_UNSCOPED = {"banyan_unscoped": True}
MAX_ID = 2**31 - 1
MAX_NAME = 255


class FileTooLarge(BusinessError):
    """The upload is over ``[files] max_size`` (HTTP 413, on the field ``file``)."""

    status = 413


@dataclass(frozen=True)
class FileSettings:
    """``[files]`` of the configuration (docs/configuration.md)."""

    root: str
    max_size: int
    allowed_types: frozenset[str]
    gc_grace_seconds: int


@dataclass
class Download:
    """A file to send: its row and an open binary stream of its bytes (close it)."""

    record: object
    stream: BinaryIO


def settings(rt) -> FileSettings:
    """The runtime's ``[files]`` settings, checked (a bad value is a ``ConfigError``)."""
    return settings_from(rt.config)


def settings_from(config: dict) -> FileSettings:
    """``[files]`` of a configuration dict (``core.config.load_config``), checked."""
    from core.errors import ConfigError

    cfg = config.get("files") or {}
    try:
        max_size = int(cfg.get("max_size", 10 * 1024 * 1024))
        grace = int(cfg.get("gc_grace_seconds", 3600))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[files] max_size and gc_grace_seconds must be integers: {exc}") from None
    if max_size <= 0 or grace < 0:
        raise ConfigError("[files] max_size must be positive and gc_grace_seconds not negative")
    allowed = cfg.get("allowed_types", "")
    if isinstance(allowed, str):
        allowed = [t for t in (x.strip().lower() for x in allowed.split(",")) if t]
    return FileSettings(root=str(cfg.get("root") or ""), max_size=max_size,
                        allowed_types=frozenset(allowed), gc_grace_seconds=grace)


def storage_of(rt):
    """The runtime's :class:`~core.files.storage.Storage`: ``rt.extra["file_storage"]`` when
    set (another backend, or a test's folder), else a :class:`LocalFolderStorage` on
    ``[files] root``."""
    st = rt.extra.get("file_storage")
    if st is None:
        from pathlib import Path

        from core.files.storage import LocalFolderStorage

        root = settings(rt).root or str(Path(rt.config["instance"]["path"]) / "files")
        st = rt.extra["file_storage"] = LocalFolderStorage(root)
    return st


# --------------------------------------------------------------------------- owners

def owners(registry) -> dict[str, tuple[str, FileOwner]]:
    """``{owner name: (owning addon, FileOwner)}`` from ``register_file_owners``. The owning
    addon is the one that registered the model (``register_models``); a model nobody
    registered, or declared twice, is an ``AddonError``."""
    out: dict[str, tuple[str, FileOwner]] = {}
    for group in registry.hook.register_file_owners():
        for fo in group or ():
            addon = registry.owner_of_table(fo.name)
            if addon is None:
                raise AddonError(f"FileOwner({fo.model.__name__}): table {fo.name} is not registered "
                                 "by any installed addon (register_models)")
            if fo.name in out:
                raise AddonError(f"FileOwner for {fo.name} is declared twice")
            out[fo.name] = (addon, fo)
    return out


def _registry(session):
    from core.runtime import runtime_of

    return runtime_of(session).registry


def _resolve(session, owner) -> tuple[str, FileOwner]:
    name = owner.name if isinstance(owner, FileOwner) else getattr(
        getattr(owner, "__table__", None), "name", owner)
    found = owners(_registry(session)).get(name) if isinstance(name, str) else None
    if found is None:
        raise BusinessError({"owner": _l("No such owner of files.")})
    return found


def _check_permission(session, user, permission: str, missing=None) -> None:
    if user is None:
        return
    from core.security.permissions import has_permission

    if not has_permission(session, user, permission):
        raise missing or Forbidden({"_": _l("You do not have the permission %(perm)s.", perm=permission)})


def _visible_record(session, fo: FileOwner, record_id, user, field: str = "record"):
    """The owning record if ``user`` may see it (their record rules applied explicitly, so
    any session works), else NotFound on ``field``."""
    if not isinstance(record_id, int) or isinstance(record_id, bool) or not 0 < record_id <= MAX_ID:
        raise NotFound({field: _l("Not found.")})
    model = fo.model
    pk = model.__mapper__.primary_key[0]
    stmt = select(model).where(pk == record_id).execution_options(**_UNSCOPED)
    if user is not None:
        from core.security.scope import Scope, cached_criteria, scope_of, store_ids_for

        scope = scope_of(session)
        if scope is None or scope.user_id != user.id:
            scope = Scope(user.id, store_ids_for(session, user))
        if not scope.unrestricted:
            stmt = stmt.options(*cached_criteria(_registry(session), scope))
    rec = session.execute(stmt).scalar()
    if rec is None:
        raise NotFound({field: _l("Not found.")})
    return rec


def _store_of(record) -> int | None:
    from core.security.scope import scoped_column

    col = scoped_column(type(record))
    return getattr(record, col.key) if col is not None else None


# --------------------------------------------------------------------------- names

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.I)


def sanitize_filename(name: str | None) -> str:
    """A display name safe to store and to send back in ``Content-Disposition``.

    Keeps letters of every script (Chinese names stay as typed), digits and ordinary
    punctuation; drops any folder part (``../../etc/passwd`` -> ``passwd``,
    ``C:\\\\x\\\\a.jpg`` -> ``a.jpg``), control characters and characters that file systems
    refuse, leading dots and trailing dots and spaces; Windows device names get a ``_``;
    at most 255 characters, keeping the extension. An empty result is ``"file"``. The name
    is only shown: files are stored under their hash, never under it."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE.sub("_", text)
    text = text.strip().lstrip(".").rstrip(". ")
    if _RESERVED.match(text):
        text = "_" + text
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            text = stem[:MAX_NAME - len(ext) - 1] + "." + ext
        else:
            text = text[:MAX_NAME]
    return text or "file"


# --------------------------------------------------------------------------- reading the upload

class _Meter(io.RawIOBase):
    """Reads ``head`` then ``rest``, hashing and counting; past ``limit`` bytes it raises
    :class:`FileTooLarge` (so the storage drops its temporary copy)."""

    def __init__(self, head: bytes, rest: BinaryIO, limit: int):
        self._head = head
        self._rest = rest
        self._limit = limit
        self.size = 0
        self._sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._head:
            data, self._head = self._head, b""
        else:
            data = self._rest.read(n if n and n > 0 else 1024 * 1024) or b""
        self.size += len(data)
        if self.size > self._limit:
            raise too_large(self._limit)
        self._sha.update(data)
        return data

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


def too_large(limit: int) -> FileTooLarge:
    return FileTooLarge({"file": _l("The file is larger than the limit of %(size)s.", size=human_size(limit))})


def human_size(n: int) -> str:
    """``10485760`` -> ``"10 MiB"`` (binary units, one decimal when not whole)."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{round(n, 1):g} {unit}"
        n /= 1024
    return f"{n} GiB"


def _read_head(stream: BinaryIO, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


# --------------------------------------------------------------------------- the service API

def attach(session, owner, record_id: int, filename: str | None, stream, user=None):
    """Store ``stream`` (a binary file object, or ``bytes``) as an attachment of record
    ``record_id`` of ``owner`` (a FileOwner, its model or its name such as
    ``"core_customer"``); returns the new, flushed :class:`core.models.FileRecord`.

    Errors (nothing is stored or written): 422 ``owner`` for an unknown owner; 403 without
    the owner's ``write_permission``; 404 ``record`` when the record does not exist or
    ``user`` cannot see it; 413 ``file`` past ``[files] max_size``; 422 ``file`` for an
    empty file or a content type not in ``[files] allowed_types`` (read from the bytes)."""
    from core.files.sniff import HEAD_SIZE, sniff
    from core.models import FileRecord
    from core.runtime import runtime_of

    rt = runtime_of(session)
    conf = settings(rt)
    addon, fo = _resolve(session, owner)
    _check_permission(session, user, fo.write_permission)
    record = _visible_record(session, fo, record_id, user)
    name = sanitize_filename(filename)
    if isinstance(stream, (bytes, bytearray, memoryview)):
        stream = io.BytesIO(bytes(stream))
    head = _read_head(stream, HEAD_SIZE)
    if not head:
        raise BusinessError({"file": _l("The file is empty.")})
    if len(head) > conf.max_size:
        raise too_large(conf.max_size)
    ctype = sniff(head, name)
    if ctype not in conf.allowed_types:
        raise BusinessError({"file": _l("Files of type %(type)s are not accepted (accepted: %(allowed)s).",
                                        type=ctype, allowed=", ".join(sorted(conf.allowed_types)))})
    meter = _Meter(head, stream, conf.max_size)
    key = storage_of(rt).put(meter)
    row = FileRecord(owner_addon=addon, owner_table=fo.name, owner_id=record_id, filename=name,
                     content_type=ctype, size=meter.size, sha256=meter.sha256, storage_key=key,
                     uploaded_by_id=getattr(user, "id", None), uploaded_at=utcnow(),
                     store_id=_store_of(record))
    session.add(row)
    session.flush()
    return row


def list_for(session, owner, record_id: int, user=None) -> list:
    """The files of record ``record_id`` of ``owner``, oldest first. 403 without the owner's
    ``read_permission``; 404 ``record`` when ``user`` cannot see the record."""
    from core.models import FileRecord

    _addon, fo = _resolve(session, owner)
    _check_permission(session, user, fo.read_permission)
    _visible_record(session, fo, record_id, user)
    return list(session.execute(
        select(FileRecord).where(FileRecord.owner_table == fo.name, FileRecord.owner_id == record_id)
        .order_by(FileRecord.uploaded_at, FileRecord.id).execution_options(**_UNSCOPED)).scalars())


def visible(session, user=None, owner=None):
    """A select of the files ``user`` may read (optionally of one ``owner`` only): of the
    owners whose read permission they hold, the files whose record is visible to them. For
    lists across records (``GET /api/v1/files`` without ``record``); order and page it."""
    from sqlalchemy import false, or_

    from core.models import FileRecord

    if owner is not None:
        _addon, fo = _resolve(session, owner)
        declared = [fo]
    else:
        declared = [fo for _addon, fo in owners(_registry(session)).values()]
    parts = []
    from core.security.permissions import has_permission

    for fo in declared:
        if user is not None and not has_permission(session, user, fo.read_permission):
            continue
        # the mapped attribute, not the table's column: a select of a bare Column is a Core
        # statement the record rules (loader criteria) never reach -- every record would pass
        mapper = fo.model.__mapper__
        pk = mapper.get_property_by_column(mapper.primary_key[0]).class_attribute
        parts.append((FileRecord.owner_table == fo.name) & FileRecord.owner_id.in_(select(pk)))
    stmt = select(FileRecord).where(or_(*parts) if parts else false()).execution_options(**_UNSCOPED)
    if user is not None:
        from core.security.scope import Scope, cached_criteria, scope_of, store_ids_for

        scope = scope_of(session)
        if scope is None or scope.user_id != user.id:
            scope = Scope(user.id, store_ids_for(session, user))
        if not scope.unrestricted:
            # the record rules reach the records in the subqueries too (with_loader_criteria)
            stmt = stmt.options(*cached_criteria(_registry(session), scope))
    return stmt


def get_for(session, file_id: int, user=None, write: bool = False):
    """Row ``file_id`` if ``user`` may read it (``write``: delete it), else 404 on ``id``:
    the owner must be installed, the user must hold its permission and see the record. A
    file the user may not reach is indistinguishable from one that does not exist."""
    from core.models import FileRecord

    missing = NotFound({"id": _l("Not found.")})
    if not isinstance(file_id, int) or not 0 < file_id <= MAX_ID:
        raise missing
    row = session.execute(select(FileRecord).where(FileRecord.id == file_id)
                          .execution_options(**_UNSCOPED)).scalar()
    if row is None:
        raise missing
    found = owners(_registry(session)).get(row.owner_table)
    if found is None:  # its addon is not installed (uninstalled without purge)
        raise missing
    fo = found[1]
    _check_permission(session, user, fo.write_permission if write else fo.read_permission, missing)
    try:
        _visible_record(session, fo, row.owner_id, user)
    except NotFound:
        raise missing from None
    return row


def open_for_download(session, file_id: int, user=None) -> Download:
    """The row and an open stream of file ``file_id`` (see :func:`get_for` for the 404s).
    A row whose blob is missing from the storage is logged and answered 404."""
    row = get_for(session, file_id, user)
    try:
        stream = storage_of(_runtime(session)).open(row.storage_key)
    except FileNotFoundError:
        log.error("file %s (%s) has no stored blob %s", row.id, row.filename, row.storage_key)
        raise NotFound({"id": _l("The stored file is missing.")}) from None
    return Download(record=row, stream=stream)


def delete(session, file_id: int, user=None) -> None:
    """Delete file ``file_id`` (its row, in the caller's transaction; the blob goes with the
    next ``core.files.gc`` when no other row shares it). Needs the owner's
    ``write_permission``; 404 as :func:`get_for`."""
    row = get_for(session, file_id, user, write=True)
    session.delete(row)
    session.flush()


def repoint(session, model, old_id: int, new_id: int) -> int:
    """Move the files of record ``old_id`` of ``model`` to record ``new_id`` (a customer
    merge: files reference their record by table and id, which no foreign key re-points).
    Their ``store_id`` becomes the new record's store. Returns how many moved."""
    from sqlalchemy import update

    from core.models import FileRecord

    name = model.__table__.name
    new = session.get(model, new_id)
    values = {"owner_id": new_id}
    if new is not None:
        values["store_id"] = _store_of(new)
    return session.execute(update(FileRecord).where(FileRecord.owner_table == name,
                                                    FileRecord.owner_id == old_id)
                           .values(values).execution_options(banyan_unscoped=True,
                                                             synchronize_session=False)).rowcount or 0


def _runtime(session):
    from core.runtime import runtime_of

    return runtime_of(session)


# --------------------------------------------------------------------------- clean-up and purge

def _unreferenced(session, keys: list[str]) -> list[str]:
    from core.models import FileRecord

    used = set(session.execute(select(FileRecord.storage_key).where(FileRecord.storage_key.in_(keys))
                               .execution_options(**_UNSCOPED)).scalars())
    return [k for k in keys if k not in used]


def collect_garbage(session, grace_seconds: int | None = None) -> dict[str, int]:
    """The job ``core.files.gc`` (daily, and on demand with ``banyan jobs run core.files.gc``).

    1. deletes the rows of files whose owning record no longer exists (owners of installed
       addons only: an uninstalled addon's files wait for it);
    2. deletes every stored blob no row references that was last put more than
       ``grace_seconds`` (default ``[files] gc_grace_seconds``) ago: the blobs of rolled-back
       uploads, of deleted files and rows. Blobs of rows deleted by step 1 wait for the next
       run, so a failed commit of this job never leaves a row without its blob;
    3. removes temporary files of interrupted writes older than the grace period.

    Returns ``{"rows": n, "blobs": n, "temporary": n}``."""
    from core.models import FileRecord

    rt = _runtime(session)
    grace = settings(rt).gc_grace_seconds if grace_seconds is None else grace_seconds
    cutoff = utcnow() - timedelta(seconds=grace)
    store = storage_of(rt)
    rows = 0
    held: set[str] = set()
    for name, (_addon, fo) in owners(rt.registry).items():
        pk = fo.model.__mapper__.primary_key[0]
        gone = (select(FileRecord.id, FileRecord.storage_key)
                .where(FileRecord.owner_table == name, FileRecord.owner_id.not_in(select(pk)))
                .execution_options(**_UNSCOPED))
        found = session.execute(gone).all()
        if found:
            held.update(k for _i, k in found)
            ids = [i for i, _k in found]
            for start in range(0, len(ids), 500):
                session.execute(sql_delete(FileRecord).where(FileRecord.id.in_(ids[start:start + 500]))
                                .execution_options(synchronize_session=False))
            rows += len(ids)
    session.flush()
    blobs = 0
    batch: list[str] = []

    def sweep(keys):
        n = 0
        for key in _unreferenced(session, keys):
            if key not in held:
                store.delete(key)
                n += 1
        return n

    for key in store.keys(cutoff):
        batch.append(key)
        if len(batch) >= 500:
            blobs += sweep(batch)
            batch = []
    if batch:
        blobs += sweep(batch)
    temporary = store.sweep_temporary(cutoff) if hasattr(store, "sweep_temporary") else 0
    if rows or blobs or temporary:
        log.info("files gc: %d row(s) of deleted records, %d blob(s), %d temporary file(s)",
                 rows, blobs, temporary)
    return {"rows": rows, "blobs": blobs, "temporary": temporary}


def purge_addon(rt, addon: str, tables) -> dict[str, int]:
    """Delete the files of ``addon``'s records (``banyan addons uninstall --purge``): their
    rows in one transaction, then the blobs no other row references and not put within the
    grace period (fresher ones go with the next ``core.files.gc``). Returns counts."""
    from core.db import transaction
    from core.models import FileRecord

    names = [t.name if hasattr(t, "name") else str(t) for t in tables]
    with rt.session() as s, transaction(s):
        cond = FileRecord.owner_addon == addon
        if names:
            cond = cond | FileRecord.owner_table.in_(names)
        keys = sorted(set(s.execute(select(FileRecord.storage_key).where(cond)
                                    .execution_options(**_UNSCOPED)).scalars()))
        rows = s.execute(sql_delete(FileRecord).where(cond)
                         .execution_options(synchronize_session=False)).rowcount
    store = storage_of(rt)
    cutoff = utcnow() - timedelta(seconds=settings(rt).gc_grace_seconds)
    blobs = 0
    with rt.session() as s:
        for start in range(0, len(keys), 500):
            for key in _unreferenced(s, keys[start:start + 500]):
                put = store.last_put(key)
                if put is not None and put < cutoff:
                    store.delete(key)
                    blobs += 1
    return {"rows": rows or 0, "blobs": blobs}
