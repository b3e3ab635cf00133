"""The seven built-in addons installed together (issue 18, last proof): ``banyan demo`` then
``banyan check`` through the CLI (click's CliRunner) on a fresh database, a SQLite file or a
new PostgreSQL database with ``--db-url`` (the kernel's ``cli_env`` fixture, as
``test_cli_ops.py``). The demo's data of every addon must be there, including what the addons
posted while the demo rang up its sales, and the check must find no breach."""
from sqlalchemy import create_engine, text

SEVEN = ("membership", "loyalty", "franchise", "commissions", "spare_parts", "call_center", "campaign")


#: per addon, (what, SQL count, least expected): the demo's own rows, and the rows the addon
#: wrote while the kernel's demo rang up its sales (``on_sale_confirmed`` / ``refunded``)
EXPECTED = {
    "membership": [
        ("members", "SELECT count(*) FROM membership_member", 10),
        ("member price list", "SELECT count(*) FROM core_price_list WHERE kind = 'member'", 1),
        ("tier-ledger entries of demo sales", "SELECT count(*) FROM membership_tier_entry", 20),
    ],
    "loyalty": [
        ("earning rules", "SELECT count(*) FROM loyalty_earning_rule", 1),
        ("points entries of demo sales", "SELECT count(*) FROM loyalty_entry WHERE sale_id IS NOT NULL", 20),
        ("promotion uses", "SELECT count(*) FROM loyalty_promotion_use", 1),
    ],
    "franchise": [
        ("active contracts", "SELECT count(*) FROM franchise_contract WHERE state = 'active'", 1),
        ("contract stores", "SELECT count(*) FROM franchise_contract_store", 1),
        ("receivables", "SELECT count(*) FROM franchise_receivable", 1),
        ("inspections", "SELECT count(*) FROM franchise_inspection", 6),
        ("royalty statements", "SELECT count(*) FROM franchise_statement", 1),
    ],
    "commissions": [
        ("plans", "SELECT count(*) FROM commissions_plan", 3),
        ("sales with commission lines",
         "SELECT count(DISTINCT sale_id) FROM commissions_line WHERE kind = 'sale'", 20),
    ],
    "spare_parts": [
        ("parts", "SELECT count(*) FROM spare_parts_part", 10),
        ("work orders", "SELECT count(*) FROM spare_parts_work_order", 4),
        ("registered items", "SELECT count(*) FROM spare_parts_warranty", 6),
        ("stock moves", "SELECT count(*) FROM spare_parts_move", 10),
    ],
    "call_center": [
        ("tickets", "SELECT count(*) FROM call_center_ticket", 3),
        ("published articles", "SELECT count(*) FROM call_center_article WHERE status = 'published'", 6),
        ("SLA policies", "SELECT count(*) FROM call_center_sla_policy", 4),
    ],
    "campaign": [
        ("templates", "SELECT count(*) FROM campaign_template", 2),
        ("segments", "SELECT count(*) FROM campaign_segment", 4),
        ("the demo plan", "SELECT count(*) FROM campaign_plan WHERE code = 'BDAY-DEMO'", 1),
        ("incomes", "SELECT count(*) FROM campaign_income", 10),
    ],
}


def test_demo_then_check_with_all_seven_addons(cli_env):
    demo = cli_env.run("demo", "--addons", ",".join(SEVEN), "--scale", "0.3", "--months", "2", "--seed", "5",
               "--quiet")
    assert demo.exit_code == 0, demo.output
    assert "demo ready" in demo.output and "refused by addons" not in demo.output
    # every login the demo makes is named, those an addon makes too (the technician's)
    named = demo.output.split("other demo users (", 1)[1].split(")", 1)[0].split(", ")
    assert {"cashier_sh01", "east_manager", "tech_sh01", "parts_keeper", "service_hq"} <= set(named), named

    engine = create_engine(cli_env.url)
    try:
        with engine.connect() as c:
            installed = set(c.execute(text("SELECT name FROM core_addon WHERE state = 'installed'")).scalars())
            sales = c.execute(text("SELECT count(*) FROM core_sale WHERE kind = 'sale'")).scalar()
            found = {addon: [(what, c.execute(text(sql)).scalar(), least) for what, sql, least in checks]
                     for addon, checks in EXPECTED.items()}
    finally:
        engine.dispose()
    assert set(SEVEN) <= installed
    assert sales > 100
    missing = [f"{addon}: {what} = {n} (expected at least {least})"
               for addon, rows in found.items() for what, n, least in rows if n < least]
    assert not missing, missing

    check = cli_env.run("check")
    assert check.exit_code == 0, check.output
    assert "all checks passed" in check.output and "BREACH" not in check.output
