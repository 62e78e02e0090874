"""Department review (考核): a table per period and simple server-rendered bar charts."""

from __future__ import annotations

import datetime as dt

from flask import current_app, render_template, request
from flask_login import current_user

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain import clock
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.clock import utcnow
from portal.domain.supervision import review as review_service


def _date(name: str, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default


@bp.route("/review")
@require(Permission.SUPERVISION_VIEW)
def review():
    tz = current_app.config["TIMEZONE"]
    today = clock.local_today(tz=tz)
    start = _date("start", today.replace(month=1, day=1))
    end = _date("end", today)
    error = None
    if end < start:
        start, end, error = end, start, "结束日期早于开始日期，已对调。"
    rows = review_service.review(get_session(), start, end, utcnow(), tz,
                                 townships_of(current_user))
    charts = [
        ("按时核查率", "checked_on_time_pct"),
        ("按时整改率", "rectified_on_time_pct"),
        ("文书、复查与报告按时率", "limits_on_time_pct"),
        ("满意率", "satisfaction_pct"),
    ]
    return render_template("admin/review.html", rows=rows, start=start, end=end,
                           charts=charts, error=error,
                           most_notices=max([r.urging_notices for r in rows] + [1]))
