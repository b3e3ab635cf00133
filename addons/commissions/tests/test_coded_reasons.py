"""The words the commissions addon writes are codes, read in each reader's language: an
adjustment's approval request keeps its subject (the employee and amount), not a sentence in
the requester's language; the migration maps the clawback sentences and the request labels
stored before (English or Chinese)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select

from core.i18n import force_locale
from core.models.approval import ApprovalRequest

from addons.commissions import statements as cst
from addons.commissions.models import LINE_REASON, CommissionLine
from core.testing.migrations import load_migration

pytestmark = pytest.mark.addons("commissions")


def test_an_adjustment_request_keeps_its_subject(session, make, shop):
    with force_locale("zh_Hans"):
        req = cst.request_adjustment(session, shop.clerks[0].id, "50.00", "late sale", make.user())
    assert (req.label, req.subject) == ("", f"{shop.clerks[0].name} 50.00")
    with force_locale("en"):
        assert req.title == f"Adjust a commission by hand: {shop.clerks[0].name} 50.00"


def _migration():
    return load_migration("commissions", "*_commissions_coded_reasons.py")


def test_the_migration_maps_clawback_sentences_and_request_labels(session, make, shop):
    mig = _migration()
    clerk = shop.clerks[0]
    texts = ["202610 的阶梯奖金已追回：退货后达成率为 90%", "Tier bonus of 202610 clawed back: attainment 90% after a refund",
             "agreed with the manager"]
    session.execute(insert(CommissionLine), [
        {"key": f"mig{n}", "employee_id": clerk.id, "store_id": shop.store.id, "period": 202611, "kind": "clawback",
         "reason": text, "business_date": date(2026, 11, 3)} for n, text in enumerate(texts)])
    session.add_all([ApprovalRequest(action="commissions.statement.approve", label="审批 202610 提成结算单", required=1),
                     ApprovalRequest(action="commissions.adjustment", label="Commission adjustment 50.00 for Ann",
                                     required=1)])
    session.flush()
    assert mig.texts_to_codes(session.connection()) == 4
    session.expire_all()
    got = [line.reason for line in session.scalars(select(CommissionLine).where(CommissionLine.key.like("mig%"))
                                                   .order_by(CommissionLine.id))]
    assert got == ["tier_clawback", "tier_clawback", "agreed with the manager"]
    subjects = session.execute(select(ApprovalRequest.label, ApprovalRequest.subject)
                               .where(ApprovalRequest.action.like("commissions.%")).order_by(ApprovalRequest.id)).all()
    assert [tuple(r) for r in subjects] == [("", "202610"), ("", "Ann 50.00")]
    assert mig.texts_to_codes(session.connection()) == 0
    assert "tier_clawback" in LINE_REASON
