"""Command-line tools of the linkage mechanism: ``flask --app wsgi sla|calendar|notifications``.

``sla scan`` and ``notifications send`` are meant for cron (e.g. every 15 minutes); both are
safe to run again at any time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from portal.db import get_session
from portal.domain import clock
from portal.domain.casework import limits, notifications, sla, sms
from portal.domain.clock import utcnow
from portal.identity import cipher
from portal.templating import format_date

sla_cli = AppGroup("sla", help="Time limits: due-soon and overdue reminders.")
calendar_cli = AppGroup("calendar", help="The working-day calendar (holidays and make-up days).")
notifications_cli = AppGroup("notifications", help="The notification outbox.")


def _now(value: str | None) -> dt.datetime:
    if not value:
        return utcnow()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("须为 ISO 时间，例如 2026-10-09T08:00+08:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.local_zone(current_app.config["TIMEZONE"]))
    return moment.astimezone(dt.UTC)


@sla_cli.command("scan")
@click.option("--now", "now_text", help="Pretend it is this time (ISO 8601; for testing).")
def sla_scan(now_text: str | None) -> None:
    """Write due-soon and overdue reminders to the outbox (idempotent; for cron)."""
    config = current_app.config
    session = get_session()
    report = sla.scan(
        session, _now(now_text), tz=config["TIMEZONE"],
        due_soon=dt.timedelta(hours=config["SLA_DUE_SOON_HOURS"]),
        rectify_warn_days=config["SLA_RECTIFY_WARN_DAYS"],
    )
    clocks = limits.remind(session, _now(now_text), tz=config["TIMEZONE"],
                           due_soon=dt.timedelta(hours=config["SLA_DUE_SOON_HOURS"]))
    session.commit()
    click.echo(f"即将到期 {report.due_soon} 件，已超期 {report.overdue} 件，"
               f"回头看到期 {report.follow_ups} 件；文书、复查与报告时限即将到期 "
               f"{clocks.due_soon} 项，已超期 {clocks.overdue} 项；"
               f"新写入提醒 {report.written + clocks.written} 条")
    for year in report.missing_years:
        click.echo(f"警告：{sla.calendar_status(session, year).message}", err=True)


@calendar_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--notice", default="", help="The State Council notice the schedule comes from.")
def calendar_import(path: Path, notice: str) -> None:
    """Enter a year's holidays and make-up working days from a CSV or TOML file.

    CSV columns: date,workday,name (workday: true for a make-up working day, false for a
    holiday). TOML: notice = "…" and [[days]] tables with the same keys. The file replaces
    what the table held for that year, and overrides the built-in calendar; the statutory
    holidays it does not list stay holidays, and one it makes a working day is refused.
    """
    session = get_session()
    try:
        report = sla.import_schedule_file(session, path, notice=notice)
    except sla.CalendarImportError as exc:
        raise click.ClickException(str(exc)) from None
    session.commit()
    click.echo(report.message)


@calendar_cli.command("status")
@click.argument("years", nargs=-1, type=int)
def calendar_status(years: tuple[int, ...]) -> None:
    """Say where each year's working days come from (default: this year and next), and list
    its holidays and make-up working days with the source of each."""
    session = get_session()
    calendar = sla.WorkdayCalendar(session)
    this_year = clock.local_today(tz=current_app.config["TIMEZONE"]).year
    missing = False
    for year in years or (this_year, this_year + 1):
        status = calendar.status(year)
        missing = missing or status.missing
        click.echo(("警告：" if status.missing else "") + status.message)
        for entry in calendar.days(year):
            click.echo(f"  {format_date(entry.day)} {'上班' if entry.workday else '放假'} "
                       f"{entry.name}（{entry.origin}）")
    if missing:
        raise SystemExit(1)


@notifications_cli.command("send")
@click.option("--limit", default=200, show_default=True, help="At most this many per run.")
def notifications_send(limit: int) -> None:
    """Deliver pending notifications: mail by SMTP if PORTAL_SMTP_HOST is set, SMS through
    PORTAL_SMS_PROVIDER; either only logged without them."""
    config = current_app.config
    session = get_session()
    report = notifications.send_pending(
        session, notifications.sender_from_settings(config),
        sms_channel=sms.channel_from_settings(config, cipher()),
        max_tries=config["NOTIFY_MAX_TRIES"], limit=limit)
    session.commit()
    click.echo(f"已发送 {report.sent} 条，失败 {report.failed} 条（其中放弃 {report.gave_up} 条）")
    for line in report.errors:
        click.echo(f"  {line}", err=True)


def register(app: Flask) -> None:
    for group in (sla_cli, calendar_cli, notifications_cli):
        app.cli.add_command(group)
