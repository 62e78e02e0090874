"""The open data dumps: ``flask --app wsgi opendata build [--if-stale]``, run by
``deploy/portal-opendata.timer`` every five minutes (docs/open-data.md)."""

from __future__ import annotations

import datetime as dt

import click
from flask import Flask, current_app, url_for
from flask.cli import AppGroup

from portal.db import get_session
from portal.domain.clock import local_today
from portal.domain.disclosure import dumps
from portal.web.files import storage

opendata_cli = AppGroup("opendata", help="The open data dumps (/disclosures.csv, .json).")


@opendata_cli.command("build")
@click.option("--if-stale", is_flag=True,
              help="Only build when the disclosed data changed or the dump is too old.")
@click.option("--max-age", type=click.IntRange(min=1), default=60, show_default=True,
              help="With --if-stale: minutes after which the dump is rebuilt anyway.")
@click.option("--base-url", envvar="PORTAL_PUBLIC_URL", metavar="URL",
              help="The site's public address, for the links in the dump "
                   "(default $PORTAL_PUBLIC_URL, else SERVER_NAME).")
def build(if_stale: bool, max_age: int, base_url: str | None) -> None:
    """Build /disclosures.csv and /disclosures.json into the upload store."""
    session = get_session()
    today = local_today()
    store = storage()
    if if_stale and not dumps.dump_is_stale(session, store, dt.timedelta(minutes=max_age),
                                            today=today):
        click.echo("开放数据文件已是最新")
        return
    if not base_url and not current_app.config.get("SERVER_NAME"):
        raise click.ClickException("请用 --base-url 或 PORTAL_PUBLIC_URL 给出网站的公开地址")
    with current_app.test_request_context(base_url=base_url or None):
        links = dumps.Links(
            documentation=url_for("public.open_data", _external=True),
            unit=lambda unit_id: url_for("public.disclosure_unit", unit_id=unit_id,
                                         _external=True))
        manifest = dumps.build_dumps(session, store, today, links=links)
    for entry in manifest.files.values():
        click.echo(f"{entry.name}: {entry.size} 字节, sha256 {entry.sha256}")


def register(app: Flask) -> None:
    app.cli.add_command(opendata_cli)
