"""Open311 GeoReport v2 for partner channels and open data (served under /open311/v2/)."""

from typing import Any

from flask import Blueprint
from werkzeug.routing import PathConverter

bp = Blueprint("api", __name__, url_prefix="/open311/v2")


class AnyPathConverter(PathConverter):
    """Like ``path``, but also matches paths with line breaks, so that no URL under the API
    escapes its error format."""

    regex = r"[\s\S]+"
    part_isolating = False  # spans slashes (werkzeug infers it from "/" in the regex)


# Registered before the routes below are added, which need it.
@bp.record_once
def _register_converter(state: Any) -> None:
    state.app.url_map.converters.setdefault("anypath", AnyPathConverter)

from portal.api import routes, service_requests  # noqa: E402,F401
