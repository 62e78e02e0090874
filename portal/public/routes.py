from __future__ import annotations

from flask import jsonify, render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.db import get_session
from portal.extensions import limiter
from portal.public import bp
from portal.web.caching import conditional


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
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
