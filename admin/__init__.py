"""The back office, served under /admin/. Views are thin: forms in, one domain call, commit."""

from flask import Blueprint, Response

bp = Blueprint("admin", __name__, url_prefix="/admin")

from admin import access  # noqa: E402

bp.before_request(access.idle_timeout)


@bp.after_request
def _never_stored(response: Response) -> Response:
    """No staff page, export or file is kept by a browser or a proxy: a shared computer's
    back button or cache must not show the next person a reporter's details or a case."""
    response.headers["Cache-Control"] = "no-store"
    return response


from admin import (  # noqa: E402, F401
    apikeys,
    audit_views,
    auth,
    bulletins,
    calendar_views,
    cases,
    desk,
    desk_case,
    disclosure_views,
    documents,
    exports,
    field_views,
    history_views,
    inspection_hub,
    intake_views,
    ledger,
    listings,
    queue,
    ratings,
    register_views,
    review,
    rewards,
    rounds_views,
    routing_views,
    selfcheck_views,
    settings_views,
    supervision,
    tips,
    urging,
    users,
    vocabulary_views,
    warnings_views,
)
