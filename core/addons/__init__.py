"""The addon platform: manifests, discovery, dependency graph, install state, loading."""
from core.addons.manifest import AddonManifest, read_manifest
from core.addons.discovery import AddonInfo, discover

__all__ = ["AddonManifest", "read_manifest", "AddonInfo", "discover"]
