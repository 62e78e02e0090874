"""Uploaded files: photos and documents, stored under random names outside ``static/``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import AttachmentKind
from portal.domain.models._types import enum_column
from portal.domain.models.base import Base

_ONE_OWNER_AT_MOST = " + ".join(
    f"(CASE WHEN {col} IS NULL THEN 0 ELSE 1 END)"
    for col in ("tip_id", "case_event_id", "message_id", "listing_id")
)


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint(f"{_ONE_OWNER_AT_MOST} <= 1", name="one_owner"),
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    thumbnail_name: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[AttachmentKind] = mapped_column(enum_column(AttachmentKind, "attachment_kind"))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int | None]
    height: Mapped[int | None]
    public: Mapped[bool] = mapped_column(default=False)
    # A moderator may drop a photo before anything leaves the office; the row stays.
    withheld: Mapped[bool] = mapped_column(default=False)
    # A redacted (e.g. blurred) copy points at the original, which only moderators see.
    derived_from_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id"), index=True)
    case_event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id"), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    # A listed hazard's signed commitment letter (整改承诺书).
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id"), index=True)
    # A photo taken on an inspection task (issue 22): staff only, never public.
    inspection_task_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_tasks.id"),
                                                           index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    derived_from: Mapped[Attachment | None] = relationship(remote_side=[id])
