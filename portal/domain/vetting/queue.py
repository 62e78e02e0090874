"""The moderation queue (待审核举报): pending tips, filtered and paged. Urgent tips come
first (their 24-hour check limit outranks anything else), then tips whose reporter answered and
waits for the office (居民已回复), then the oldest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from portal.domain import paging
from portal.domain.enums import Channel, MessageDirection, TipStatus
from portal.domain.models import Attachment, Category, Message, Tip
from portal.domain.paging import Page

PAGE_SIZE = 30
PHOTOS = ("yes", "no")


def _id(text: str | None) -> int | None:
    # Nine digits at most: a longer "id" is not one, and would overflow the database's integer.
    text = text or ""
    return int(text) if text.isdigit() and len(text) <= 9 else None


@dataclass(frozen=True)
class QueueFilter:
    village_id: int | None = None
    category_id: int | None = None
    channel: Channel | None = None
    photos: str = ""  # "yes": with photos, "no": without, "": either

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilter:
        """From a query string; anything unrecognised is no filter."""
        channel = args.get("channel", "")
        photos = args.get("photos", "")
        return cls(village_id=_id(args.get("village")), category_id=_id(args.get("category")),
                   channel=Channel(channel) if channel in {c.value for c in Channel} else None,
                   photos=photos if photos in PHOTOS else "")

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [Tip.status == TipStatus.PENDING]
        if self.village_id:
            where.append(Tip.village_id == self.village_id)
        if self.category_id:
            where.append(Tip.category_id == self.category_id)
        if self.channel is not None:
            where.append(Tip.channel == self.channel)
        has_photo = exists().where(Attachment.tip_id == Tip.id)
        if self.photos == "yes":
            where.append(has_photo)
        elif self.photos == "no":
            where.append(~has_photo)
        return where


def awaiting_office_clause() -> ColumnElement[bool]:
    """SQL on ``Tip``: the thread's latest message is the reporter's, so a resident answered
    (or wrote) and nobody in the office has written back since. Messages are appended, so
    the highest id is the latest (on the (tip_id, created_at) index's table)."""
    latest = (select(Message.direction).where(Message.tip_id == Tip.id)
              .order_by(Message.id.desc()).limit(1).correlate(Tip).scalar_subquery())
    return func.coalesce(latest == MessageDirection.FROM_REPORTER.value, False)


@dataclass(frozen=True)
class QueueRow:
    tip: Tip
    photos: int
    # The reporter's message waits for an answer from the office.
    replied: bool = False


def pending_tips(session: Session, f: QueueFilter, *, page: str | int | None = 1,
                 size: int = PAGE_SIZE, scope: ColumnElement[bool] | None = None
                 ) -> Page[QueueRow]:
    """One page of the queue, with each tip's category, village, photo count and whether a
    reporter's message waits for the office. ``scope``: the tips the reader may see
    (``permissions.tip_scope``); the count is of those alone."""
    where = f.conditions() + ([scope] if scope is not None else [])
    total = session.scalar(select(func.count()).select_from(Tip).where(*where)) or 0
    awaiting = awaiting_office_clause()
    urgent_first = (Category.urgent.desc(), awaiting.desc(), Tip.created_at, Tip.id)
    # The page's ids first (narrow rows, sorted over the whole backlog), then those rows with
    # their relations: a backlog of thousands costs a sort of ids, not of whole tips.
    ids = paging.paginate(
        session, select(Tip.id).join(Tip.category).where(*where).order_by(*urgent_first),
        page=page, size=size, total=total)
    if not ids.items:
        return Page([], ids.total, ids.number, ids.size)
    tips = {tip.id: tip for tip in session.scalars(
        select(Tip).join(Tip.category).where(Tip.id.in_(ids.items))
        .options(contains_eager(Tip.category), joinedload(Tip.village)))}
    photo_counts = dict(session.execute(
        select(Attachment.tip_id, func.count()).where(Attachment.tip_id.in_(ids.items))
        .group_by(Attachment.tip_id)).all())
    replied = set(session.scalars(
        select(Tip.id).where(Tip.id.in_(ids.items), awaiting)))
    return ids.map(lambda tip_id: QueueRow(tips[tip_id], photo_counts.get(tip_id, 0),
                                           tip_id in replied))
