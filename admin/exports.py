"""My exports (我的导出): the user's background jobs, and the files they produced."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Response, abort, current_app, render_template, request
from flask_login import current_user

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain import jobs
from portal.domain.access.permissions import Permission
from portal.domain.clock import utcnow
from portal.domain.enums import JobStatus
from portal.domain.models import Job
from portal.storage import StoreUnavailable, Streams
from portal.web.files import storage


def _expires_at(job: Job) -> dt.datetime | None:
    """When ``uploads gc`` removes the file (no row of the attachments names it)."""
    if job.finished_at is None:
        return None
    return job.finished_at + dt.timedelta(hours=current_app.config["UPLOAD_GC_GRACE_HOURS"])


@bp.route("/exports")
@require(Permission.SUPERVISION_VIEW)
def exports():
    return render_template("admin/exports.html", jobs=jobs.jobs_of(get_session(), current_user),
                           JobStatus=JobStatus, expires_at=_expires_at, now=utcnow())


@bp.route("/exports/download", methods=["POST"])
@require(Permission.SUPERVISION_VIEW)
def export_download():
    """The posted job's file, to its creator (and admins) only: anyone else is told it does
    not exist, as is anyone once the file is gone. A form (with its CSRF token) rather than
    a link, so the file's address is never in a log, a history or a Referer."""
    job_id = request.form.get("job", type=int)
    job = get_session().get(Job, job_id) if job_id else None
    if (job is None or job.kind != jobs.LEDGER_EXPORT or job.status is not JobStatus.DONE
            or not job.result or not jobs.may_download(job, current_user)):
        abort(404)
    name, fmt = job.result["file"], job.result["format"]
    store = storage()
    try:
        if isinstance(store, Streams):
            stored = store.open(name)
            response = Response(stored.chunks, mimetype=jobs.EXPORT_TYPES[fmt])
            response.content_length = stored.size
            response.call_on_close(stored.close)
        else:
            response = Response(store.get(name), mimetype=jobs.EXPORT_TYPES[fmt])
    except (FileNotFoundError, ValueError):
        abort(404)
    except StoreUnavailable:
        abort(503)
    filename = job.result.get("filename") or f"ledger.{fmt}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=ledger.{fmt}; filename*=UTF-8''{quote(filename)}")
    return response
