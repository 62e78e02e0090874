from __future__ import annotations

from flask import current_app, jsonify, render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.db import get_session
from portal.extensions import limiter
from portal.public import bp
from portal.web.caching import conditional
from portal.web.files import storage
from portal.web.health import upload_store_problem


@bp.get("/")
@conditional
def home():
    return render_template("portal/home.html")


@bp.get("/livez")
@limiter.exempt
def livez():
    """Liveness: the process answers. Touches no database (readiness is /healthz)."""
    return jsonify(status="ok")


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Readiness: the database's state, and whatever else is down. 503 only when the
    database is: without Redis the limits are counted per process, and without the upload
    store reports without photos still arrive, so such an instance is "degraded" and stays
    in rotation. Cheap: one SELECT, one PING bounded by RATELIMIT_STORAGE_TIMEOUT, a stat."""
    try:
        get_session().execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "unreachable"
    down: dict[str, str] = {}
    if limiter.storage_shared and not limiter.storage_reachable():
        down["ratelimit_storage"] = "unreachable"
    min_free = int(current_app.config["UPLOAD_MIN_FREE_MB"]) * 1024 * 1024
    if problem := upload_store_problem(storage(), min_free):
        down["uploads"] = problem
    if database != "ok":
        return jsonify(status="error", database=database, down=["database", *sorted(down)],
                       **down), 503
    if down:
        return jsonify(status="degraded", database=database, down=sorted(down), **down)
    return jsonify(status="ok", database=database)
