"""Uploaded files are served through this view, which checks who may see each one."""

from __future__ import annotations

from flask import abort
from sqlalchemy import or_, select

from portal.db import get_session
from portal.domain.models import Attachment, Case, CaseEvent
from portal.public import bp
from portal.public.track import tracked_tip
from portal.web.files import send_attachment


def _visible_to_this_visitor(attachment: Attachment) -> bool:
    if attachment.withheld:
        return False
    if attachment.public and _on_a_disclosed_case(attachment):
        return True
    tip = tracked_tip()  # the reporter sees their own photos
    return tip is not None and attachment.tip_id == tip.id


def _on_a_disclosed_case(attachment: Attachment) -> bool:
    """A photo marked public is public only while its case is disclosed: marked on a case
    that is later withdrawn, or never disclosed, it stays inside."""
    if attachment.case_event_id is None:
        return False
    disclosed = get_session().scalar(
        select(Case.disclosed).join(CaseEvent, CaseEvent.case_id == Case.id)
        .where(CaseEvent.id == attachment.case_event_id))
    return bool(disclosed)


@bp.get("/media/<name>")
def media(name: str):
    attachment = get_session().scalar(
        select(Attachment).where(
            or_(Attachment.stored_name == name, Attachment.thumbnail_name == name)
        )
    )
    if attachment is None or not _visible_to_this_visitor(attachment):
        abort(404)
    return send_attachment(attachment, name, public=attachment.public)
