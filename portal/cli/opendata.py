"""The open data dumps: ``flask --app wsgi opendata build [--if-stale]``, run by
``deploy/portal-opendata.timer`` every five minutes (docs/open-data.md). It builds the county's
files and every active township's, each only when its own cases changed (with --if-stale)."""

from __future__ import annotations

import datetime as dt

import click
from flask import Flask, current_app, g, url_for
from flask.cli import AppGroup

from portal.db import get_session
from portal.domain.clock import local_today
from portal.domain.disclosure import dumps
from portal.domain.models import Township
from portal.web.files import storage

opendata_cli = AppGroup("opendata", help="The open data dumps (/disclosures.csv, .json).")


def _links(township: Township | None) -> dumps.Links:
    """The addresses a township's dump names are its own (``/t/<code>/…``), as on its pages:
    the township's ``url_for`` keeps it (portal/public/townships.py)."""
    g.township = township
    documentation = url_for("public.open_data", _external=True)
    return dumps.Links(documentation=documentation, unit=lambda unit_id: url_for(
        "public.disclosure_unit", unit_id=unit_id, _external=True))


@opendata_cli.command("build")
@click.option("--if-stale", is_flag=True,
              help="Only build a dump whose disclosed data changed or that is too old.")
@click.option("--max-age", type=click.IntRange(min=1), default=60, show_default=True,
              help="With --if-stale: minutes after which a dump is rebuilt anyway.")
@click.option("--base-url", envvar="PORTAL_PUBLIC_URL", metavar="URL",
              help="The site's public address, for the links in the dump "
                   "(default $PORTAL_PUBLIC_URL, else SERVER_NAME).")
def build(if_stale: bool, max_age: int, base_url: str | None) -> None:
    """Build /disclosures.csv and .json, the county's and every township's, into the upload
    store."""
    session = get_session()
    today = local_today()
    store = storage()
    if not base_url and not current_app.config.get("SERVER_NAME"):
        raise click.ClickException("请用 --base-url 或 PORTAL_PUBLIC_URL 给出网站的公开地址")
    with current_app.test_request_context(base_url=base_url or None) as probe:
        if probe.url_adapter is None:  # the host is not one of PORTAL_PUBLIC_HOSTS
            raise click.ClickException(
                f"网站地址 {base_url} 的主机名不在 PORTAL_PUBLIC_HOSTS 中，"
                "无法生成数据文件里的链接")
    failed = 0
    for township in dumps.scopes(session):
        where = "全县" if township is None else f"{township.name}（{township.code}）"
        if if_stale and not dumps.dump_is_stale(session, store, dt.timedelta(minutes=max_age),
                                                today=today, township=township):
            click.echo(f"{where}：开放数据文件已是最新")
            continue
        # One township's failure leaves its old files standing and the others still built.
        try:
            with current_app.test_request_context(base_url=base_url or None):
                manifest = dumps.build_dumps(session, store, today, links=_links(township),
                                             township=township)
        except Exception as exc:  # reported, and the exit code says so
            session.rollback()
            failed += 1
            click.echo(f"{where}：开放数据文件生成失败（{exc}），旧文件保留", err=True)
            continue
        for entry in manifest.files.values():
            click.echo(f"{where}：{entry.name}: {entry.size} 字节, sha256 {entry.sha256}")
    if failed:
        raise click.ClickException(f"{failed} 处开放数据文件生成失败，见上")


def register(app: Flask) -> None:
    app.cli.add_command(opendata_cli)
