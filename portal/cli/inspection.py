"""Command-line tools of issue 22: ``flask --app wsgi selfcheck scan --as USER``.

``selfcheck scan`` is meant for cron (daily): a unit's self-check that reported a problem and
was not fixed by its own stated date becomes a case. Safe to run again at any time: a
self-check becomes a case once.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from portal.db import get_session
from portal.domain.access.permissions import Permission, has_permission
from portal.domain.inspection import selfcheck
from portal.domain.models import User

selfcheck_cli = AppGroup("selfcheck", help="Units' self-checks and commitments.")


@selfcheck_cli.command("scan")
@click.option("--as", "username", required=True,
              help="The staff account the cases are opened as (a moderator; a county "
                   "moderator for every township).")
def scan(username: str) -> None:
    """Open a case for each self-check whose problems were not fixed by their date."""
    session = get_session()
    actor = session.scalar(select(User).where(User.username == username.strip().lower()))
    if actor is None or not actor.active:
        raise click.ClickException(f"没有启用的账号 {username}")
    if not has_permission(actor.role, Permission.CASES_OPEN):
        raise click.ClickException(f"账号 {username} 无权立案（须为审核员）")
    report = selfcheck.scan_overdue(session, actor=actor)
    session.commit()
    click.echo(f"opened {len(report.opened)} case(s), skipped {len(report.skipped)}")
    for check_id, why in report.skipped:
        click.echo(f"  self-check {check_id}: {why}")


def register(app: Flask) -> None:
    app.cli.add_command(selfcheck_cli)
