"""The addon import contract, checked statically (no addon code runs but ``services``).

An addon reaches another addon only through that addon's ``services`` module (and only the
names its ``__all__`` lists) or its ``hookspecs`` module. Everything else (models, admin, the
modules behind ``services``, private helpers) may change without notice, so importing it
couples two addons that are installed, upgraded and uninstalled apart.

:func:`scan_addon` parses every ``.py`` file of an addon's package (its tests included) and
reports, as :class:`Violation`:

* ``import addons.X.M`` / ``from addons.X.M import ...`` / ``from addons.X import M`` /
  ``import banyan_addon_x.M`` (and ``importlib.import_module("addons.X.M")`` with a literal
  name), for another addon X, where ``M`` is not ``services`` or ``hookspecs`` (the package
  ``addons.X`` itself counts as "not services");
* a name taken from another addon's ``services`` that its ``__all__`` does not list:
  ``from addons.X.services import name``, and ``alias.name`` where ``alias`` was bound to
  that services module in the same file (``from addons.X import services as alias``,
  ``import addons.X.services as alias``). The alias is tracked per file, not per scope: a
  local variable that shadows it is read as the module.

:func:`services_problems` checks one addon's own ``services``: it declares ``__all__``,
every listed name exists, and every listed function or class has a docstring.

Used by ``core.testing.checks.AddonChecks`` (every addon, partner addons included) and by
``tests/test_addon_contract.py`` (every discovered addon at once).
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path

#: the modules of another addon an addon may import
ALLOWED_MODULES = ("services", "hookspecs")


@dataclass(frozen=True)
class Violation:
    """One import that breaks the contract: ``path:line`` of the importing file, the addon
    imported from, and what is wrong."""

    addon: str
    path: str
    line: int
    target: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _discovered() -> dict:
    from core.addons.discovery import discover

    return discover()


def addon_packages(available: dict | None = None) -> dict[str, str]:
    """``{package: addon name}`` of the discovered addons (``addons.loyalty`` -> ``loyalty``)."""
    available = _discovered() if available is None else available
    return {info.package: name for name, info in available.items()}


def owner_of(module: str, packages: dict[str, str]) -> tuple[str, str] | None:
    """``(addon, rest)`` when ``module`` lies in an addon's package (``rest`` is the dotted
    path inside it, "" for the package itself), else None. Modules named ``addons.<x>...``
    or ``banyan_addon_<x>...`` belong to addon ``x`` even when it is not installed here."""
    for pkg, name in packages.items():
        if module == pkg or module.startswith(pkg + "."):
            return name, module[len(pkg) + 1:]
    parts = module.split(".")
    if parts[0] == "addons" and len(parts) > 1:
        return parts[1], ".".join(parts[2:])
    if parts[0].startswith("banyan_addon_") and len(parts[0]) > len("banyan_addon_"):
        return parts[0][len("banyan_addon_"):], ".".join(parts[1:])
    return None


def services_api(package: str) -> frozenset[str] | None:
    """The names ``<package>.services.__all__`` lists; None when the module has no
    ``__all__`` or cannot be imported (the addon is not installed here)."""
    try:
        mod = importlib.import_module(f"{package}.services")
    except ImportError:
        return None
    names = getattr(mod, "__all__", None)
    return frozenset(names) if names is not None else None


def _dotted(node) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _resolve(module: str | None, level: int, here: str, is_package: bool) -> str:
    """The absolute module of ``from <level dots><module> import`` written in module ``here``."""
    if not level:
        return module or ""
    parts = here.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([module] if module else []))


def scan_source(text: str, path: str, module: str, addon: str, packages: dict[str, str],
                api=None, is_package: bool = False) -> list[Violation]:
    """The contract violations in one file: ``text`` is the source of module ``module`` of
    ``addon``; ``api(addon_name)`` gives another addon's services ``__all__`` (a set, or
    None when unknown: then names are not checked); ``packages`` as :func:`addon_packages`."""
    tree = ast.parse(text, filename=path)
    out: list[Violation] = []
    aliases: dict[str, str] = {}  # name bound to another addon's services -> that addon
    pkg_of = {name: pkg for pkg, name in packages.items()}

    def public(other):
        if api is not None:
            return api(other)
        pkg = pkg_of.get(other)
        return services_api(pkg) if pkg else None

    def other_addon(target: str):
        found = owner_of(target, packages)
        if found is None or found[0] == addon:
            return None
        return found

    def check_module(node, target: str) -> tuple[str, str] | None:
        found = other_addon(target)
        if found is None:
            return None
        other, rest = found
        head = rest.split(".")[0] if rest else ""
        if head not in ALLOWED_MODULES or (head and rest != head):
            what = f"its module {rest}" if rest else "its package"
            out.append(Violation(other, path, node.lineno, target,
                                 f"{addon} imports {target} ({what}) of addon {other}: use "
                                 f"{other}'s services (names in its __all__) or hookspecs"))
            return None
        return other, head

    def check_name(node, other: str, name: str) -> None:
        names = public(other)
        if names is not None and name not in names:
            out.append(Violation(other, path, node.lineno, f"{other}.services.{name}",
                                 f"{addon} uses {name} from {other}.services, which its __all__ does "
                                 f"not list (not part of {other}'s public API)"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                hit = check_module(node, alias.name)
                if hit and hit[1] == "services":
                    aliases[alias.asname or alias.name] = hit[0]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, module, is_package)
            found = other_addon(base)
            if found is None:  # from addons import X: X is the package of another addon
                for alias in node.names:
                    if owner_of(base, packages) is None and other_addon(f"{base}.{alias.name}"):
                        check_module(node, f"{base}.{alias.name}")
                continue
            other, rest = found
            if rest:  # from addons.X.M import names
                hit = check_module(node, base)
                if hit and hit[1] == "services":
                    for alias in node.names:
                        if alias.name != "*":
                            check_name(node, other, alias.name)
            else:  # from addons.X import M, ...: each name is a module of X
                for alias in node.names:
                    hit = check_module(node, f"{base}.{alias.name}")
                    if hit and hit[1] == "services":
                        aliases[alias.asname or alias.name] = hit[0]
        elif isinstance(node, ast.Call) and (_dotted(node.func) or "").split(".")[-1] == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                check_module(node, node.args[0].value)
    if aliases:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                base = _dotted(node.value)
                if base in aliases:
                    check_name(node, aliases[base], node.attr)
    return sorted(out, key=lambda v: (v.path, v.line, v.message))


def package_folder(package: str) -> Path:
    """The folder of an importable package (found without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"package {package} not found")
    return Path(list(spec.submodule_search_locations)[0])


