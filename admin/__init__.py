"""The back office, served under /admin/. Views are thin: forms in, one domain call, commit."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from admin import access  # noqa: E402

bp.before_request(access.idle_timeout)

from admin import (  # noqa: E402, F401
    apikeys,
    audit_views,
    auth,
    calendar_views,
    cases,
    desk,
    disclosure_views,
    intake_views,
    queue,
    routing_views,
    settings_views,
    tips,
    users,
    vocabulary_views,
)
