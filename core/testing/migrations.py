"""Load one migration script as a module, for a test of its data mapping (a migration that
turns stored sentences into codes, fills a new column...)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_migration(owner: str, pattern: str) -> ModuleType:
    """The migration of ``owner`` (``"core"`` or an addon's name: ``"campaign"``) whose file
    name matches ``pattern`` (a glob in its ``migrations/versions``, e.g.
    ``"*_campaign_recipient_reason_codes.py"`` or ``"*_4296eb4f0202_*.py"``), imported as a
    module of its own. ``FileNotFoundError`` when no file matches."""
    base = ROOT / "core" if owner == "core" else ROOT / "addons" / owner
    found = sorted((base / "migrations" / "versions").glob(pattern))
    if not found:
        raise FileNotFoundError(f"no migration of {owner} matches {pattern!r}")
    spec = importlib.util.spec_from_file_location(f"banyan_migration_{owner}_{found[0].stem}", found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
