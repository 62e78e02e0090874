"""The public side: home, report form, receipt tracking, disclosures, open data."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from portal.public import (  # noqa: E402,F401
    bulletins,
    checks,
    disclosures,
    media,
    opendata,
    rating,
    report,
    routes,
    selfcheck,
    stats,
    townships,
    track,
    warnings,
)

townships.register(bp)
