"""The hazard ledger (隐患台账): filter, sort, page, and export to CSV or XLSX."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, current_app, render_template, request, stream_with_context
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain import clock, paging
from portal.domain.access.permissions import Permission
from portal.domain.casework import leads, sla
from portal.domain.clock import utcnow
from portal.domain.enums import CaseStatus, Severity, SupervisionLevel
from portal.domain.models import Assignment, Case, Category, Department, Unit, VenueType, Village
from portal.domain.supervision import exports, ledger
from portal.web.caching import figure_cache

PAGE_SIZE = 50


def choices() -> dict[str, Any]:
    """The options of the filter form."""
    db = get_session()

    def names(model: Any) -> list[tuple[int, str]]:
        return [(key, name) for key, name in db.execute(
            select(model.id, model.name).order_by(model.name))]

    return {
        "statuses": list(CaseStatus),
        "departments": names(Department),
        "villages": names(Village),
        "categories": names(Category),
        "venue_types": names(VenueType),
        "severities": list(Severity),
        "levels": [level for level in SupervisionLevel if level is not SupervisionLevel.NONE],
        "overdue": ledger.OVERDUE_LABELS,
        "sorts": {key: label for key, (label, _) in ledger.SORTS.items()},
    }


def _tz() -> str:
    return current_app.config["TIMEZONE"]


@bp.route("/ledger")
@require(Permission.SUPERVISION_VIEW)
def ledger_page():
    db = get_session()
    now = utcnow()
    f = ledger.LedgerFilter.from_args(request.args)
    # The same memoised count the dashboard shows, so the two always agree.
    tz = _tz()
    total = figure_cache.get_or_compute(
        ("count", repr(f), tz), lambda: ledger.count(get_session(), f, utcnow(), tz))
    found = paging.paginate(
        db, ledger.select_cases(f, now, _tz())
        .options(joinedload(Case.unit).joinedload(Unit.venue_type), joinedload(Case.village),
                 joinedload(Case.category),
                 selectinload(Case.assignments).joinedload(Assignment.department)),
        page=request.args.get("page"), size=PAGE_SIZE, total=total)
    return render_template(
        "admin/ledger.html", page=found, f=f,
        args=f.to_args(), choices=choices(), now=now,
        is_overdue=lambda case: sla.is_overdue(case, now, _tz()),
        lead=leads.lead_name)




def _download(chunks: Any, filename: str, mimetype: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=ledger.{filename.rsplit('.', 1)[1]}; "
        f"filename*=UTF-8''{quote(filename)}")
    return response


def _export_name(ext: str) -> str:
    return f"隐患台账-{clock.local_today(tz=_tz()):%Y%m%d}.{ext}"


@bp.route("/ledger.csv")
@require(Permission.SUPERVISION_VIEW)
def ledger_csv():
    f = ledger.LedgerFilter.from_args(request.args)
    rows = ledger.export_rows(get_session(), f, utcnow(), _tz())
    return _download(exports.csv_chunks(ledger.EXPORT_HEADERS, rows), _export_name("csv"),
                     "text/csv; charset=utf-8")


@bp.route("/ledger.xlsx")
@require(Permission.SUPERVISION_VIEW)
def ledger_xlsx():
    f = ledger.LedgerFilter.from_args(request.args)
    rows = ledger.export_rows(get_session(), f, utcnow(), _tz())
    return _download(exports.xlsx_chunks(ledger.EXPORT_HEADERS, rows, "隐患台账"),
                     _export_name("xlsx"),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
