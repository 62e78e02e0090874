"""Risk warnings (风险预警提示) on the public site: the published ones not withdrawn, current
first, their text masked (``portal.domain.inspection.warnings``). A township's address shows
the county's warnings and its own."""

from __future__ import annotations

from flask import render_template

from portal.db import get_session
from portal.domain.clock import local_today
from portal.domain.inspection import warnings
from portal.public import bp, townships
from portal.web.caching import conditional


@bp.route("/warnings", endpoint="warnings")
@conditional(tips=False)
def warnings_page():
    today = local_today()
    found = warnings.published_public(get_session(), township_id=townships.current_id(),
                                      today=today)
    return render_template("portal/warnings.html", warnings=found, today=today)
