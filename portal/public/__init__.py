"""The public side: home, report form, receipt tracking, disclosures, open data."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from portal.public import (  # noqa: E402,F401
    bulletins,
    disclosures,
    media,
    opendata,
    rating,
    report,
    routes,
    stats,
    townships,
    track,
)

townships.register(bp)
