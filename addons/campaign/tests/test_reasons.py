"""Why a recipient was not messaged is stored as a code (``Recipient.reason``,
``RECIPIENT_REASON``) and shown as its label in the reader's language: the back office list
and its exports, the API (``reason`` plus ``reason_label``), the results page and the audit
trail (``why`` codes of the bulk statements). Rows written before (English text in
``error``) are mapped to codes by the migration."""
from __future__ import annotations


import pytest
from sqlalchemy import insert, select, update

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.db import transaction
from core.i18n import force_locale
from core.models import AuditLog, Customer

from addons.campaign import sending
from addons.campaign import services as svc
from addons.campaign.models import CHANGE_WHY, RECIPIENT_REASON, RECIPIENT_STATE, Plan, Recipient

from .conftest import make_plan
from core.testing.migrations import load_migration

pytestmark = pytest.mark.addons("campaign")


@pytest.fixture(autouse=True)
def _done_after(rt):
    """The plans of these tests end with them: nothing of theirs is left queued for the next
    test's sender (the data is committed)."""
    yield
    with rt.session() as s, transaction(s):
        mine = select(Plan.id).where(Plan.code.like("WHY%"))
        s.execute(update(Recipient).where(Recipient.plan_id.in_(mine), Recipient.state == "queued")
                  .values(state="skipped", reason="plan_ended"))
        s.execute(update(Plan).where(Plan.code.like("WHY%")).values(state="done"))


def _plan_with_reasons(rt, chain, code):
    """An email plan over ``chain``: c0 has no address, c1 opted out of the list, c8 and c9
    gave no email consent; the others are queued."""
    c = chain["customers"]
    with rt.session() as s, transaction(s):
        s.execute(update(Customer).where(Customer.id == c[0]).values(email=None))
        svc.opt_out(s, c[1], "email", "news")
    return make_plan(rt, chain, code=code, channel="email")


def _reasons(rt, pid) -> dict[int, tuple]:
    with rt.session() as s:
        return {cid: (st, why, err) for cid, st, why, err in s.execute(
            select(Recipient.customer_id, Recipient.state, Recipient.reason, Recipient.error)
            .where(Recipient.plan_id == pid))}


def test_the_snapshot_stores_each_skipped_recipients_reason_as_a_code(rt, chain):
    pid = _plan_with_reasons(rt, chain, "WHY1")
    c = chain["customers"]
    got = _reasons(rt, pid)
    assert got[c[0]] == ("skipped", "no_address", None)
    assert got[c[1]] == ("skipped", "opted_out", None)
    assert got[c[8]] == got[c[9]] == ("skipped", "no_consent", None)
    assert {got[i] for i in c[2:8]} == {("queued", None, None)}
    assert set(RECIPIENT_REASON.codes) >= {why for _st, why, _e in got.values() if why}
    with rt.session() as s:
        r = svc.results(s, s.get(Plan, pid))
    assert r["not_messaged"] == {"no_address": 1, "opted_out": 1, "no_consent": 2}


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_api_answers_the_code_and_its_label_in_the_users_language(api, rt, chain, make, session, lang):
    pid = _plan_with_reasons(rt, chain, f"WHY2{lang[:2].upper()}")
    hq = make.user(roles=("hq_admin",), locale=lang)
    session.commit()
    r = api.get(f"/api/v1/campaign/plans/{pid}/recipients", user=hq, headers={"Accept-Language": lang})
    assert r.status_code == 200
    rows = {row["customer_id"]: row for row in r.json}
    row = rows[chain["customers"][8]]
    with force_locale(lang):
        want = str(RECIPIENT_REASON.label("no_consent")), str(RECIPIENT_STATE.label("skipped"))
    assert (row["reason"], row["reason_label"], row["state"], row["state_label"]) == (
        "no_consent", want[0], "skipped", want[1])
    if lang == "en":
        assert row["reason_label"] == "No consent on the channel"
    else:  # the state's label is in the catalog already: the answer is in the user's language
        assert row["state_label"] != "Skipped (no consent or address)"
    queued = rows[chain["customers"][2]]
    assert queued["reason"] is None and queued["reason_label"] == ""
    from core.api.testing import build_app

    app = build_app(rt)
    with app.app_context():
        spec = app.extensions["banyan_api"]["api"].spec.to_dict()
    props = spec["components"]["schemas"]["CampaignRecipientOut"]["properties"]
    assert "no_consent" in props["reason"]["enum"] and None in props["reason"]["enum"]
    assert "no_consent = No consent on the channel" in props["reason"]["description"]
    assert props["reason_label"]["type"] == "string"


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_back_office_list_and_export_show_the_label(admin_app, rt, chain, make, session, lang):
    pid = _plan_with_reasons(rt, chain, f"WHY3{lang[:2].upper()}")
    user = make.user(roles=("hq_admin",), locale=lang)
    session.commit()
    client = login(admin_app, user)
    with force_locale(lang):
        label = str(RECIPIENT_REASON.label("opted_out"))
    page = client.get(f"/admin/campaign_recipient/?flt0_0={pid}")
    assert page.status_code == 200
    assert label in page.get_data(as_text=True)
    csv = client.get(f"/admin/campaign_recipient/export/csv/?flt0_0={pid}").get_data(as_text=True)
    assert label in csv and ",opted_out," not in csv
    results = client.get(f"/admin/campaign_results/?plan_id={pid}").get_data(as_text=True)
    assert 'id="not-messaged"' in results and label in results


