"""Cases as staff read them: officers only their own department's, others all.

Nothing here reads a tip's reporter identity: the case page shows the case, its unit and its
timeline, and for linked tips only their ids and redacted descriptions to those who moderate.
"""

from __future__ import annotations

import math

from flask import abort, render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain.access.permissions import Permission, case_scope, has_permission
from portal.domain.models import Case, Tip

PAGE_SIZE = 30


@bp.route("/cases")
@require(Permission.CASES_READ)
def cases():
    db = get_session()
    scope = case_scope(current_user)
    total = db.scalar(select(func.count()).select_from(Case).where(scope)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page_arg = request.args.get("page", "1")
    page = min(max(int(page_arg) if page_arg.isdigit() else 1, 1), pages)
    rows = db.scalars(select(Case).where(scope).order_by(Case.id.desc())
                      .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return render_template("admin/cases.html", rows=rows, total=total, page=page, pages=pages)


@bp.route("/cases/<int:case_id>")
@require(Permission.CASES_READ)
def case(case_id: int):
    db = get_session()
    found = db.scalar(select(Case).where(Case.id == case_id, case_scope(current_user)))
    if found is None:
        abort(404)
    tips = []
    if has_permission(current_user.role, Permission.QUEUE_VIEW):
        tips = db.scalars(select(Tip).where(Tip.case_id == found.id).order_by(Tip.id)).all()
    return render_template("admin/case.html", case=found, tips=tips)
