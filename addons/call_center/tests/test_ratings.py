"""Satisfaction ratings by signed link: resolving a ticket emails the customer the link; the
public page takes a score 1-5 and a comment once; an expired, altered or foreign link is
refused with a clear page; the rating shows on the ticket and in the agents' figures."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.api.testing import api, api_app  # noqa: F401
from core.errors import BusinessError
from core.mixins import utcnow
from core.models import MailMessage

from addons.call_center import ratings
from addons.call_center import services as svc
from addons.call_center.models import Rating

pytestmark = pytest.mark.addons("call_center")

BASE = "/api/v1/call_center"


@pytest.fixture
def resolved(session, make, agent, team, policy):
    c = make.customer(name="钱多多", email="qian@example.com")
    t = svc.create_ticket(session, subject="送货延误", ticket_type="inquiry", channel="phone", customer_id=c.id,
                          team_id=team.id, agent_id=agent.id)
    svc.set_status(session, t.id, "resolved")
    return t


def _link_of_mail(session, ticket) -> str:
    mail = session.execute(select(MailMessage).where(MailMessage.kind == "call_center.rating.request",
                                                     MailMessage.to_address == "qian@example.com")).scalar()
    assert mail is not None and ticket.subject in mail.body
    m = re.search(r"(/call_center/rate/[A-Za-z0-9_.\-]+)", mail.body)
    return m.group(1)


def test_resolving_emails_the_signed_link_and_the_page_rates_once(api, session, resolved, agent):
    path = _link_of_mail(session, resolved)
    session.commit()
    r = api.get(path)
    assert r.status_code == 200 and 'id="rate-form"' in r.get_data(as_text=True)
    assert resolved.subject in r.get_data(as_text=True)
    r = api.post(path, data={"score": "9", "comment": "x"})
    assert r.status_code == 422 and 'id="error-score"' in r.get_data(as_text=True)
    assert session.execute(select(Rating)).scalar() is None
    r = api.post(path, data={"score": "4", "comment": "很快解决了"})
    assert r.status_code == 200 and 'id="rate-done"' in r.get_data(as_text=True)
    rating = session.execute(select(Rating).where(Rating.ticket_id == resolved.id)).scalar()
    assert (rating.score, rating.comment, rating.agent_id) == (4, "很快解决了", agent.id)
    # once: the link now answers "already rated", and a second post changes nothing
    r = api.get(path)
    assert r.status_code == 409 and 'id="rate-refused"' in r.get_data(as_text=True)
    r = api.post(path, data={"score": "1"})
    assert r.status_code == 409
    assert session.execute(select(Rating.score).where(Rating.ticket_id == resolved.id)).scalars().all() == [4]
    # shown on the ticket (API) and in the agents' figures
    r = api.get(f"{BASE}/tickets/{resolved.id}", user=agent)
    assert r.json["rating"]["score"] == 4 and r.json["rating"]["comment"] == "很快解决了"
    row = [x for x in svc.agent_report(session, utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1))
           if x["agent_id"] == agent.id][0]
    assert (row["ratings"], str(row["satisfaction"])) == (1, "4.00")


def test_tampered_foreign_and_expired_links_are_refused(api, session, resolved, monkeypatch):
    path = _link_of_mail(session, resolved)
    session.commit()
    token = path.rsplit("/", 1)[1]
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]  # a fully significant character
    r = api.get(f"/call_center/rate/{tampered}")
    assert r.status_code == 400 and "not valid" in r.get_data(as_text=True)
    r = api.post(f"/call_center/rate/{tampered}", data={"score": "5"})
    assert r.status_code == 400 and session.execute(select(Rating)).scalar() is None
    # a link signed with another secret (another instance) is not valid either
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("not-our-secret", salt=ratings.SALT).dumps({"t": resolved.id,
                                                                                "c": resolved.customer_id})
    assert api.get(f"/call_center/rate/{forged}").status_code == 400
    # the clock moved past the validity: expired, with its own message
    import itsdangerous.timed

    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                        lambda self: real(self) + (ratings.RATING_DAYS + 1) * 86400)
    r = api.get(path)
    assert r.status_code == 400 and "expired" in r.get_data(as_text=True)
    with pytest.raises(BusinessError) as e:
        ratings.rate(session, token, 5)
    assert str(e.value.errors["token"][0]) == str(ratings.EXPIRED)


def test_no_link_for_an_open_ticket_or_a_customer_without_email(api, session, make, agent, team, policy):
    c = make.customer(name="无邮箱")
    t = svc.create_ticket(session, subject="a", ticket_type="inquiry", channel="phone", customer_id=c.id,
                          team_id=team.id)
    assert api.get(f"{BASE}/tickets/{t.id}/rating-link", user=agent).status_code == 422
    token = ratings.rating_token(session, t)
    with pytest.raises(BusinessError):  # not resolved: the token rates nothing
        ratings.rate(session, token, 5)
    svc.set_status(session, t.id, "resolved")
    assert session.execute(select(MailMessage).where(MailMessage.kind == "call_center.rating.request")).first() is None
    r = api.get(f"{BASE}/tickets/{t.id}/rating-link", user=agent)
    assert r.status_code == 200 and "/call_center/rate/" in r.json["url"] and r.json["days"] == ratings.RATING_DAYS
    assert ratings.rate(session, r.json["url"].rsplit("/", 1)[1], 5).score == 5


def test_rating_service_validates(session, resolved):
    token = ratings.rating_token(session, resolved)
    with pytest.raises(BusinessError) as e:
        ratings.rate(session, token, 0, "x" * 2001)
    assert {"score", "comment"} <= set(e.value.errors)
    ratings.rate(session, token, "5")
    with pytest.raises(BusinessError) as e:
        ratings.rate(session, token, 3)
    assert str(e.value.errors["token"][0]) == str(ratings.ALREADY)


def test_rating_shows_on_the_ticket_page_and_the_ratings_list(session, resolved, supervisor):
    from core.admin.testing import login
    from core.api.testing import build_app
    from core.runtime import runtime_of
    from core.security.permissions import sync_roles

    ratings.rate(session, ratings.rating_token(session, resolved), 3, "一般")
    rt = runtime_of(session)
    sync_roles(session, rt.registry)
    session.commit()
    client = login(build_app(rt), supervisor)
    html = client.get(f"/admin/call_center_ticket/details/?id={resolved.id}").get_data(as_text=True)
    assert "3/5 · 一般" in html
    html = client.get("/admin/call_center_rating/").get_data(as_text=True)
    assert "一般" in html
