"""Find available addons through the ``banyan.addons`` entry-point group.

Built-in addons are declared in our own setup.cfg under the same group, so there is one
code path for ours and partners'. Nothing is imported here but the manifests' text.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from core.addons.manifest import AddonManifest, read_manifest
from core.errors import AddonError

GROUP = "banyan.addons"


@dataclass(frozen=True)
class AddonInfo:
    name: str
    package: str
    distribution: str
    manifest: AddonManifest


def discover() -> dict[str, AddonInfo]:
    found: dict[str, AddonInfo] = {}
    for ep in entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist else "?"
        if ep.name in found:
            if found[ep.name].package == ep.value:
                continue  # same package seen twice (editable + egg-info): harmless
            raise AddonError(f"duplicate addon name {ep.name!r}: provided by {found[ep.name].distribution} "
                             f"({found[ep.name].package}) and {dist} ({ep.value})")
        manifest = read_manifest(ep.value)
        if manifest.name != ep.name:
            raise AddonError(f"addon entry point {ep.name!r} of {dist} points at a manifest named {manifest.name!r}")
        found[ep.name] = AddonInfo(ep.name, ep.value, dist, manifest)
    return found
