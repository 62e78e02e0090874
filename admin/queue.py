"""The moderation queue: pending tips, urgent first then oldest, filtered and paginated
(``portal.domain.vetting.queue``)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from flask import render_template, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin import bp
from admin.access import require
from portal.db import get_session
from portal.domain.access.permissions import Permission, tip_scope
from portal.domain.casework import limits, sla
from portal.domain.clock import format_local, utcnow
from portal.domain.enums import Channel
from portal.domain.models import Category, Tip
from portal.domain.vetting import places
from portal.domain.vetting.queue import PAGE_SIZE, QueueFilter, pending_tips


@dataclass(frozen=True)
class Age:
    text: str
    limit: str
    # The share of the §18 check limit moderation has used already, counted from receipt.
    used: str
    overdue: bool


def tip_age(session: Session, tip: Tip, now: dt.datetime,
            calendar: sla.WorkdayCalendar | None = None) -> Age:
    """How long the tip has waited, against the check limit counted from its receipt (a page
    passes one ``calendar`` for all its tips)."""
    hours = (now - tip.created_at).total_seconds() / 3600
    text = f"{math.floor(hours)} 小时" if hours < 48 else f"{math.floor(hours / 24)} 天"
    span = limits.check_limit(tip.category)
    due = limits.due_after(session, tip.created_at, span, calendar=calendar)
    whole = (due - tip.created_at).total_seconds()
    share = (now - tip.created_at).total_seconds() / whole if whole > 0 else 1.0
    used = f"已用 {min(999, math.floor(share * 100))}%（{format_local(due)} 到期）"
    return Age(text, f"{span.label}内核查", used, now > due)


@bp.context_processor
def _village_label() -> dict[str, Any]:
    # Every back-office page names a village as its reader needs: with its township when the
    # reader sees more than one (village names repeat across townships).
    return {"village_label": lambda village: places.village_label(village, current_user)}


@bp.route("/queue")
@require(Permission.QUEUE_VIEW)
def queue():
    db = get_session()
    f = QueueFilter.from_args(request.args)
    found = pending_tips(db, f, page=request.args.get("page"), size=PAGE_SIZE,
                         scope=tip_scope(current_user))
    now = utcnow()
    calendar = sla.WorkdayCalendar(db)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/queue.html",
        page=found.map(lambda row: (row.tip, tip_age(db, row.tip, now, calendar), row.photos,
                                    row.replied)),
        args=args,
        villages=places.village_choices(db, current_user),
        categories=db.scalars(select(Category).where(Category.active)
                              .order_by(Category.sort_order)),
        channels=[c for c in Channel if c is not Channel.INSPECTION],
        selected={"village": f.village_id, "category": f.category_id,
                  "channel": f.channel.value if f.channel else "", "photos": f.photos},
    )
