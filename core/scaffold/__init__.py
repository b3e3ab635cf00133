"""``banyan addon new NAME``: an addon package from the templates here.

Every ``*.tmpl`` file under ``template/`` is copied with ``{{name}}``, ``{{pkg}}``,
``{{module}}`` (the import path), ``{{title}}``, ``{{Class}}``, ``{{version}}``, ``{{rev}}``
and ``{{date}}`` replaced (in paths too); the .po catalogs are compiled to .mo so the
package works straight away.

Two variants:

* partner (default): ``<path>/banyan-addon-NAME/``, a pip-installable distribution with its
  own ``setup.cfg`` entry point (``new_addon``);
* built-in (``--builtin``): ``<repo>/addons/NAME/`` in Banyan's own tree, with the layout
  of ``addons/membership`` (``builtin/package/`` overlays the partner package: services with
  ``__all__`` re-exporting ``items.py``, schemas, jobs, demo, templates, tests/conftest), the entry point added to the
  repository's ``setup.cfg`` and an operator page ``docs/addons/NAME.md``
  (``new_builtin_addon``).
"""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from core.addons.manifest import NAME_RE
from core.errors import AddonError

TEMPLATE = Path(__file__).resolve().parent / "template"
BUILTIN = Path(__file__).resolve().parent / "builtin"
ENTRY_GROUP = "banyan.addons ="


def _compile_catalogs(pkg_dir: Path) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in pkg_dir.glob("translations/*/LC_MESSAGES/*.po"):
        with po.open("rb") as f:
            catalog = read_po(f)
        with po.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog)


def _check_name(name: str) -> None:
    if not NAME_RE.match(name or ""):
        raise AddonError(f"addon name {name!r} must match [a-z][a-z0-9_]*")
    if name == "core":
        raise AddonError("addon name 'core' is reserved for the kernel")


def _values(name: str, pkg: str, module: str, title: str | None, version: str) -> dict[str, str]:
    words = name.split("_")
    return {
        "name": name,
        "pkg": pkg,
        "module": module,
        "title": title or " ".join(w.capitalize() for w in words),
        "Class": "".join(w.capitalize() for w in words),
        "version": version,
        "rev": uuid.uuid4().hex[:12],
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
    }


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _render(sources: dict[str, Path], out: Path, values: dict[str, str]) -> None:
    """Write every template of ``sources`` (relative path -> file) under ``out``."""
    for rel, src in sorted(sources.items()):
        dest = out / _fill(rel, values)[: -len(".tmpl")]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(_fill(src.read_text("utf-8"), values), "utf-8")


def _templates(root: Path) -> dict[str, Path]:
    return {str(src.relative_to(root)): src for src in root.rglob("*.tmpl")}


def new_addon(name: str, path: str | Path = ".", title: str | None = None,
              version: str = "0.1.0") -> Path:
    """Create ``<path>/banyan-addon-<name>/`` (a partner distribution) and return that folder.

    Raises ``AddonError`` for a bad name or an existing folder."""
    _check_name(name)
    pkg = f"banyan_addon_{name}"
    out = Path(path) / f"banyan-addon-{name.replace('_', '-')}"
    if out.exists():
        raise AddonError(f"{out} already exists")
    values = _values(name, pkg, pkg, title, version)
    _render(_templates(TEMPLATE), out, values)
    _compile_catalogs(out / pkg)
    return out


def add_entry_point(setup_cfg: Path, name: str, target: str) -> None:
    """Add ``name = target`` at the end of the ``banyan.addons =`` block of ``setup_cfg``,
    editing the text in place (comments, order and the other entries are kept as they are).

    Raises ``AddonError`` when the block is missing or already declares ``name``."""
    lines = setup_cfg.read_text("utf-8").splitlines(keepends=True)
    try:
        head = next(i for i, line in enumerate(lines) if line.strip() == ENTRY_GROUP)
    except StopIteration:
        raise AddonError(f"{setup_cfg} has no '{ENTRY_GROUP}' entry-point block") from None
    end = head + 1
    indent = "    "
    while end < len(lines) and lines[end].strip() and lines[end][:1] in (" ", "\t"):
        entry = lines[end].strip()
        indent = lines[end][: len(lines[end]) - len(lines[end].lstrip())]
        if entry.split("=")[0].strip() == name:
            raise AddonError(f"{setup_cfg} already declares the addon {name!r}: {entry}")
        end += 1
    newline = "\r\n" if lines[head].endswith("\r\n") else "\n"
    lines.insert(end, f"{indent}{name} = {target}{newline}")
    setup_cfg.write_text("".join(lines), "utf-8")


def new_builtin_addon(name: str, repo: str | Path = ".", title: str | None = None,
                      version: str = "0.1.0") -> Path:
    """Create ``<repo>/addons/<name>/`` with the built-in layout, declare its entry point in
    ``<repo>/setup.cfg`` and write ``<repo>/docs/addons/<name>.md``; return the package folder.

    ``repo`` is Banyan's source tree (it holds ``setup.cfg`` and ``addons/__init__.py``).
    Raises ``AddonError`` for a bad name, a folder that is not the source tree, or an addon,
    page or entry point that already exists (then nothing is written)."""
    _check_name(name)
    repo = Path(repo)
    setup_cfg = repo / "setup.cfg"
    if not setup_cfg.is_file() or not (repo / "addons" / "__init__.py").is_file():
        raise AddonError(f"{repo} is not Banyan's source tree (no setup.cfg and addons/__init__.py)")
    out = repo / "addons" / name
    page = repo / "docs" / "addons" / f"{name}.md"
    for existing in (out, page):
        if existing.exists():
            raise AddonError(f"{existing} already exists")
    text = setup_cfg.read_text("utf-8")
    if f"= addons.{name}\n" in text.replace("\r\n", "\n"):
        raise AddonError(f"{setup_cfg} already declares addons.{name}")
    values = _values(name, name, f"addons.{name}", title, version)
    prefix = "{{pkg}}/"
    sources = {rel[len(prefix):]: src for rel, src in _templates(TEMPLATE).items() if rel.startswith(prefix)}
    sources.update(_templates(BUILTIN / "package"))
    add_entry_point(setup_cfg, name, f"addons.{name}")  # first: it refuses a duplicate name
    _render(sources, out, values)
    _compile_catalogs(out)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(_fill((BUILTIN / "operator.md.tmpl").read_text("utf-8"), values), "utf-8")
    return out
