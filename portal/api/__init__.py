"""Open311 GeoReport v2 for partner channels and open data (served under /open311/v2/)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/open311/v2")

from portal.api import routes, service_requests  # noqa: E402,F401
