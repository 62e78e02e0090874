"""The moderation queue: pending tips, urgent first then oldest, filtered and paginated."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from flask import render_template, request
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain.access.permissions import Permission
from portal.domain.casework import sla
from portal.domain.clock import utcnow
from portal.domain.enums import Channel, TipStatus
from portal.domain.models import Attachment, Category, Tip, Village

PAGE_SIZE = 30


@dataclass(frozen=True)
class Age:
    text: str
    limit: str
    overdue: bool


def tip_age(session: Session, tip: Tip, now: dt.datetime) -> Age:
    """How long the tip has waited, against the check limit counted from its receipt."""
    hours = (now - tip.created_at).total_seconds() / 3600
    text = f"{math.floor(hours)} 小时" if hours < 48 else f"{math.floor(hours / 24)} 天"
    urgent = tip.category.urgent
    limit = (f"{sla.URGENT_CHECK_HOURS} 小时内核查" if urgent
             else f"{sla.CHECK_WORKING_DAYS} 个工作日内核查")
    overdue = now > sla.check_due(session, tip.created_at, urgent=urgent)
    return Age(text, limit, overdue)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    # Nine digits at most: a longer "id" is not one, and would overflow the database's integer.
    return int(value) if value.isdigit() and len(value) <= 9 else None


@bp.route("/queue")
@require(Permission.QUEUE_VIEW)
def queue():
    db = get_session()
    filters = [Tip.status == TipStatus.PENDING]
    village_id, category_id = _int_arg("village"), _int_arg("category")
    channel = request.args.get("channel", "")
    photos = request.args.get("photos", "")
    if village_id:
        filters.append(Tip.village_id == village_id)
    if category_id:
        filters.append(Tip.category_id == category_id)
    if channel in {c.value for c in Channel}:
        filters.append(Tip.channel == Channel(channel))
    has_photo = exists().where(Attachment.tip_id == Tip.id)
    if photos == "yes":
        filters.append(has_photo)
    elif photos == "no":
        filters.append(~has_photo)

    total = db.scalar(select(func.count()).select_from(Tip).where(*filters)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(_int_arg("page") or 1, 1), pages)
    urgent_first = (Category.urgent.desc(), Tip.created_at, Tip.id)
    # The page's ids first (narrow rows, sorted over the whole backlog), then those rows with
    # their relations: a backlog of thousands costs a sort of ids, not of whole tips.
    page_ids = (select(Tip.id).join(Tip.category).where(*filters).order_by(*urgent_first)
                .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    tips = db.scalars(
        select(Tip).join(Tip.category).where(Tip.id.in_(page_ids.scalar_subquery()))
        .options(contains_eager(Tip.category), joinedload(Tip.village))
        .order_by(*urgent_first)
    ).all()
    photo_counts = dict(db.execute(
        select(Attachment.tip_id, func.count()).where(Attachment.tip_id.in_([t.id for t in tips]))
        .group_by(Attachment.tip_id)
    ).all()) if tips else {}
    now = utcnow()
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/queue.html",
        rows=[(tip, tip_age(db, tip, now), photo_counts.get(tip.id, 0)) for tip in tips],
        total=total, page=page, pages=pages, args=args,
        villages=db.scalars(select(Village).where(Village.active).order_by(Village.sort_order)),
        categories=db.scalars(select(Category).where(Category.active)
                              .order_by(Category.sort_order)),
        channels=[c for c in Channel if c is not Channel.INSPECTION],
        selected={"village": village_id, "category": category_id, "channel": channel,
                  "photos": photos},
    )
