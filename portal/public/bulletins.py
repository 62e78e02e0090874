"""Published bulletins (通报) on the public site: a list and one page each."""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy import select

from portal.db import get_session
from portal.domain.models import Bulletin
from portal.domain.supervision import bulletins
from portal.public import bp


@bp.route("/bulletins")
def bulletin_list():
    found = bulletins.published(get_session(), request.args.get("page"))
    return render_template("portal/bulletins.html", page=found)


@bp.route("/bulletins/<int:bulletin_id>")
def bulletin(bulletin_id: int):
    found = get_session().scalar(select(Bulletin).where(
        Bulletin.id == bulletin_id, Bulletin.published_at.is_not(None)))
    if found is None:
        abort(404)  # drafts do not exist for the public
    return render_template("portal/bulletin.html", bulletin=found)
