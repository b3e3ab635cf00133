"""Dependency resolution: topological order with one-line errors naming the addons."""
from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from core.errors import AddonError


def check_versions(available: dict, core_version: str) -> None:
    for info in available.values():
        m = info.manifest
        if Version(core_version) not in SpecifierSet(m.requires_core):
            raise AddonError(f"addon {m.name} {m.version} requires the kernel {m.requires_core}, "
                             f"but the kernel is {core_version}")


def closure(names, available: dict) -> list[str]:
    """``names`` plus everything they depend on, in install order (dependencies first)."""
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in wanted:
            continue
        if name not in available:
            raise AddonError(f"addon {name!r} is not available (installed distributions provide: "
                             f"{', '.join(sorted(available)) or 'none'})")
        wanted.add(name)
        for dep, spec in available[name].manifest.depends_specs.items():
            if dep not in available:
                raise AddonError(f"addon {name} depends on {dep}, which is not available")
            if spec and Version(available[dep].manifest.version) not in SpecifierSet(spec):
                raise AddonError(f"addon {name} needs {dep}{spec}, but {dep} is "
                                 f"{available[dep].manifest.version}")
            stack.append(dep)
    return toposort(wanted, available)


def toposort(names, available: dict) -> list[str]:
    """Order ``names`` so every addon comes after its (optional) dependencies among them."""
    names = set(names)
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise AddonError("dependency cycle between addons: " + " -> ".join(cycle))
        state[name] = 1
        m = available[name].manifest
        for dep in sorted(set(m.dependency_names) | (set(m.optional_depends) & names)):
            if dep not in available:
                raise AddonError(f"addon {name} depends on {dep}, which is not available")
            if dep in names or dep in m.dependency_names:
                if dep not in names:
                    raise AddonError(f"addon {name} depends on {dep}, which is not installed")
                visit(dep, path + [name])
        state[name] = 2
        order.append(name)

    for name in sorted(names):
        visit(name, [])
    return order


def dependents(name: str, installed, available: dict) -> list[str]:
    """Installed addons that depend (directly or not) on ``name``."""
    out = []
    for other in installed:
        if other == name or other not in available:
            continue
        if name in closure([other], available)[:-1]:
            out.append(other)
    return sorted(out)
