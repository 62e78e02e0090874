"""Published bulletins (通报) on the public site: a list and one page each, masked."""

from __future__ import annotations

from flask import abort, render_template, request

from portal.db import get_session
from portal.domain.supervision import bulletins
from portal.public import bp, townships


@bp.route("/bulletins")
def bulletin_list():
    found = bulletins.published_public(get_session(), request.args.get("page"),
                                       township_id=townships.current_id())
    return render_template("portal/bulletins.html", page=found)


@bp.route("/bulletins/<int:bulletin_id>")
def bulletin(bulletin_id: int):
    found = bulletins.published_bulletin(get_session(), bulletin_id,
                                         township_id=townships.current_id())
    if found is None:
        abort(404)  # drafts do not exist for the public
    return render_template("portal/bulletin.html", bulletin=found)
