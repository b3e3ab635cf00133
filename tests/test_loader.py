"""The loader refuses broken addon sets with one clear line naming the addons."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent / "fixtures_addons"))

from fxtools import fabricate, info  # noqa: E402

from core.addons import discovery  # noqa: E402
from core.addons.graph import closure  # noqa: E402
from core.addons.manifest import parse_manifest  # noqa: E402
from core.errors import AddonError  # noqa: E402
from core.plugins import build_registry  # noqa: E402


def _one_line(exc) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_missing_dependency_names_both_addons():
    available = {"a": fabricate("a", depends=["ghost"])}
    with pytest.raises(AddonError) as exc:
        closure(["a"], available)
    msg = _one_line(exc)
    assert "a" in msg and "ghost" in msg and "not available" in msg


def test_missing_dependency_in_installed_set():
    available = {"fxbase": info("fx_base"), "fxchild": info("fx_child")}
    with pytest.raises(AddonError) as exc:
        build_registry(["fxchild"], available=available, only=[])
    msg = _one_line(exc)
    assert "fxchild" in msg and "fxbase" in msg


def test_cycle_lists_the_path():
    available = {"a": fabricate("a", depends=["b"]), "b": fabricate("b", depends=["c"]),
                 "c": fabricate("c", depends=["a"])}
    with pytest.raises(AddonError) as exc:
        closure(["a"], available)
    msg = _one_line(exc)
    assert "cycle" in msg and "a -> b -> c -> a" in msg


def test_dependency_version_mismatch():
    available = {"a": fabricate("a", depends=["b>=2"]), "b": fabricate("b", version="1.5.0")}
    with pytest.raises(AddonError) as exc:
        closure(["a"], available)
    msg = _one_line(exc)
    assert "a needs b>=2" in msg and "1.5.0" in msg


def test_incompatible_kernel_version():
    available = {"old": fabricate("old", requires_core=">=5,<6")}
    with pytest.raises(AddonError) as exc:
        build_registry(["old"], available=available, only=[])
    msg = _one_line(exc)
    assert "old" in msg and ">=5,<6" in msg and "kernel" in msg


def test_bad_manifest_key_is_named():
    text = repr({"name": "x", "title": "X", "version": "1.0", "summary": "s", "category": "c",
                 "depends": [], "requires_core": ">=0.1", "license": "MIT", "colour": "red"})
    with pytest.raises(AddonError) as exc:
        parse_manifest(text, "banyan_addon_x/__manifest__.py")
    msg = _one_line(exc)
    assert "colour" in msg and "banyan_addon_x" in msg


@pytest.mark.parametrize("patch, needle", [
    ({"name": "Bad-Name"}, "must match"),
    ({"version": "one"}, "not a version"),
    ({"requires_core": "~~1"}, "not a specifier"),
    ({"post_install": "nocolon"}, "module:function"),
])
def test_bad_manifest_values(patch, needle):
    data = {"name": "x", "title": "X", "version": "1.0", "summary": "s", "category": "c",
            "depends": [], "requires_core": ">=0.1", "license": "MIT"}
    data.update(patch)
    with pytest.raises(AddonError) as exc:
        parse_manifest(repr(data), "x/__manifest__.py")
    assert needle in _one_line(exc)


def test_missing_manifest_key():
    with pytest.raises(AddonError) as exc:
        parse_manifest(repr({"name": "x"}), "x/__manifest__.py")
    assert "lacks required key(s)" in _one_line(exc) and "version" in str(exc.value)


def test_duplicate_name_names_both_distributions(monkeypatch):
    def ep(name, value, dist):
        return SimpleNamespace(name=name, value=value, dist=SimpleNamespace(name=dist))

    fake = [ep("fxbase", "fx_base", "banyan-addon-fxbase"), ep("fxbase", "fx_child", "acme-fxbase")]
    monkeypatch.setattr(discovery, "entry_points", lambda group: fake)
    with pytest.raises(AddonError) as exc:
        discovery.discover()
    msg = _one_line(exc)
    assert "duplicate addon name 'fxbase'" in msg
    assert "banyan-addon-fxbase" in msg and "acme-fxbase" in msg


def test_entry_point_name_must_match_manifest(monkeypatch):
    fake = [SimpleNamespace(name="other", value="fx_base", dist=SimpleNamespace(name="d"))]
    monkeypatch.setattr(discovery, "entry_points", lambda group: fake)
    with pytest.raises(AddonError) as exc:
        discovery.discover()
    assert "'other'" in _one_line(exc) and "fxbase" in str(exc.value)


def test_confirm_without_refund_is_refused():
    available = {"fxbadsym": info("fx_badsym")}
    with pytest.raises(AddonError) as exc:
        build_registry(["fxbadsym"], available=available, only=[])
    msg = _one_line(exc)
    assert "fxbadsym" in msg and "on_sale_refunded" in msg


def test_good_set_loads_in_dependency_order():
    available = {"fxbase": info("fx_base"), "fxchild": info("fx_child")}
    reg = build_registry(["fxchild", "fxbase"], available=available, only=[])
    assert reg.names == ["fxbase", "fxchild"]
    assert [t.name for t in reg.tables(["fxchild"])] == ["fxchild_link"]
    assert reg.pm.get_plugin("fxchild") is not None
