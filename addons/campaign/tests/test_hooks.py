"""The hook campaign offers (``campaign_channels``) and the kernel's ``segment_fields`` as
membership and loyalty implement it."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from core import hookimpl
from core.mixins import utcnow
from core.errors import AddonError
from core.segments import audience, fields

from addons.campaign import sending
from addons.campaign.channels import ChannelAdapter, ChannelError
from addons.campaign.models import Recipient

from .conftest import make_plan

pytestmark = pytest.mark.addons("campaign")


def test_hook_campaign_channels(rt, chain, register_plugin):
    """A partner's SMS adapter: registered by the hook, used by the sender, its errors recorded."""
    from core.models import Customer

    sent = []

    class Gateway:
        def __init__(self, rt):
            pass

        def send(self, session, message, recipient):
            if message.to.startswith("c3"):
                raise ChannelError("number unknown", permanent=True)
            sent.append(message.to)

        def close(self):
            return None

    class Sms:
        @hookimpl
        def campaign_channels(self):
            # a gateway addressed by email here; it names the consent it needs (a channel
            # that names none would reach nobody: round 24)
            return [ChannelAdapter("testsms", "SMS", lambda: Customer.email, Gateway, consent="email")]

    register_plugin(Sms(), name="smstest")
    from addons.campaign.models import Template
    from core.db import transaction

    with rt.session() as s, transaction(s):
        if not s.execute(select(Template.id).where(Template.code == "hello", Template.channel == "testsms")).first():
            s.add(Template(code="hello", channel="testsms", language="en", body="Hi {{ customer.name }}"))
    pid = make_plan(rt, chain, code="SMS1", channel="testsms")
    out = sending.send_due(rt)
    assert out["sent"] == 7 and out["failed"] == 1 and len(sent) == 7   # two of ten gave no consent
    with rt.session() as s:
        err = s.execute(select(Recipient.reason, Recipient.error)
                         .where(Recipient.plan_id == pid, Recipient.state == "failed")).one()
    assert tuple(err) == ("channel_error", "number unknown")   # the channel's own answer, beside the code

    class Twice:
        @hookimpl
        def campaign_channels(self):
            return [ChannelAdapter("testsms", "SMS again", lambda: Customer.email, Gateway)]

    register_plugin(Twice(), name="smstwice")
    from addons.campaign.channels import channels

    with pytest.raises(AddonError):
        channels(rt)


@pytest.mark.addons("membership", "loyalty", "campaign")
def test_membership_and_loyalty_segment_fields(rt, session, make):
    from addons.loyalty import services as loyalty
    from addons.membership import services as membership

    known = fields(rt.registry)
    assert {"membership.tier", "membership.stored_value", "loyalty.points", "loyalty.points_expiring"} <= set(known)
    rich, poor = make.customer(), make.customer()
    loyalty.adjust(session, rich.id, 1500, note="start")
    ids = lambda rules: sorted(session.execute(audience(session, rules)).scalars())  # noqa: E731
    assert ids({"op": "and", "rules": [{"field": "loyalty.points", "operator": "ge", "value": 1000}]}) == [rich.id]
    expiring = {"op": "and", "rules": [{"field": "loyalty.points_expiring", "params": {"days": 3660},
                                        "operator": "gt", "value": 0}]}
    assert rich.id in ids(expiring) and poor.id not in ids(expiring)
    # points past their date count for nothing, even before the expiry job posts them
    lapsed = make.customer()
    loyalty.adjust(session, lapsed.id, 2000, note="start")
    session.execute(text("UPDATE loyalty_lot SET expires_at = :t WHERE customer_id = :c"),  # a year on
                    {"t": utcnow() - timedelta(days=1), "c": lapsed.id})
    assert loyalty.balance(session, lapsed.id) == 2000
    assert ids({"op": "and", "rules": [{"field": "loyalty.points", "operator": "ge", "value": 1000}]}) == [rich.id]
    membership.save_tier(session, "SEGT1", "Basic", 1)
    store = make.store()
    member = make.customer(home_store_id=store.id)
    membership.enrol(session, member.id, store_id=store.id)
    tier = membership.tier_of(session, member.id)
    code = getattr(tier, "code", None) or tier["code"]
    assert (code, ) in [(c,) for c, _n in known["membership.tier"].choices(session)]
    is_tier = {"op": "and", "rules": [{"field": "membership.tier", "operator": "eq", "value": code}]}
    assert member.id in ids(is_tier) and poor.id not in ids(is_tier)
    not_tier = {"op": "and", "rules": [{"field": "membership.tier", "operator": "ne", "value": code}]}
    assert poor.id in ids(not_tier) and member.id not in ids(not_tier)  # "not that tier" includes non-members
    sv = {"op": "and", "rules": [{"field": "membership.stored_value", "operator": "eq", "value": Decimal("0")}]}
    assert poor.id in ids(sv)
