"""Command-line tools for the Open311 API: ``flask --app wsgi apikeys issue|revoke|list``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from portal.db import get_session
from portal.domain.access import api_keys
from portal.domain.administration import townships
from portal.domain.models import ApiKey
from portal.templating import format_datetime

apikeys_cli = AppGroup("apikeys", help="Keys of the partner channels for the Open311 API.")


@apikeys_cli.command("issue")
@click.argument("partner")
@click.option("--township", "township_code",
              help="Township code the key belongs to (absent: the county's, every township).")
def apikeys_issue(partner: str, township_code: str | None) -> None:
    """Issue a key to a partner channel (e.g. "12345热线") and print it once."""
    session = get_session()
    township = townships.by_code(session, township_code) if township_code else None
    if township_code and township is None:
        raise click.ClickException(f"乡镇代码 {township_code} 不存在或已停用")
    try:
        issued = api_keys.issue(session, partner,
                                township_id=township.id if township else None)
    except api_keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    place = township.name if township else "全县"
    click.echo(f"已为“{issued.api_key.partner}”签发{place}的密钥（编号 {issued.api_key.id}）。")
    click.echo(f"密钥（只显示这一次，请通过安全途径交给对方）：{issued.key}")


@apikeys_cli.command("revoke")
@click.argument("key_id", type=int)
def apikeys_revoke(key_id: int) -> None:
    """Stop a key working at once."""
    session = get_session()
    row = session.get(ApiKey, key_id)
    if row is None:
        raise click.ClickException(f"编号为 {key_id} 的密钥不存在")
    try:
        api_keys.revoke(session, row)
    except api_keys.ApiKeyError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(f"已停用“{row.partner}”的密钥（编号 {row.id}，{row.prefix}…）")


@apikeys_cli.command("list")
def apikeys_list() -> None:
    """Every key: id, prefix, partner, issued, state."""
    for row in api_keys.all_keys(get_session()):
        state = "启用" if row.active else f"已停用 {format_datetime(row.revoked_at)}"
        click.echo(f"{row.id}\t{row.prefix}\t{row.partner}\t{format_datetime(row.created_at)}"
                   f"\t{state}")


def register(app: Flask) -> None:
    app.cli.add_command(apikeys_cli)
