"""Cases as staff read them: officers only their own department's, others all.

Nothing here reads a tip's reporter identity: the case page shows the case, its unit and its
timeline, and for linked tips only their ids and redacted descriptions to those who moderate.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain.access.permissions import Permission, case_scope, has_permission
from portal.domain.casework import worklists
from portal.domain.casework.actions import may
from portal.domain.inspection import rounds
from portal.domain.models import Case, Tip


@bp.route("/cases")
@require(Permission.CASES_READ)
def cases():
    found = worklists.staff_cases(get_session(), current_user, page=request.args.get("page"))
    return render_template("admin/cases.html", page=found)


@bp.route("/cases/<int:case_id>")
@require(Permission.CASES_READ)
def case(case_id: int):
    db = get_session()
    found = db.scalar(select(Case).where(Case.id == case_id, case_scope(current_user)))
    if found is None:
        abort(404)
    tips: list[Tip] = []
    if has_permission(current_user.role, Permission.QUEUE_VIEW):
        tips = list(db.scalars(select(Tip).where(Tip.case_id == found.id).order_by(Tip.id)))
    return render_template("admin/case.html", case=found, tips=tips,
                           may_route=may(found, current_user, "route"),
                           task=rounds.task_of_case(db, found.id))
