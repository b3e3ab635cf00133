"""``banyan users list|create|token``: logins and API tokens from the command line.

``banyan users token NAME`` is how an integrator gets the *first* API token of a fresh
install (``POST /api/v1/tokens`` already needs one): it prints the token alone on standard
output, once, so ``TOKEN=$(banyan users token admin)`` works. The token carries the user's
permissions and record scope; revoke it in the back office (Settings > API tokens) or with
``DELETE /api/v1/tokens/<id>``.
"""
from __future__ import annotations

import click

from core.cli import get_runtime, main
from core.errors import BusinessError


@main.group("users")
def users_group():
    """Logins and their API tokens."""


@users_group.command("list")
@click.pass_context
def list_cmd(ctx):
    """Every login: name, active, superuser, scope and roles."""
    from sqlalchemy import select

    from core.models import User

    rt = get_runtime(ctx)
    with rt.session() as s:
        users = s.execute(select(User).order_by(User.username)).scalars().all()
        click.echo(f"{'username':<24} {'active':<6} {'super':<5} {'scope':<16} roles")
        for u in users:
            scope = u.scope_kind + (f":{u.scope_ref_id}" if u.scope_ref_id is not None else "")
            click.echo(f"{u.username:<24} {('yes' if u.active else 'no'):<6} {('yes' if u.is_superuser else 'no'):<5} "
                       f"{scope:<16} {','.join(sorted(r.code for r in u.roles))}")
        s.rollback()


@users_group.command("create")
@click.argument("username")
@click.option("--password", default=None, help="Its password (prompted if missing; at least 8 characters).")
@click.option("--role", "roles", multiple=True, help="A role code, e.g. technician (repeat for several).")
@click.option("--scope", "scope_kind", type=click.Choice(["all", "company", "region", "store"]), default="all",
              show_default=True, help="Which stores the user sees.")
@click.option("--scope-ref", default=None, help="Code (or id) of the company, region or store of --scope.")
@click.option("--superuser", is_flag=True, help="Every permission, every store.")
@click.option("--locale", type=click.Choice(["zh_Hans", "en"]), default=None, help="Language of the interface.")
@click.pass_context
def create_cmd(ctx, username, password, roles, scope_kind, scope_ref, superuser, locale):
    """Create a login (the back office's rules apply)."""
    from core.security.users import create_user

    rt = get_runtime(ctx)
    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with rt.session() as s:
        try:
            user = create_user(s, username, password, roles=roles, scope_kind=scope_kind, scope_ref=scope_ref,
                               superuser=superuser, locale=locale)
            s.commit()
        except BusinessError:
            s.rollback()
            raise
        click.echo(f"user {user.username} created (id {user.id})")


@users_group.command("token")
@click.argument("username")
@click.option("--label", default="cli", show_default=True,
              help="Name telling this token apart from the user's others (at most 80 characters).")
@click.pass_context
def token_cmd(ctx, username, label):
    """Create an API token for USERNAME and print it (shown this once; only its hash is kept)."""
    from sqlalchemy import select

    from core.models import User
    from core.security.tokens import create_token

    rt = get_runtime(ctx)
    with rt.session() as s:
        user = s.execute(select(User).where(User.username == username)).scalar()
        if user is None or not user.active:
            raise BusinessError({"username": f"no active user {username}"})
        try:
            plain, token = create_token(s, user, label)
            s.commit()
        except BusinessError:
            s.rollback()
            raise
        click.echo(plain)
        click.echo(f"token {token.prefix}… (id {token.id}) created for {username}; it is shown only this once",
                   err=True)
