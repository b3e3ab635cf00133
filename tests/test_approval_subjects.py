"""An approval request keeps what it is about in no language (``subject``: a sale's or an
order's number) and is shown as the action's declared label and the subject in the reader's
language (``ApprovalRequest.title``): never a sentence translated into the requester's
language. Requests filed before keep their label until the migrations map it
(``core.approvals.label_subjects``)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from core.admin.testing import admin_app, login  # noqa: F401
from core.api.testing import api, api_app  # noqa: F401
from core.approvals import label_subjects, refund_or_request
from core.i18n import force_locale
from core.models.approval import ApprovalRequest

EN = "Refund over the approval threshold"
ZH = "超过审批阈值的退款"


def _pending_refund(session, make, rt, user):
    threshold = Decimal(rt.config["security"]["refund_approval_threshold"])
    sale = make.sale(products=[make.product(price=str(threshold + 1))])
    with force_locale("zh_Hans"):  # filed by a Chinese-speaking clerk
        kind, req = refund_or_request(session, sale.id, user)
    assert kind == "pending"
    return sale, req


def test_the_request_keeps_its_subject_and_reads_in_each_language(session, make, rt):
    sale, req = _pending_refund(session, make, rt, make.user(roles=("store_manager",)))
    assert (req.label, req.subject) == ("", sale.number)
    with force_locale("en"):
        assert req.title == f"{EN}: {sale.number}" and str(req) == f"#{req.id} {EN}: {sale.number}"
    with force_locale("zh_Hans"):
        assert req.title == f"{ZH}: {sale.number}"


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_the_queue_and_the_api_show_the_title_in_the_readers_language(admin_app, api, session, make, rt, lang):
    sale, req = _pending_refund(session, make, rt, make.user(roles=("store_manager",)))
    boss = make.user(roles=("hq_admin",), locale=lang)
    want, other = (ZH, EN) if lang == "zh_Hans" else (EN, ZH)
    session.commit()
    page = login(admin_app, boss).get("/admin/approval/").get_data(as_text=True)
    assert f"{want}: {sale.number}" in page and other not in page
    # the API's answer to a refund that waits: the request, titled in the request's language
    threshold = Decimal(rt.config["security"]["refund_approval_threshold"])
    dear = make.sale(products=[make.product(price=str(threshold + 1))])
    r = api.post(f"/api/v1/sales/{dear.id}/refund", user=boss, json={}, headers={"Accept-Language": lang})
    assert r.status_code == 202, r.json
    assert (r.json["label"], r.json["subject"]) == (f"{want}: {dear.number}", dear.number)


def test_label_subjects_maps_labels_written_in_a_language(session, make):
    rows = [ApprovalRequest(action="core.sale.refund", label=label, required=2)
            for label in ("退款 S01-000001", "Refund S01-000002", EN, "by hand: call Ann")]
    session.add_all(rows)
    session.flush()
    assert label_subjects(session.connection(), "core.sale.refund", ("Refund", "退款"), (EN,)) == 3
    session.expire_all()
    assert [(r.label, r.subject) for r in rows] == [("", "S01-000001"), ("", "S01-000002"), ("", ""),
                                                    ("by hand: call Ann", None)]
    with force_locale("en"):
        assert [r.title for r in rows] == [f"{EN}: S01-000001", f"{EN}: S01-000002", EN, "by hand: call Ann"]
    assert label_subjects(session.connection(), "core.sale.refund", ("Refund", "退款"), (EN,)) == 0
