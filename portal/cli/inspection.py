"""Command-line tools of issue 22: ``flask --app wsgi selfcheck scan --as USER`` and
``flask --app wsgi history import FILE --township CODE --as USER``.

``selfcheck scan`` is meant for cron (daily): a unit's self-check that reported a problem and
was not fixed by its own stated date becomes a case. Safe to run again at any time: a
self-check becomes a case once.

``history import`` takes a whole ledger at once (the screen takes a few dozen rows an upload,
to stay inside a web worker's timeout); ``--dry-run`` lists what it would create. Importing
the same file again changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal.db import get_session
from portal.domain.access.permissions import Permission, has_permission
from portal.domain.casework.events import WorkflowError
from portal.domain.inspection import history, selfcheck
from portal.domain.models import Township, User
from portal.domain.vetting.moderation import ModerationError

selfcheck_cli = AppGroup("selfcheck", help="Units' self-checks and commitments.")
history_cli = AppGroup("history", help="Importing an existing hazard ledger.")


def _actor(username: str, permission: Permission, refusal: str) -> User:
    actor = get_session().scalar(select(User).where(User.username == username.strip().lower()))
    if actor is None or not actor.active:
        raise click.ClickException(f"没有启用的账号 {username}")
    if not has_permission(actor.role, permission):
        raise click.ClickException(f"账号 {username} {refusal}")
    return actor


@selfcheck_cli.command("scan")
@click.option("--as", "username", required=True,
              help="The staff account the cases are opened as (a moderator; a county "
                   "moderator for every township).")
def scan(username: str) -> None:
    """Open a case for each self-check whose problems were not fixed by their date."""
    session = get_session()
    actor = _actor(username, Permission.CASES_OPEN, "无权立案（须为审核员）")
    report = selfcheck.scan_overdue(session, actor=actor)
    session.commit()
    click.echo(f"opened {len(report.opened)} case(s), skipped {len(report.skipped)}")
    for check_id, why in report.skipped:
        click.echo(f"  self-check {check_id}: {why}")


@history_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--township", "township_code", required=True, help="The ledger's township code.")
@click.option("--as", "username", required=True,
              help="The supervisor the import is recorded as.")
@click.option("--dry-run", is_flag=True, help="List what would be created; write nothing.")
def import_history(path: Path, township_code: str, username: str, dry_run: bool) -> None:
    """Import a hazard ledger (CSV or XLSX, docs/ledger-import.md) with its real dates."""
    session = get_session()
    actor = _actor(username, Permission.HISTORY_IMPORT, "无权导入历史台账（须为督办人员）")
    township = session.scalar(select(Township).where(Township.code == township_code))
    if township is None:
        raise click.ClickException(f"没有乡镇 {township_code}")
    try:
        table = history.read_table(path.read_bytes(), path.name)
        report = history.import_ledger(session, table, township=township, actor=actor,
                                       filename=path.name, dry_run=dry_run,
                                       tz=current_app.config["TIMEZONE"])
    except (history.LedgerFileError, WorkflowError, ModerationError) as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    for error in report.errors:
        click.echo(str(error), err=True)
    if report.errors or dry_run:
        session.rollback()
    else:
        session.commit()
    click.echo(report.message)
    if report.errors:
        raise SystemExit(1)


def register(app: Flask) -> None:
    app.cli.add_command(selfcheck_cli)
    app.cli.add_command(history_cli)
