"""One rule wherever a password is set (core.security.passwords.password_errors): at least
8 characters and no control character (NUL, tab, line breaks, DEL, C1). Refused with a
field message on the preferences page, the user admin form, ``banyan users create`` /
``create_user`` and ``banyan init``'s first login."""
import pytest
from sqlalchemy import func, select

from core.admin.testing import admin_app, csrf_token, login  # noqa: F401
from core.errors import BusinessError
from core.models import User
from core.security.passwords import check_password, password_errors, verify_password

CONTROL = "A password cannot contain control characters"
BAD = ["good-pass\x00word", "good-pass\tword", "good-pass\nword", "good-pass\rword", "good-pass\x7fword",
       "good-pass\x85word", "\x1b[31mred-pass-9"]


@pytest.mark.parametrize("password", BAD)
def test_control_characters_are_refused(password):
    from core.i18n import force_locale

    with force_locale("en"):  # the message in English, whatever locale an earlier test left as default
        assert any(CONTROL in str(m) for m in password_errors(password))
    with pytest.raises(BusinessError) as exc:
        check_password(password, "new_password")
    assert list(exc.value.errors) == ["new_password"]


def test_good_passwords_pass_and_short_ones_do_not():
    assert password_errors("good-pass-9") == []
    assert password_errors("密码是一二三四五") == []  # any printable text, not only ASCII
    assert password_errors("short") and password_errors("")


def _change(client, new):
    return client.post("/admin/preferences/password", data={
        "current_password": "secret-pass-1", "new_password": new, "new_password2": new,
        "csrf_token": csrf_token(client, "/admin/preferences/")})


def test_preferences_refuses_a_nul_with_a_field_message(admin_app, session, make):
    user = make.user()
    session.commit()
    client = login(admin_app, user)
    for bad in ("new-secret\x00-99", "new-secret\n-99"):
        r = _change(client, bad)
        html = r.get_data(as_text=True)
        assert r.status_code == 422 and 'data-field="new_password"' in html and CONTROL in html, bad
        session.expire_all()
        assert verify_password(session.get(User, user.id).password_hash, "secret-pass-1")
    assert _change(client, "new-secret-99").status_code == 302


def test_user_admin_form_refuses_a_control_character(admin_app, session, make):
    client = login(admin_app, make.user(superuser=True))
    session.commit()
    url = "/admin/user/new/"

    def post(password, name):
        return client.post(url, data={"username": name, "scope_kind": "all", "locale": "", "active": "y",
                                      "new_password": password, "csrf_token": csrf_token(client, url)})

    r = post("new-secret\x00-99", "nul-user")
    assert r.status_code == 200 and CONTROL in r.get_data(as_text=True)
    assert session.execute(select(func.count()).select_from(User).where(User.username == "nul-user")).scalar() == 0
    assert post("new-secret-99", "ok-user").status_code == 302
    session.expire_all()
    made = session.execute(select(User).where(User.username == "ok-user")).scalar_one()
    assert verify_password(made.password_hash, "new-secret-99")


def test_create_user_and_the_cli_refuse_a_control_character(session, rt):
    from core.cli.ops import create_superuser
    from core.security.users import create_user

    with pytest.raises(BusinessError) as exc:
        create_user(session, "cli-nul", "secret-pass\x00x")
    assert any(CONTROL in str(m) for m in exc.value.errors["password"])
    with pytest.raises(BusinessError) as exc:
        create_superuser(rt, "boss-nul", "x12\t34")
    assert "password" in exc.value.errors
    with rt.session() as s:
        assert s.execute(select(func.count()).select_from(User)
                         .where(User.username.in_(("cli-nul", "boss-nul")))).scalar() == 0


def test_the_cli_refuses_a_control_character(cli_env):
    result = cli_env.run("init", "--admin-user", "boss", "--admin-password", "x12\x0034")
    assert result.exit_code != 0 and "control characters" in result.output, result.output
    assert cli_env.run("init", "--admin-user", "boss", "--admin-password", "x1234").exit_code == 0
    result = cli_env.run("users", "create", "clerk", "--password", "secret\x1bpass-9")
    assert result.exit_code != 0 and "control characters" in result.output, result.output
    assert cli_env.run("users", "create", "clerk", "--password", "secret-pass-9").exit_code == 0
