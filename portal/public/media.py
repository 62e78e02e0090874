"""Uploaded files are served through this view, which checks who may see each one."""

from __future__ import annotations

from flask import abort
from sqlalchemy import or_, select

from portal.db import get_session
from portal.domain.disclosure import publication
from portal.domain.models import Attachment
from portal.public import bp
from portal.public.track import tracked_tip
from portal.web.files import send_attachment


def _visible_to_this_visitor(attachment: Attachment) -> bool:
    if attachment.withheld:
        return False
    tip = tracked_tip()  # the reporter sees their own photos
    return tip is not None and attachment.tip_id == tip.id


@bp.get("/media/<name>")
def media(name: str):
    attachment = get_session().scalar(
        select(Attachment).where(
            or_(Attachment.stored_name == name, Attachment.thumbnail_name == name)
        )
    )
    if attachment is None:
        abort(404)
    # The disclosure rule decides what anyone may load; only that may be cached publicly.
    public = publication.is_public_photo(get_session(), attachment)
    if not public and not _visible_to_this_visitor(attachment):
        abort(404)
    return send_attachment(attachment, name, public=public)
