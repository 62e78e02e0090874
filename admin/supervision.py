"""The supervisor's dashboard and the plan's goals panel.

Every figure is a ``LedgerFilter`` counted by the ledger's own query, and links to the ledger
with that same filter, so the number on the dashboard is the number of rows behind the link.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, url_for
from sqlalchemy import select

from admin import bp
from admin.access import require
from portal.db import get_session, utcnow
from portal.domain import goals as plan_goals
from portal.domain import ledger
from portal.domain.enums import Severity
from portal.domain.models import Department, Village
from portal.domain.permissions import Permission
from portal.public.caching import figure_cache

LedgerFilter = ledger.LedgerFilter


@dataclass(frozen=True)
class Tile:
    label: str
    value: int
    href: str
    alert: bool = False


def ledger_url(f: LedgerFilter) -> str:
    return url_for("admin.ledger_page", **f.to_args())


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


def _breakdown(model: Any, dimension: str, field: str, now: Any, tz: str) -> list[dict[str, Any]]:
    """Open and overdue cases per village or lead department, with links to the ledger."""
    db = get_session()
    opened = LedgerFilter(open_only=True)
    late = LedgerFilter(overdue=ledger.Overdue.ANY)
    open_counts = _counts_by(opened, dimension, now, tz)
    late_counts = _counts_by(late, dimension, now, tz)
    rows = []
    for key, name in db.execute(select(model.id, model.name).order_by(model.name)):
        if not open_counts.get(key) and not late_counts.get(key):
            continue
        rows.append({
            "name": name,
            "open": Tile("未办结", open_counts.get(key, 0),
                         ledger_url(opened.with_(**{field: key}))),
            "overdue": Tile("超期", late_counts.get(key, 0),
                            ledger_url(late.with_(**{field: key})), True),
        })
    rows.sort(key=lambda r: (-r["overdue"].value, -r["open"].value))
    return rows


@bp.route("/supervision")
@require(Permission.SUPERVISION_VIEW)
def supervision():
    now, tz = utcnow(), current_app.config["TIMEZONE"]
    by_status = _counts_by(LedgerFilter(open_only=True), "status", now, tz)
    stages = [Tile(status.label, by_status.get(status, 0),
                   ledger_url(LedgerFilter(statuses=(status,))))
              for status in ledger.OPEN_STATUSES]
    headline = [
        _tile("未办结隐患", LedgerFilter(open_only=True), now, tz),
        _tile("核查超期", LedgerFilter(overdue=ledger.Overdue.CHECK), now, tz, alert=True),
        _tile("整改超期", LedgerFilter(overdue=ledger.Overdue.RECTIFY), now, tz, alert=True),
        _tile("7 日内到期", LedgerFilter(due_soon=True), now, tz),
        _tile("未销案重大隐患", LedgerFilter(severity=Severity.MAJOR, open_only=True), now, tz,
              alert=True),
        _tile("挂牌督办", LedgerFilter(listed=True), now, tz),
    ]
    return render_template(
        "admin/supervision.html", headline=headline, stages=stages,
        departments=_breakdown(Department, "department", "department_id", now, tz),
        villages=_breakdown(Village, "village", "village_id", now, tz),
        goals=figure_cache.get_or_compute(
            ("goals", tz), lambda: plan_goals.plan_goals(get_session(), utcnow(), tz)),
        ledger_url=ledger_url)


@bp.route("/supervision/goals")
@require(Permission.SUPERVISION_VIEW)
def goals():
    db = get_session()
    now, tz = utcnow(), current_app.config["TIMEZONE"]
    result = plan_goals.plan_goals(db, now, tz)
    return render_template("admin/goals.html", goals=result, ledger_url=ledger_url,
                           peak=max([f.value for f in result.series] + [1]))
