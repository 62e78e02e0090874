"""The department desk (部门工作台): an officer's own department's assignments in groups, and
the closures list of moderators and supervisors. The case page is ``admin.desk_case``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, render_template, request
from flask_login import current_user

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain import paging
from portal.domain.access.permissions import Permission, case_scope
from portal.domain.casework import limits, worklists
from portal.domain.clock import utcnow
from portal.domain.models import Department

# ---------------------------------------------------------------- the desk list


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    hint: str


GROUPS = [
    Group("new", "新派单", "签收后开始核查；不属于本部门职责的请退回并说明理由"),
    Group("checking", "核查中", "到现场核查，登记属实或不属实"),
    Group("rectifying", "整改中", "下达整改期限、发布进展、报告整改完成"),
    Group("rectified", "待销案", "已报告整改完成，等待验收销案"),
    Group("follow_up", "回头看", "已销案，到期回访，确认整改是否保持"),
]
GROUP_KEYS = {g.key: g for g in GROUPS}


@bp.route("/desk")
@require(Permission.CASES_WORK)
def desk():
    """Every group's first cases (``worklists.GROUP_PREVIEW``) and total; ``?group=`` shows
    one group whole, paged (``&page=``)."""
    db = get_session()
    department_id = current_user.department_id
    if department_id is None:
        abort(404)
    now = utcnow()
    # Only the townships the department serves: nothing of another township shows.
    scope = case_scope(current_user)
    only = request.args.get("group")
    groups = []
    page = pages = 1
    for group in GROUPS:
        if only and only != group.key:
            continue
        if only:
            found = worklists.desk_group(db, department_id, group.key,
                                         page=request.args.get("page"), scope=scope)
            page, pages = found.number, found.pages
        else:
            found = worklists.desk_group(db, department_id, group.key, page=1,
                                         size=worklists.GROUP_PREVIEW, scope=scope)
        groups.append((group, found.total, [
            (c, limits.due_of(c, now), worklists.role_on(c, department_id)) for c in found.items]))
    return render_template(
        "admin/desk.html", groups=groups, only=only, page=page, pages=pages,
        department=db.get(Department, department_id), preview=worklists.GROUP_PREVIEW)


@bp.route("/closures")
@require(Permission.CASES_CLOSE)
def closures():
    """For moderators and supervisors: cases awaiting closure, extension requests to decide,
    and follow-ups (回头看) coming due. Each section is paged on its own:
    ``?section=awaiting|extensions|follow_ups&page=N`` turns that section to page N (the
    others show their first page)."""
    db = get_session()
    now = utcnow()
    args = request.args
    scope = case_scope(current_user)
    return render_template(
        "admin/desk_closures.html",
        awaiting=worklists.awaiting_closure(db, page=paging.page_in(args, "awaiting"),
                                            scope=scope),
        extensions=worklists.pending_extensions(db, page=paging.page_in(args, "extensions"),
                                                scope=scope),
        follow_ups=worklists.follow_ups(db, page=paging.page_in(args, "follow_ups"),
                                        scope=scope),
        due_of=lambda c: limits.due_of(c, now))
