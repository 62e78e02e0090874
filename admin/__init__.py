"""The back office, served under /admin/. Views are thin: forms in, one domain call, commit."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from admin import access  # noqa: E402

bp.before_request(access.idle_timeout)

from admin import (  # noqa: E402, F401
    apikeys,
    audit_views,
    auth,
    cases,
    disclosure_views,
    intake_views,
    queue,
    settings_views,
    tips,
    users,
    vocabulary_views,
)
