"""The working-day calendar (节假日安排): admins enter a year from the State Council's notice,
through the same import as ``flask calendar import``; admin and supervisor pages warn when the
current or next year's schedule is missing."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import can, require
from admin.case_forms import CalendarImportForm
from portal.db import get_session
from portal.domain import clock
from portal.domain.access.permissions import Permission
from portal.domain.casework import sla
from portal.domain.models import CalendarYear
from portal.web.caching import figure_cache

MAX_FILE_BYTES = 200_000


def calendar_statuses() -> list[sla.CalendarStatus]:
    """This year's and next year's source of working days."""
    year = clock.local_today().year
    db = get_session()
    return [sla.calendar_status(db, y) for y in (year, year + 1)]


@bp.app_template_global()
def calendar_warnings() -> list[str]:
    """For admin and supervisor pages: one message per missing year (empty for others).

    Shown on every page of theirs, so it is memoised (building a year's holiday list is slow);
    an imported schedule changes the data version and shows at once."""
    if not (can(Permission.SETTINGS_MANAGE) or can(Permission.CASES_SUPERVISE)):
        return []
    return figure_cache.get_or_compute(
        ("calendar_warnings", clock.local_today().year),
        lambda: [s.message for s in calendar_statuses() if s.missing])


@bp.route("/calendar", methods=["GET", "POST"])
@require(Permission.SETTINGS_MANAGE)
def calendar():
    db = get_session()
    form = CalendarImportForm()
    error = ""
    if form.validate_on_submit():
        upload = form.file.data
        if upload and getattr(upload, "filename", ""):
            fmt = upload.filename.rsplit(".", 1)[-1].lower()
            raw = upload.stream.read(MAX_FILE_BYTES + 1)
            text = raw.decode("utf-8-sig", errors="replace")
        else:
            fmt, raw = form.fmt.data, b""
            text = form.text.data or ""
        if len(raw) > MAX_FILE_BYTES:
            error = "文件过大，一年的安排不会超过 200 KB"
        elif not text.strip():
            error = "请选择文件或粘贴放假安排"
        else:
            try:
                rows, notice = sla.parse_schedule(text, fmt)
                report = sla.import_schedule(db, rows, notice=form.notice.data or notice,
                                             actor=current_user)
            except sla.CalendarImportError as exc:
                db.rollback()
                error = str(exc)
            else:
                db.commit()
                flash(f"已录入 {report.year} 年安排：放假 {report.holidays} 天，"
                      f"调休上班 {report.workdays} 天。", "success")
                return redirect(url_for("admin.calendar"), 303)
    years = db.scalars(select(CalendarYear).order_by(CalendarYear.year.desc()).limit(20)).all()
    return render_template("admin/calendar.html", form=form, error=error, years=years,
                           statuses=calendar_statuses()), 400 if error else 200
