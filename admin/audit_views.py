"""The audit log, filtered by action, object, actor and date; newest first, paginated.

A township's staff read the rows their own township's staff wrote, and nothing else (not the
county's, not another township's, not the system's); checking the hash chain, which spans the
whole log, is the county's.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, render_template, request
from flask_login import current_user
from sqlalchemy import select

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain.access import audit, audit_labels
from portal.domain.access.permissions import Permission, townships_of
from portal.domain.clock import local_zone
from portal.domain.models import AuditLog, User

PAGE_SIZE = 50


def _day(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.route("/audit")
@require(Permission.AUDIT_READ)
def audit_log():
    db = get_session()
    query = select(AuditLog)
    scope = townships_of(current_user)
    if scope is not None:
        query = query.where(AuditLog.actor_id.in_(
            select(User.id).where(User.township_id.in_(sorted(scope)))))
    action = request.args.get("action", "").strip()
    object_type = request.args.get("object_type", "").strip()
    object_id = request.args.get("object_id", "").strip()
    actor = request.args.get("actor", "").strip()
    if action:
        query = query.where(AuditLog.action.startswith(action))
    if object_type:
        query = query.where(AuditLog.object_type == object_type)
    if object_id:
        query = query.where(AuditLog.object_id == object_id)
    if actor:
        query = query.where(AuditLog.actor_name == actor.lower())
    since, until = _day("since"), _day("until")
    if since:
        start = dt.datetime.combine(since, dt.time(), local_zone())
        query = query.where(AuditLog.created_at >= start)
    if until:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), local_zone())
        query = query.where(AuditLog.created_at < end)
    # Keyset pagination on the primary key: cheap however long the log grows.
    before = request.args.get("before", "")
    if before.isdigit() and len(before) <= 18:
        query = query.where(AuditLog.id < int(before))
    rows = db.scalars(query.order_by(AuditLog.id.desc()).limit(PAGE_SIZE + 1)).all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    verify = bool(request.args.get("verify")) and scope is None
    check = audit.verify(db, current_app.config["AUDIT_CHECKPOINT_FILE"]) if verify else None
    return render_template("admin/audit.html", rows=rows, more=more, args=args,
                           verified=verify, chain_break=check, may_verify=scope is None,
                           labels=audit_labels)
