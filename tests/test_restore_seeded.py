"""The documented path ``banyan init`` then ``banyan db restore dump.jsonl``: rows that init
and install write by themselves (roles, settings singletons, post_install steps) are not
business data, so they do not block the restore and are replaced by the dump's exactly;
real data (or an operator's edit of a seeded row) still blocks it without ``--force``."""
from __future__ import annotations

import io
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "fixtures_addons"))

from fxtools import across_dialects, fresh_runtime  # noqa: E402

from core.addons.installer import install, installed_versions  # noqa: E402
from core.errors import AddonError  # noqa: E402
from core.migrations.dump import dump, restore, table_counts  # noqa: E402

ADDONS = ["membership", "loyalty"]


def _fill(rt) -> int:
    """Membership and loyalty installed, a member with stored value, points and a refund,
    and the seeded settings rows changed (so a stale seed would show after the restore)."""
    from addons.loyalty import services as loyalty
    from addons.loyalty.models import EarningRule
    from addons.membership import services as membership
    from core.services.refund import refund
    from core.testing.factories import Factories

    install(rt, ADDONS)
    with rt.session() as s:
        make = Factories(s)
        store = make.store()
        c = make.customer(name="王芳 restore")
        membership.set_policy(s, card_prefix="66", large_adjust_threshold="800.00")
        loyalty.policy(s).rebate_min_points = 7
        s.add(EarningRule(code="BASE", name="1 per yuan", kind="base", points_per_unit=Decimal("1")))
        membership.enrol(s, c.id, store_id=store.id, card_number="CARD-R001")
        membership.topup(s, c.id, "300", store.id)
        p = make.product(price="45.60")
        sale = make.sale(store=store, products=[p], customer=c, qty="3")
        make.sale(store=store, products=[p], customer=c, qty="1")
        refund(s, sale.id)
        loyalty.adjust(s, c.id, 25, note="restore test")
        s.commit()
        return c.id


def _figures(rt, cid) -> dict:
    from addons.loyalty import services as loyalty
    from addons.membership import services as membership
    from core.services.check import run_checks

    addons = installed_versions(rt)
    with rt.session() as s:
        pol = membership.get_policy(s)
        return {"points": loyalty.balance(s, cid), "sv": membership.stored_value_balance(s, cid),
                "tier_spend": membership.tier_spend_total(s, cid),
                "policy": (pol.card_prefix, pol.large_adjust_threshold),
                "rebate_min": loyalty.policy(s).rebate_min_points,
                "addons": addons, "check": [b.check for b in run_checks(s)]}


def _init_then_restore(src, dst):
    cid = _fill(src)
    expected = _figures(src, cid)
    assert expected["points"] == 45 + 25 and expected["sv"] == Decimal("300.00") and expected["check"] == []
    buf = io.StringIO()
    dump(src, buf)
    buf.seek(0)
    restore(dst, buf)  # dst only ran init (+ maybe install): its seeded rows do not block
    assert table_counts(dst) == table_counts(src)
    assert _figures(dst, cid) == expected


def test_init_then_restore_replaces_seeded_rows(banyan_databases):
    src, dst, dst2 = (fresh_runtime(banyan_databases) for _ in range(3))
    try:
        _init_then_restore(src, dst)
        install(dst2, ["membership"])  # install seeded membership_policy before the restore
        buf = io.StringIO()
        dump(src, buf)
        buf.seek(0)
        restore(dst2, buf)
        assert table_counts(dst2) == table_counts(src)
    finally:
        for rt in (src, dst, dst2):
            rt.dispose()


def test_init_then_restore_across_dialects(banyan_databases, tmp_path):
    with across_dialects(banyan_databases, tmp_path) as pairs:
        for src, dst in pairs:
            _init_then_restore(src, dst)


def test_business_data_or_an_edited_seed_still_blocks_restore(banyan_databases):
    from addons.membership import services as membership
    from core.testing.factories import Factories

    src, dst, busy = (fresh_runtime(banyan_databases) for _ in range(3))
    try:
        cid = _fill(src)
        buf = io.StringIO()
        dump(src, buf)
        # an operator's edit of a seeded settings row is data: refused, named
        install(dst, ["membership"])
        with dst.session() as s:
            membership.set_policy(s, card_prefix="77")
            s.commit()
        buf.seek(0)
        with pytest.raises(AddonError, match="membership_policy"):
            restore(dst, buf)
        buf.seek(0)
        restore(dst, buf, force=True)  # --force replaces it exactly
        assert _figures(dst, cid) == _figures(src, cid)
        # a real business row blocks it too
        with busy.session() as s:
            Factories(s).customer(name="already here")
            s.commit()
        buf.seek(0)
        with pytest.raises(AddonError, match="core_customer"):
            restore(busy, buf)
    finally:
        for rt in (src, dst, busy):
            rt.dispose()


def test_cli_init_then_restore(tmp_path, monkeypatch):
    from core.cli import main
    from core.config import load_config
    from core.runtime import Runtime

    src, dst, out = tmp_path / "src.sqlite", tmp_path / "dst.sqlite", tmp_path / "dump.jsonl"
    runner = CliRunner()
    monkeypatch.setenv("BANYAN_DATABASE_URL", f"sqlite:///{src}")
    assert runner.invoke(main, ["init"]).exit_code == 0
    rt = Runtime.from_config(load_config())
    cid = _fill(rt)
    expected = _figures(rt, cid)
    rt.dispose()
    r = runner.invoke(main, ["db", "dump", str(out)])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("BANYAN_DATABASE_URL", f"sqlite:///{dst}")
    r = runner.invoke(main, ["init"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["db", "restore", str(out)])
    assert r.exit_code == 0, r.output
    rt = Runtime.from_config(load_config())
    try:
        assert _figures(rt, cid) == expected
    finally:
        rt.dispose()
    r = runner.invoke(main, ["db", "restore", str(out)])  # now it holds business data
    assert r.exit_code != 0 and "hold rows" in r.output
