"""The supervisor's dashboard and the plan's goals panel.

Every figure is a ``LedgerFilter`` counted by the ledger's own query, and links to the ledger
with that same filter, so the number on the dashboard is the number of rows behind the link.
A township's staff see their township's figures (``ledger_scope``); the county's staff see the
county's, and the ranking of its townships.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import require
from admin.ledger import ledger_scope
from portal.db import get_session
from portal.domain.access.permissions import Permission, is_county_staff
from portal.domain.clock import utcnow
from portal.domain.enums import Severity
from portal.domain.models import Department, Village
from portal.domain.supervision import goals as plan_goals
from portal.domain.supervision import ledger, ranking
from portal.web.caching import figure_cache

LedgerFilter = ledger.LedgerFilter


@dataclass(frozen=True)
class Tile:
    label: str
    value: int
    href: str
    alert: bool = False


_URLS: dict[tuple[str, LedgerFilter], str] = {}


def ledger_url(f: LedgerFilter) -> str:
    """The ledger filtered by ``f``. Memoised per filter (a frozen dataclass): the overview
    builds forty of these per view, and a filter's URL never changes within a process."""
    key = (request.script_root, f)
    url = _URLS.get(key)
    if url is None:
        if len(_URLS) > 4096:
            _URLS.clear()
        url = _URLS[key] = url_for("admin.ledger_page", **f.to_args())
    return url


def _count(f: LedgerFilter, now: Any, tz: str) -> int:
    return figure_cache.get_or_compute(
        ("count", repr(f), tz), lambda: ledger.count(get_session(), f, utcnow(), tz))


def _counts_by(f: LedgerFilter, dimension: str, now: Any, tz: str) -> dict[Any, int]:
    return figure_cache.get_or_compute(
        ("counts_by", repr(f), dimension, tz),
        lambda: ledger.counts_by(get_session(), f, dimension, utcnow(), tz))


def _tile(label: str, f: LedgerFilter, now: Any, tz: str, alert: bool = False) -> Tile:
    value = _count(f, now, tz)
    return Tile(label, value, ledger_url(f), alert and value > 0)


# The overview shows the departments and villages with the most overdue and open cases; a
# city has hundreds of each, and each has its own full page.
DASHBOARD_ROWS = 10
BREAKDOWNS: dict[str, tuple[type[Department] | type[Village], str, str, str]] = {
    "departments": (Department, "department", "department_id", "部门"),
    "villages": (Village, "village", "village_id", "行政村"),
}


def _breakdown(kind: str, base: LedgerFilter, now: Any, tz: str, limit: int | None = None
               ) -> tuple[list[dict[str, Any]], int]:
    """Open and overdue cases per village or lead department (of the cases ``base`` selects:
    the user's township), most overdue first, with links to the ledger: the first ``limit``
    rows, and how many there are in all."""
    field = BREAKDOWNS[kind][2]
    ranked = figure_cache.get_or_compute(("breakdown", kind, repr(base), tz),
                                         lambda: _ranked(kind, base, tz))
    opened = base.with_(open_only=True)
    late = base.with_(overdue=ledger.Overdue.ANY)
    rows = [{
        "name": name,
        "open": Tile("未办结", n_open, ledger_url(opened.with_(**{field: key}))),
        "overdue": Tile("超期", n_late, ledger_url(late.with_(**{field: key})), True),
    } for key, name, n_open, n_late in ranked[:limit]]
    return rows, len(ranked)


def _ranked(kind: str, base: LedgerFilter, tz: str) -> list[tuple[int, str, int, int]]:
    """(id, name, open, overdue) of every department or village with open or overdue cases,
    most overdue first, then most open, then by name."""
    model, dimension, _field, _label = BREAKDOWNS[kind]
    session, now = get_session(), utcnow()
    open_counts = ledger.counts_by(session, base.with_(open_only=True), dimension, now, tz)
    late_counts = ledger.counts_by(session, base.with_(overdue=ledger.Overdue.ANY),
                                   dimension, now, tz)
    ranked = [(key, name, open_counts.get(key, 0), late_counts.get(key, 0))
              for key, name in session.execute(select(model.id, model.name)
                                               .order_by(model.name))
              if open_counts.get(key) or late_counts.get(key)]
    ranked.sort(key=lambda row: (-row[3], -row[2]))
    return ranked


@bp.route("/supervision")
@require(Permission.SUPERVISION_VIEW)
def supervision():
    now, tz = utcnow(), current_app.config["TIMEZONE"]
    base = ledger_scope(LedgerFilter())
    by_status = _counts_by(base.with_(open_only=True), "status", now, tz)
    stages = [Tile(status.label, by_status.get(status, 0),
                   ledger_url(base.with_(statuses=(status,))))
              for status in ledger.OPEN_STATUSES]
    headline = [
        _tile("未办结隐患", base.with_(open_only=True), now, tz),
        _tile("核查超期", base.with_(overdue=ledger.Overdue.CHECK), now, tz, alert=True),
        _tile("整改超期", base.with_(overdue=ledger.Overdue.RECTIFY), now, tz, alert=True),
        _tile("文书、复查或报告超期", base.with_(overdue=ledger.Overdue.CLOCK), now, tz,
              alert=True),
        _tile("7 日内到期", base.with_(due_soon=True), now, tz),
        _tile("未销案重大隐患", base.with_(severity=Severity.MAJOR, open_only=True), now, tz,
              alert=True),
        _tile("挂牌督办", base.with_(listed=True), now, tz),
    ]
    departments, department_total = _breakdown("departments", base, now, tz, DASHBOARD_ROWS)
    villages, village_total = _breakdown("villages", base, now, tz, DASHBOARD_ROWS)
    # Only the county ranks its townships; a township's staff see their own figures above.
    townships = (figure_cache.get_or_compute(
        ("township_ranking", tz), lambda: ranking.township_ranking(get_session(), utcnow(), tz))
        if is_county_staff(current_user) else None)
    return render_template(
        "admin/supervision.html", headline=headline, stages=stages,
        departments=departments, department_total=department_total,
        villages=villages, village_total=village_total,
        goals=_goals(base.township_id, tz), townships=townships,
        ranking_figures=ranking.FIGURES, ledger_url=ledger_url)


def _goals(township_id: int | None, tz: str) -> plan_goals.Goals:
    return figure_cache.get_or_compute(
        ("goals", township_id, tz),
        lambda: plan_goals.plan_goals(get_session(), utcnow(), tz, township_id))


@bp.route("/supervision/goals")
@require(Permission.SUPERVISION_VIEW)
def goals():
    db = get_session()
    now, tz = utcnow(), current_app.config["TIMEZONE"]
    result = plan_goals.plan_goals(db, now, tz, ledger_scope(LedgerFilter()).township_id)
    return render_template("admin/goals.html", goals=result, ledger_url=ledger_url,
                           peak=max([f.value for f in result.series] + [1]))


def _breakdown_page(kind: str):
    """Every department or village with open or overdue cases (the overview shows the top)."""
    rows, total = _breakdown(kind, ledger_scope(LedgerFilter()), utcnow(),
                             current_app.config["TIMEZONE"])
    return render_template("admin/supervision_breakdown.html", rows=rows, total=total,
                           label=BREAKDOWNS[kind][3])


@bp.route("/supervision/departments")
@require(Permission.SUPERVISION_VIEW)
def supervision_departments():
    return _breakdown_page("departments")


@bp.route("/supervision/villages")
@require(Permission.SUPERVISION_VIEW)
def supervision_villages():
    return _breakdown_page("villages")
