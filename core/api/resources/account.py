"""API tokens and the current user (``/api/v1/tokens``, ``/api/v1/me``)."""
from __future__ import annotations

from sqlalchemy import select

from core.api import AUTHENTICATED, Blueprint, can, paginate_select, request_user, requires
from core.api import schemas as S
from core.api.visible import get_visible, scope_store_ids
from core.db import transaction
from core.errors import BusinessError, Forbidden, NotFound
from core.i18n import lazy_gettext as _l
from core.models import ApiToken, User
from core.web import db_session

account = Blueprint("core_account", __name__, url_prefix="", description="API tokens and the current user")


def _may_manage_tokens_of(target: User | None) -> bool:
    from core.security.tokens import may_manage_tokens_of

    return may_manage_tokens_of(request_user(), target, can("core.user.admin"))


@account.route("/tokens", methods=["GET"])
@requires("core.token.own")
@account.arguments(S.TokenQuery, location="query")
@account.response(200, S.TokenSchema(many=True))
@account.paginate()
def list_tokens(args, pagination_parameters):
    """API tokens (yours by default; only their prefixes, never the tokens)."""
    user_id = args.get("user_id", request_user().id)
    stmt = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    if not args.get("include_revoked"):
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    target = db_session().get(User, user_id)
    if target is None or not _may_manage_tokens_of(target):
        # whose tokens to list: answered like a path (404), so a user's existence does not leak
        raise NotFound({"user_id": _l("Not found.")})
    return paginate_select(db_session(), stmt, pagination_parameters)


@account.route("/tokens", methods=["POST"])
@requires("core.token.own")
@account.arguments(S.TokenIn)
@account.response(201, S.NewTokenSchema)
def create_api_token(data):
    """Create an API token; the response carries the token itself, shown this once."""
    from core.security.tokens import create_token

    s = db_session()
    target = s.get(User, data.get("user_id", request_user().id))
    if target is None or not target.active:
        raise BusinessError({"user_id": _l("No such user.")})
    if not _may_manage_tokens_of(target):
        raise Forbidden({"user_id": _l("You may not make tokens for this user.")})
    with transaction(s):
        plain, token = create_token(s, target, data["name"])
    token.token = plain  # shown this once; only its hash is stored
    return token


@account.route("/tokens/<int:token_id>", methods=["DELETE"])
@requires("core.token.own")
@account.response(204)
def revoke_api_token(token_id):
    """Revoke a token: it authenticates nobody from now on."""
    from core.security.tokens import revoke

    s = db_session()
    token = get_visible(ApiToken, token_id, allow=lambda t: _may_manage_tokens_of(s.get(User, t.user_id)))
    with transaction(s):
        revoke(s, token.id)


@account.route("/me", methods=["GET"])
@requires(AUTHENTICATED)
@account.response(200, S.MeSchema)
def me():
    """Who you are: your scope, roles and permissions."""
    from core.runtime import runtime_of
    from core.security.permissions import user_permissions

    s = db_session()
    user = s.get(User, request_user().id)
    ids = scope_store_ids()
    perms = (sorted(runtime_of(s).registry.permissions()) if user.is_superuser
             else sorted(user_permissions(s, user)))
    return {"id": user.id, "username": user.username, "locale": user.locale, "is_superuser": user.is_superuser,
            "scope_kind": user.scope_kind, "scope_ref_id": user.scope_ref_id,
            "store_ids": None if ids is None else sorted(ids), "roles": sorted(r.code for r in user.roles),
            "permissions": perms}