def test_send_time_reasons_and_the_audit_trail_are_codes(rt, chain, monkeypatch):
    """Reasons set while sending (a channel's refusal keeps its own answer beside the code);
    the bulk statements' audit rows carry ``why`` codes, shown by the audit trail as labels."""
    from core.defaults.admin import AuditLogView

    pid = make_plan(rt, chain, code="WHY4")   # outbox: every one queued
    c = chain["customers"]
    with rt.session() as s, transaction(s):
        svc.opt_out(s, c[3], "outbox", "news")
    sending.send_due(rt, plan_id=pid)
    got = _reasons(rt, pid)
    assert got[c[3]] == ("skipped", "opted_out", None)
    assert {got[i] for i in c[:10] if i != c[3]} == {("sent", None, None)}   # the segment: store 1
    with rt.session() as s:
        rows = s.execute(select(AuditLog).where(AuditLog.model == "campaign_recipient")).scalars().all()
        whys = {row.changes.get("why") for row in rows if isinstance(row.changes, dict)} - {None}
        assert whys and whys <= set(CHANGE_WHY.codes), whys
        view = AuditLogView.__new__(AuditLogView)
        view.session = s
        view.sees_sensitive = lambda: True   # the view's own text, without a request
        rechecked = next(row for row in rows if (row.changes or {}).get("why") == "rechecked")
        with force_locale("en"):
            lines = view.change_lines(rechecked)
    assert ("Why", "—", "No longer allowed at send time") in lines
    with pytest.raises(ValueError):
        from addons.campaign.bulk import update_recipients

        with rt.session() as s:
            update_recipients(s, update(Recipient).where(Recipient.id == -1).values(state="queued"), "because")


def _migration():
    return load_migration("campaign", "*_campaign_recipient_reason_codes.py")


def test_the_migration_maps_the_stored_english_texts_to_codes(rt, chain):
    """Rows written before the codes (English text in ``error``) get the code of their text
    and lose the text; a channel's own answer stays, with ``channel_error``; the way back
    writes the English texts again."""
    mig = _migration()
    pid = make_plan(rt, chain, code="WHY5", start=False)
    c = chain["customers"]
    texts = [*mig.TEXTS, "frequency cap: 3 in 7 days", "550 mailbox unavailable"]
    with rt.session() as s, transaction(s):
        s.execute(insert(Recipient), [{"plan_id": pid, "customer_id": c[i], "state": "skipped", "error": text,
                                       "occurrence": "", "holdout": False, "attempts": 0}
                                      for i, text in enumerate(texts)])
    with rt.engine.begin() as conn:
        mig.texts_to_codes(conn)
    got = {cid: (why, err) for cid, (_st, why, err) in _reasons(rt, pid).items()}
    want = [*[(code, None) for code in mig.TEXTS.values()], ("frequency_cap", None),
            ("channel_error", "550 mailbox unavailable")]
    assert [got[c[i]] for i in range(len(texts))] == want
    assert {why for why, _err in want} <= set(RECIPIENT_REASON.codes)
    with rt.engine.begin() as conn:
        assert mig.texts_to_codes(conn) == 0        # a second run changes nothing
        mig.codes_to_texts(conn)
    back = {cid: err for cid, (_st, _why, err) in _reasons(rt, pid).items()}
    assert [back[c[i]] for i in range(len(mig.TEXTS))] == list(mig.TEXTS)


def test_sources_and_methods_the_addon_writes_show_as_labels(api, admin_app, rt, chain, make, session):
    """``backoffice``, ``unsubscribe_link``, ``manual``... are words the addon writes: the API
    answers them with their label (``source_label``, ``method_label``) and the back office
    shows the label; a source typed by a person (a survey's name) shows as typed."""
    from addons.campaign.models import METHOD, SOURCE, Consent

    c = chain["customers"]
    with rt.session() as s, transaction(s):
        svc.opt_out(s, c[4], "email", "news")
        s.add(Consent(customer_id=c[5], channel="email", source="Survey 2026", method="manual"))
    hq = make.user(roles=("hq_admin",), locale="en")
    session.commit()
    r = api.get("/api/v1/campaign/optouts", user=hq)   # newest first
    assert r.status_code == 200, r.json
    row = next(x for x in r.json if x["customer_id"] == c[4])
    assert (row["source"], row["source_label"], row["method"], row["method_label"]) == (
        "backoffice", "Back office", "manual", "Entered by staff")
    client = login(admin_app, hq)
    body = client.get("/admin/campaign_optout/").get_data(as_text=True)
    assert "Back office" in body and "Entered by staff" in body
    body = client.get("/admin/campaign_consent/").get_data(as_text=True)
    assert "Survey 2026" in body
    assert str(SOURCE.label("Survey 2026")) == "Survey 2026" and str(METHOD.label(None)) == ""
