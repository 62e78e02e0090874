"""The hazard ledger (隐患台账): filter, sort, page, and export to CSV or XLSX.

Every filter a page reads is narrowed to the user's townships (``ledger_scope``): a township's
staff see, count and export their township's cases only, whatever the query string says.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import require
from admin.acting import act
from portal.db import get_session
from portal.domain import clock, jobs, paging
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.administration import townships
from portal.domain.clock import utcnow
from portal.domain.enums import CaseStatus, Severity, SupervisionLevel
from portal.domain.models import (
    Case,
    Category,
    Department,
    Township,
    VenueType,
)
from portal.domain.supervision import exports, ledger
from portal.web.caching import figure_cache, per_audit_version

PAGE_SIZE = 50


def ledger_scope(f: ledger.LedgerFilter) -> ledger.LedgerFilter:
    """``f`` narrowed to the townships the signed-in user may see."""
    return ledger.scoped(f, townships_of(current_user))


def _filter() -> ledger.LedgerFilter:
    return ledger_scope(ledger.LedgerFilter.from_args(request.args))


def _villages(scope: frozenset[int] | None) -> list[tuple[int, str]]:
    """The villages to choose from: the user's townships', named with the township where
    they span several."""
    return townships.village_choices(get_session(), scope)


def choices() -> dict[str, Any]:
    """The options of the filter form: the user's townships' villages and departments, read
    once per process for each newest audit row (only audited writes change them)."""
    scope = townships_of(current_user)
    return per_audit_version(("ledger choices", scope), lambda: _choices(scope))


def _choices(scope: frozenset[int] | None) -> dict[str, Any]:
    db = get_session()

    def names(model: Any, *where: Any) -> list[tuple[int, str]]:
        return [(key, name) for key, name in db.execute(
            select(model.id, model.name).where(*where).order_by(model.name))]

    serving = (() if scope is None else (Department.serves.any(
        Township.id.in_(sorted(scope))),))
    return {
        "statuses": list(CaseStatus),
        "townships": ([(t.id, t.name) for t in townships.active(db)] if scope is None
                      else []),
        "departments": names(Department, *serving),
        "villages": _villages(scope),
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
    f = _filter()
    # The same memoised count the dashboard shows, so the two always agree.
    tz = _tz()
    total = figure_cache.get_or_compute(
        ("count", repr(f), tz), lambda: ledger.count(get_session(), f, utcnow(), tz))
    # The page's ids first, from the filter's index alone, then its rows and what they show.
    ids = paging.paginate(db, ledger.select_cases(f, now, tz).with_only_columns(Case.id),
                          page=request.args.get("page"), size=PAGE_SIZE, total=total)
    # Its lines as plain columns, lead department and overdue flag included, in one query.
    found = ledger.page_rows(db, ids, now, tz)
    return render_template(
        "admin/ledger.html", page=found, f=f,
        args=f.to_args(), choices=choices(), now=now,
        export_job_rows=current_app.config["EXPORT_JOB_ROWS"])


def _download(chunks: Any, filename: str, mimetype: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=ledger.{filename.rsplit('.', 1)[1]}; "
        f"filename*=UTF-8''{quote(filename)}")
    return response


def _export_name(ext: str) -> str:
    return f"隐患台账-{clock.local_today(tz=_tz()):%Y%m%d}.{ext}"


def _too_large(f: ledger.LedgerFilter) -> bool:
    """Whether the export is for the worker: more rows than a web worker may stream before
    its timeout kills it (``PORTAL_EXPORT_JOB_ROWS``)."""
    return ledger.count(get_session(), f, utcnow(), _tz()) > current_app.config["EXPORT_JOB_ROWS"]


def _to_background(f: ledger.LedgerFilter) -> Any:
    flash(f"导出超过 {current_app.config['EXPORT_JOB_ROWS']} 行，请使用“后台导出”。", "error")
    return redirect(url_for("admin.ledger_page", **f.to_args()), 303)


@bp.route("/ledger/export", methods=["POST"])
@require(Permission.SUPERVISION_VIEW)
def ledger_export_job():
    """Queue the export of the filtered ledger (the query string) in the posted format for
    the worker; the file is fetched from the user's exports page when it is done. A small
    export is streamed as before."""
    f = _filter()
    fmt = request.form.get("format", "")
    if fmt not in jobs.EXPORT_TYPES:
        return redirect(url_for("admin.ledger_page", **f.to_args()), 303)
    if not _too_large(f):
        return redirect(url_for(f"admin.ledger_{fmt}", **f.to_args()), 303)
    db = get_session()
    params = jobs.ledger_export_params(f, fmt, utcnow(), _tz(), _export_name(fmt))
    return act(lambda: jobs.enqueue(db, jobs.LEDGER_EXPORT, params, current_user),
               done="已加入后台导出，完成后可在“我的导出”下载。",
               then=url_for("admin.exports"),
               refused=lambda message, _status: _to_background(f),
               refusals=(jobs.JobError,))


@bp.route("/ledger.csv")
@require(Permission.SUPERVISION_VIEW)
def ledger_csv():
    f = _filter()
    if _too_large(f):
        return _to_background(f)
    rows = ledger.export_rows(get_session(), f, utcnow(), _tz())
    return _download(exports.csv_chunks(ledger.EXPORT_HEADERS, rows), _export_name("csv"),
                     "text/csv; charset=utf-8")


@bp.route("/ledger.xlsx")
@require(Permission.SUPERVISION_VIEW)
def ledger_xlsx():
    f = _filter()
    if _too_large(f):
        return _to_background(f)
    rows = ledger.export_rows(get_session(), f, utcnow(), _tz())
    return _download(exports.xlsx_chunks(ledger.EXPORT_HEADERS, rows, "隐患台账"),
                     _export_name("xlsx"),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
