"""``__manifest__.py``: one dict literal read with ``ast.literal_eval`` (the addon is not
imported), validated into a frozen :class:`AddonManifest`."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from core.errors import AddonError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
REQUIRED = ("name", "title", "version", "summary", "category", "depends", "requires_core", "license")
OPTIONAL = ("description", "optional_depends", "auto_install", "application", "installable",
            "author", "website", "post_install", "pre_uninstall", "demo")


@dataclass(frozen=True)
class AddonManifest:
    name: str
    title: str
    version: str
    summary: str
    category: str
    depends: tuple[str, ...]
    requires_core: str
    license: str
    description: str = ""
    optional_depends: tuple[str, ...] = ()
    auto_install: bool | tuple[str, ...] = False
    application: bool = False
    installable: bool = True
    author: str = ""
    website: str = ""
    post_install: str | None = None
    pre_uninstall: str | None = None
    demo: bool = False
    depends_specs: dict = field(default_factory=dict, compare=False)

    @property
    def dependency_names(self) -> tuple[str, ...]:
        return tuple(self.depends_specs)


def parse_manifest(text: str, origin: str) -> AddonManifest:
    try:
        data = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise AddonError(f"{origin}: manifest is not a dict literal ({exc})") from None
    if not isinstance(data, dict):
        raise AddonError(f"{origin}: manifest must be a dict literal")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise AddonError(f"{origin}: unknown manifest key(s): {', '.join(unknown)}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise AddonError(f"{origin}: manifest lacks required key(s): {', '.join(missing)}")
    name = data["name"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise AddonError(f"{origin}: addon name {name!r} must match [a-z][a-z0-9_]*")
    try:
        Version(data["version"])
    except (InvalidVersion, TypeError):
        raise AddonError(f"{origin}: addon {name}: version {data['version']!r} is not a version") from None
    try:
        SpecifierSet(data["requires_core"])
    except InvalidSpecifier:
        raise AddonError(f"{origin}: addon {name}: requires_core {data['requires_core']!r} is not a specifier") from None
    specs = {}
    for dep in data["depends"]:
        try:
            req = Requirement(dep)
        except InvalidRequirement:
            raise AddonError(f"{origin}: addon {name}: bad dependency {dep!r}") from None
        specs[req.name] = str(req.specifier)
    auto = data.get("auto_install", False)
    if isinstance(auto, list):
        auto = tuple(auto)
    for key in ("post_install", "pre_uninstall"):
        val = data.get(key)
        if val is not None and (not isinstance(val, str) or ":" not in val):
            raise AddonError(f"{origin}: addon {name}: {key} must be 'module:function'")
    return AddonManifest(
        name=name, title=data["title"], version=data["version"], summary=data["summary"],
        category=data["category"], depends=tuple(data["depends"]),
        requires_core=data["requires_core"], license=data["license"],
        description=data.get("description", ""),
        optional_depends=tuple(data.get("optional_depends", ())), auto_install=auto,
        application=bool(data.get("application", False)),
        installable=bool(data.get("installable", True)), author=data.get("author", ""),
        website=data.get("website", ""), post_install=data.get("post_install"),
        pre_uninstall=data.get("pre_uninstall"), demo=bool(data.get("demo", False)),
        depends_specs=specs,
    )


def read_manifest(package: str) -> AddonManifest:
    """Read ``<package>/__manifest__.py`` without importing the package."""
    from importlib.resources import files
    from importlib.util import find_spec

    spec = find_spec(package)
    if spec is None:
        raise AddonError(f"addon package {package!r} is not importable")
    try:
        text = files(package).joinpath("__manifest__.py").read_text("utf-8")
    except FileNotFoundError:
        raise AddonError(f"addon package {package!r} has no __manifest__.py") from None
    return parse_manifest(text, f"{package}/__manifest__.py")
