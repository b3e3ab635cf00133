"""Each user's own preferences page (``/admin/preferences/``): language, password and their
own API tokens.

- Language: stored on the user (``User.locale``) and applied at once; the language picked on
  the login page is kept at sign-in (``core.security.login``).
- Password: the current password is required; the new one is typed twice, at least
  :data:`MIN_PASSWORD` characters, and must differ from the current one.
- API tokens (with ``core.token.own``): the user's own tokens, listed by prefix; a new token
  is shown once, on the page that answers its creation; revoking asks first (``confirm=1``).

Every form is CSRF-protected; errors are shown on their field with status 422.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, session as http_session, url_for
from flask_admin import expose
from sqlalchemy import select

from core.admin.args import record_id
from core.admin.base import BanyanView
from core.api import AUTHENTICATED
from core.db import transaction
from core.errors import BusinessError
from core.i18n import LANGUAGE_NAMES, LOCALES, gettext
from core.security.passwords import MIN_PASSWORD

LANGUAGES = LANGUAGE_NAMES


def _me():
    from core.models import User
    from core.web import current_user, db_session

    user = current_user()
    return db_session().get(User, user.id) if user is not None else None


class PreferencesView(BanyanView):
    """The signed-in user's own settings (see the module docstring)."""

    permission = AUTHENTICATED  # any signed-in user

    def is_visible(self):
        return False  # reached from the user name in the top bar, not from the menu

    def _tokens(self, me):
        from core.models import ApiToken
        from core.web import db_session

        return db_session().execute(select(ApiToken).where(ApiToken.user_id == me.id)
                                    .order_by(ApiToken.id.desc())).scalars().all()

    def _page(self, errors=None, new_token=None, confirm_revoke=None, status=200):
        from core.security.tokens import OWN_PERMISSION
        from core.web import has_perm

        me = _me()
        may_tokens = has_perm(OWN_PERMISSION)
        return self.render("banyan/preferences.html", me=me, languages=LANGUAGES, errors=errors or {},
                           tokens=self._tokens(me) if may_tokens else None, may_tokens=may_tokens,
                           new_token=new_token, confirm_revoke=confirm_revoke, min_password=MIN_PASSWORD), status

    @expose("/")
    def index(self):
        return self._page()

    @expose("/language", methods=["POST"])
    def language(self):
        from core.web import db_session

        lang = request.form.get("locale", "")
        if lang not in LOCALES:
            return self._page({"locale": [gettext("Not a valid choice.")]}, status=422)
        s = db_session()
        with transaction(s):
            _me().locale = lang
        http_session["lang"] = lang
        flash(gettext("Language saved."), "success")
        return redirect(url_for(".index"))

    @expose("/password", methods=["POST"])
    def password(self):
        from core.security.passwords import hash_password, password_errors, verify_password
        from core.web import db_session

        f = request.form
        current, new, again = f.get("current_password", ""), f.get("new_password", ""), f.get("new_password2", "")
        me = _me()
        errors: dict[str, list] = {}
        if not verify_password(me.password_hash, current):
            errors["current_password"] = [gettext("This is not your current password.")]
        problems = password_errors(new)
        if problems:
            errors["new_password"] = [str(p) for p in problems]
        elif new == current:
            errors["new_password"] = [gettext("Choose a password different from the current one.")]
        if new != again:
            errors["new_password2"] = [gettext("The two new passwords differ.")]
        if errors:
            return self._page(errors, status=422)
        s = db_session()
        with transaction(s):
            me.password_hash = hash_password(new)
        flash(gettext("Password changed."), "success")
        return redirect(url_for(".index"))

    def _require_tokens(self):
        from core.security.tokens import OWN_PERMISSION
        from core.web import has_perm

        if not has_perm(OWN_PERMISSION):
            abort(403)

    @expose("/tokens/new", methods=["POST"])
    def new_token(self):
        from core.security.tokens import create_token
        from core.web import db_session

        self._require_tokens()
        s = db_session()
        try:
            with transaction(s):
                plain, _token = create_token(s, _me(), request.form.get("name", ""))
        except BusinessError as exc:
            return self._page({k: [str(m) for m in v] for k, v in exc.errors.items()}, status=422)
        # shown on this answer only, never stored in plain or flashed into the session cookie
        return self._page(new_token=plain)

    @expose("/tokens/revoke", methods=["POST"])
    def revoke_token(self):
        from core.models import ApiToken
        from core.security.tokens import revoke
        from core.web import db_session

        self._require_tokens()
        me = _me()
        token_id = request.form.get("token_id", type=record_id)
        s = db_session()
        token = s.execute(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == me.id)).scalar() \
            if token_id else None
        if token is None:
            abort(404)
        if request.form.get("confirm") != "1":
            return self._page(confirm_revoke=token)
        with transaction(s):
            revoke(s, token.id, user=me)
        flash(gettext("Token revoked: %(name)s.", name=token.name), "success")
        return redirect(url_for(".index"))