def scan_addon(addon: str, available: dict | None = None, api=None) -> list[Violation]:
    """Every contract violation in ``addon``'s package (all its ``.py`` files, tests too)."""
    available = _discovered() if available is None else available
    packages = addon_packages(available)
    package = available[addon].package
    root = package_folder(package)
    out: list[Violation] = []
    for file in sorted(root.rglob("*.py")):
        if "__pycache__" in file.parts:
            continue
        rel = file.relative_to(root).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        module = ".".join([package, *parts])
        out.extend(scan_source(file.read_text("utf-8"), str(file), module, addon, packages, api=api,
                               is_package=file.name == "__init__.py"))
    return out


def services_problems(package: str) -> list[str]:
    """What is wrong with ``<package>.services`` as a public API: no ``__all__``, a listed
    name that does not exist, a listed function or class without a docstring. An addon
    without a services module has nothing to check (empty list)."""
    if importlib.util.find_spec(f"{package}.services") is None:
        return []
    mod = importlib.import_module(f"{package}.services")
    names = getattr(mod, "__all__", None)
    if names is None:
        return [f"{package}.services declares no __all__ (list its public API)"]
    out = []
    if len(set(names)) != len(names):
        out.append(f"{package}.services.__all__ names something twice")
    for name in names:
        if not hasattr(mod, name):
            out.append(f"{package}.services.__all__ lists {name!r}, which the module does not define")
            continue
        obj = getattr(mod, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and not (inspect.getdoc(obj) or "").strip():
            out.append(f"{package}.services.{name} has no docstring (give its shapes, units and errors)")
    return out
