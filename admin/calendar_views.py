"""The working-day calendar (节假日安排): admins enter a year from the State Council's notice,
through the same import as ``flask calendar import``. When the current or next year's schedule
is missing, those who can import it (``calendar:import``) are told on every page, with a link
here; everyone else sees a quiet note only beside a deadline counted in working days of such a
year."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import can, require
from admin.acting import act
from admin.case_forms import CalendarImportForm
from portal.db import get_session
from portal.domain import clock
from portal.domain.access.permissions import Permission, manages
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
    """For those who can import the schedule: one message per missing year (empty for others).

    Shown on every page of theirs, so it is memoised (building a year's holiday list is slow);
    an imported schedule changes the data version and shows at once."""
    if not can(Permission.CALENDAR_IMPORT) or not manages(current_user, None):
        return []
    return [status.message for status in _missing_years()]


def _missing_years() -> list[sla.CalendarStatus]:
    return figure_cache.get_or_compute(
        ("calendar_missing", clock.local_today().year),
        lambda: [s for s in calendar_statuses() if s.missing])


@bp.app_template_global()
def calendar_note(deadline: dt.datetime | dt.date | None) -> str:
    """Beside a deadline counted in working days: a quiet note when its year's schedule is
    missing (so the count skipped no make-up working day); empty otherwise, and for those who
    already see the warning above every page."""
    if deadline is None or can(Permission.CALENDAR_IMPORT):
        return ""
    day = clock.to_local(deadline).date() if isinstance(deadline, dt.datetime) else deadline
    if day.year not in {status.year for status in _missing_years()}:
        return ""
    return f"{day.year} 年调休安排尚未录入，此期限暂按周一至周五推算。"


def _import(text: str, fmt: str, notice: str) -> sla.ImportReport:
    """The schedule as entered; the notice typed on the form wins over the file's."""
    rows, file_notice = sla.parse_schedule(text, fmt)
    return sla.import_schedule(get_session(), rows, notice=notice or file_notice,
                               actor=current_user)


@bp.route("/calendar", methods=["GET", "POST"])
@require(Permission.CALENDAR_IMPORT)
def calendar():
    form = CalendarImportForm()
    # One calendar for the whole county: the county admin enters it, a township's reads it.
    editable = manages(current_user, None)
    if request.method == "POST" and not editable:
        abort(403)

    def page(error: str = "", status: int = 200) -> Any:
        db = get_session()
        years = db.scalars(
            select(CalendarYear).order_by(CalendarYear.year.desc()).limit(20)).all()
        # This year's and next year's days, each with where it comes from.
        schedules = [(s, sla.calendar_days(db, s.year)) for s in calendar_statuses()]
        return render_template("admin/calendar.html", form=form if editable else None,
                               error=error, years=years, schedules=schedules), status

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
               done=lambda report: f"{report.message}。",
               then=url_for("admin.calendar"), refused=page)
