"""``banyan addon new NAME``: a pip-installable addon package from the templates here.

Every ``*.tmpl`` file under ``template/`` is copied with ``{{name}}``, ``{{pkg}}``,
``{{title}}``, ``{{Class}}``, ``{{version}}``, ``{{rev}}`` and ``{{date}}`` replaced (in
paths too); the .po catalogs are compiled to .mo so the package works straight away.
"""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from core.addons.manifest import NAME_RE
from core.errors import AddonError

TEMPLATE = Path(__file__).resolve().parent / "template"


def _compile_catalogs(pkg_dir: Path) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in pkg_dir.glob("translations/*/LC_MESSAGES/*.po"):
        with po.open("rb") as f:
            catalog = read_po(f)
        with po.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog)


def new_addon(name: str, path: str | Path = ".", title: str | None = None,
              version: str = "0.1.0") -> Path:
    """Create ``<path>/banyan-addon-<name>/`` and return that folder."""
    if not NAME_RE.match(name or ""):
        raise AddonError(f"addon name {name!r} must match [a-z][a-z0-9_]*")
    if name == "core":
        raise AddonError("addon name 'core' is reserved for the kernel")
    pkg = f"banyan_addon_{name}"
    out = Path(path) / f"banyan-addon-{name.replace('_', '-')}"
    if out.exists():
        raise AddonError(f"{out} already exists")
    words = name.split("_")
    values = {
        "name": name,
        "pkg": pkg,
        "title": title or " ".join(w.capitalize() for w in words),
        "Class": "".join(w.capitalize() for w in words),
        "version": version,
        "rev": uuid.uuid4().hex[:12],
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
    }

    def fill(text: str) -> str:
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        return text

    for src in sorted(TEMPLATE.rglob("*.tmpl")):
        rel = fill(str(src.relative_to(TEMPLATE)))[: -len(".tmpl")]
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(fill(src.read_text("utf-8")), "utf-8")
    _compile_catalogs(out / pkg)
    return out
