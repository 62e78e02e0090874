"""Random checks' results (双随机、一公开) on the public site: the ones a moderator approved,
by unit, masked; a township's own on its /t/<code>/ address."""

from __future__ import annotations

from flask import render_template, request

from portal.db import get_session
from portal.domain.inspection import check_results
from portal.public import bp, townships
from portal.web.caching import conditional

PER_PAGE = 20


@bp.get("/checks")
@conditional(tips=False)
def random_checks():
    found = check_results.published(get_session(), township_id=townships.current_id(),
                                    page=request.args.get("page"), per_page=PER_PAGE)
    return render_template("portal/checks.html", page=found)
