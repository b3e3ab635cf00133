"""Back-office login: sign in and out, wrong passwords, throttling, CSRF, redirects."""
from core.admin.testing import PASSWORD, admin_app, csrf_token, login  # noqa: F401


def _post_login(client, username, password):
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(client)})


def test_anonymous_admin_access_redirects_to_login(admin_app):
    r = admin_app.test_client().get("/admin/customer/")
    assert r.status_code == 302
    assert "/login?next=" in r.headers["Location"]


def test_login_and_logout(admin_app, session, make):
    u = make.user(username="alice")
    session.commit()
    c = login(admin_app, u)
    assert c.get("/admin/").status_code == 200
    r = c.post("/logout", data={"csrf_token": csrf_token(c, "/admin/")})
    assert r.status_code == 302
    assert c.get("/admin/").status_code == 302


def test_login_redirects_only_to_local_paths(admin_app, session, make):
    u = make.user(username="bob")
    session.commit()
    c = admin_app.test_client()
    r = c.post("/login?next=https://evil.example/x", data={"username": "bob", "password": PASSWORD,
                                                           "csrf_token": csrf_token(c)})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")
    c2 = admin_app.test_client()
    r = c2.post("/login?next=/admin/customer/", data={"username": "bob", "password": PASSWORD,
                                                      "csrf_token": csrf_token(c2)})
    assert r.headers["Location"].endswith("/admin/customer/")


def test_wrong_password_and_unknown_user(admin_app, session, make):
    make.user(username="carol")
    session.commit()
    c = admin_app.test_client()
    r = _post_login(c, "carol", "nope-nope")
    assert r.status_code == 401 and "Wrong username or password" in r.get_data(as_text=True)
    assert _post_login(c, "nobody", "whatever1").status_code == 401
    assert c.get("/admin/").status_code == 302


def test_inactive_user_cannot_sign_in(admin_app, session, make):
    make.user(username="dave", active=False)
    session.commit()
    assert _post_login(admin_app.test_client(), "dave", PASSWORD).status_code == 401


def test_login_without_csrf_token_is_refused(admin_app, session, make):
    make.user(username="erin")
    session.commit()
    r = admin_app.test_client().post("/login", data={"username": "erin", "password": PASSWORD})
    assert r.status_code == 400
    assert b"CSRF" in r.data


def test_throttling_locks_out_after_repeated_failures(admin_app, session, make, rt):
    make.user(username="frank")
    session.commit()
    limit = rt.config["security"]["max_failed_logins"]
    c = admin_app.test_client()
    for _ in range(limit):
        assert _post_login(c, "frank", "bad-password").status_code == 401
    # even the right password is refused while locked out
    r = _post_login(c, "frank", PASSWORD)
    assert r.status_code == 429
    assert "Too many failed attempts" in r.get_data(as_text=True)
    # another user from the same address is not affected
    make.user(username="grace")
    session.commit()
    assert _post_login(c, "grace", PASSWORD).status_code == 302


def test_lockout_window_expires(admin_app, session, make, rt):
    from datetime import timedelta

    from sqlalchemy import update

    from core.models import AuditLog

    make.user(username="heidi")
    session.commit()
    c = admin_app.test_client()
    for _ in range(rt.config["security"]["max_failed_logins"]):
        _post_login(c, "heidi", "bad-password")
    assert _post_login(c, "heidi", PASSWORD).status_code == 429
    minutes = rt.config["security"]["lockout_minutes"]
    session.execute(update(AuditLog).where(AuditLog.model == "core.login")
                    .values(at=AuditLog.at - timedelta(minutes=minutes + 1)))
    session.commit()
    assert _post_login(c, "heidi", PASSWORD).status_code == 302


def test_user_locale_is_used_after_login(admin_app, session, make):
    u = make.user(username="ivan", locale="zh_Hans")
    session.commit()
    c = login(admin_app, u)
    html = c.get("/admin/customer/").get_data(as_text=True)
    assert "列表" in html  # Flask-Admin's own "List", from core/translations/zh_Hans/admin.mo
    c2 = login(admin_app, u)
    assert "列表" not in c2.get("/admin/customer/?lang=en").get_data(as_text=True)


def test_language_links_stay_on_the_page(admin_app, session, make):
    """Switching language on a record's page keeps its query (the record's id)."""
    import re

    u = make.user(username="jane", roles=("hq_admin",))
    c = make.customer(name="Lang Switch")
    session.commit()
    client = login(admin_app, u)
    html = client.get(f"/admin/customer/details/?id={c.id}").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" id="lang-zh"', html).group(1).replace("&amp;", "&")
    assert link.startswith("/admin/customer/details/?") and f"id={c.id}" in link and "lang=zh_Hans" in link
    page = client.get(link)
    assert page.status_code == 200 and "Lang Switch" in page.get_data(as_text=True)


def test_usernames_differing_only_in_case_are_one_login(admin_app, session, make):
    """"Erin" and "erin" are the same login (``core.codes`` kind ``key``): a second user of
    that name is refused on ``username``, and either spelling signs the one user in."""
    import pytest

    from core.errors import BusinessError
    from core.security.users import create_user

    u = create_user(session, "Erin.Li", "secret-pass-1")
    assert u.username == "erin.li"
    with pytest.raises(BusinessError) as exc:
        create_user(session, "ERIN.li", "secret-pass-2")
    assert "username" in exc.value.errors
    session.commit()
    for spelt in ("ERIN.LI", " erin.li"):
        c = admin_app.test_client()
        assert _post_login(c, spelt, "secret-pass-1").status_code == 302
        assert c.get("/admin/").status_code == 200
