"""The working-day calendar (节假日安排): admins enter a year from the State Council's notice,
through the same import as ``flask calendar import``; admin and supervisor pages warn when the
current or next year's schedule is missing."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import can, require
from admin.acting import act
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


def _import(text: str, fmt: str, notice: str) -> sla.ImportReport:
    """The schedule as entered; the notice typed on the form wins over the file's."""
    rows, file_notice = sla.parse_schedule(text, fmt)
    return sla.import_schedule(get_session(), rows, notice=notice or file_notice,
                               actor=current_user)


@bp.route("/calendar", methods=["GET", "POST"])
@require(Permission.SETTINGS_MANAGE)
def calendar():
    form = CalendarImportForm()

    def page(error: str = "", status: int = 200) -> Any:
        years = get_session().scalars(
            select(CalendarYear).order_by(CalendarYear.year.desc()).limit(20)).all()
        return render_template("admin/calendar.html", form=form, error=error, years=years,
                               statuses=calendar_statuses()), status

    if not form.validate_on_submit():
        return page()
    upload = form.file.data
    if upload and getattr(upload, "filename", ""):
        fmt = upload.filename.rsplit(".", 1)[-1].lower()
        raw = upload.stream.read(MAX_FILE_BYTES + 1)
        text = raw.decode("utf-8-sig", errors="replace")
    else:
        fmt, raw = form.fmt.data, b""
        text = form.text.data or ""
    if len(raw) > MAX_FILE_BYTES:
        return page("文件过大，一年的安排不会超过 200 KB", 400)
    if not text.strip():
        return page("请选择文件或粘贴放假安排", 400)
    return act(lambda: _import(text, fmt, form.notice.data or ""),
               done=lambda report: f"已录入 {report.year} 年安排：放假 {report.holidays} 天，"
                                   f"调休上班 {report.workdays} 天。",
               then=url_for("admin.calendar"), refused=page)
