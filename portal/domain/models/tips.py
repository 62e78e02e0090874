"""Residents' submissions (举报) and the thread with their reporter."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import Channel, MessageDirection, RejectReason, TipStatus
from portal.domain.models._types import enum_column
from portal.domain.models.base import Base
from portal.domain.models.files import Attachment
from portal.domain.models.places import Category, VenueType, Village


class Tip(Base):
    __tablename__ = "tips"
    __table_args__ = (
        CheckConstraint(
            "(status = 'rejected') = (reject_reason IS NOT NULL)", name="rejected_has_reason"
        ),
        CheckConstraint(
            "(status IN ('accepted', 'merged')) = (case_id IS NOT NULL)",
            name="decided_tip_has_case",
        ),
        CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)", name="decided_tip_has_time"
        ),
        CheckConstraint("channel <> 'inspection'", name="inspection_is_not_a_tip"),
        CheckConstraint(
            "(lat IS NULL) = (lon IS NULL) AND (lat IS NULL OR (lat BETWEEN -90 AND 90 "
            "AND lon BETWEEN -180 AND 180))",
            name="coordinates_valid",
        ),
        Index(None, "status", "created_at"),
        Index(None, "created_at"),
        Index(None, "village_id", "category_id", "created_at"),
        # A township's newest tip, village by village (the public pages' cache version).
        Index(None, "village_id", "id"),
        # A township's tips per month (its statistics), village by village.
        Index(None, "village_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    status: Mapped[TipStatus] = mapped_column(
        enum_column(TipStatus, "tip_status"), default=TipStatus.PENDING
    )
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    venue_type_id: Mapped[int | None] = mapped_column(ForeignKey("venue_types.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    unit_name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text)
    observed_at: Mapped[dt.datetime | None]
    # Confidential: Fernet tokens, never plaintext (see portal.domain.reporting.identity).
    reporter_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    reporter_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # When the reporter withdrew their name and phone (from the tracking page): what they were
    # is gone, that they were withdrawn stays visible.
    identity_withdrawn_at: Mapped[dt.datetime | None]
    wants_feedback: Mapped[bool] = mapped_column(default=False)
    # Keyed hash of the receipt code; the code itself is never stored.
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Keyed hash of the form's one-time token: a resubmitted form finds the tip it created.
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    reject_reason: Mapped[RejectReason | None] = mapped_column(
        enum_column(RejectReason, "reject_reason")
    )
    reject_message: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A filing from the field names the unit from the register it is about (issue 22).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # The partner channel that sent the tip through the Open311 API, which may follow it.
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Optimistic locking: two moderators deciding the same tip at once, the second is told.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    # (mypy: the declarative base types this attribute as an instance variable.)
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version}  # type: ignore[misc]

    village: Mapped[Village] = relationship()
    venue_type: Mapped[VenueType | None] = relationship()
    category: Mapped[Category] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(order_by=Attachment.id)
    messages: Mapped[list[Message]] = relationship(
        back_populates="tip", order_by="Message.created_at"
    )


class Message(Base):
    """One message between a tip's reporter (by receipt) and the moderators."""

    __tablename__ = "messages"
    __table_args__ = (Index(None, "tip_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id"))
    direction: Mapped[MessageDirection] = mapped_column(
        enum_column(MessageDirection, "message_direction")
    )
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    read_at: Mapped[dt.datetime | None]

    tip: Mapped[Tip] = relationship(back_populates="messages")
    attachments: Mapped[list[Attachment]] = relationship(order_by=Attachment.id)


class TipRevision(Base):
    """One moderator edit of a tip's text (redaction). The first revision of a field keeps the
    resident's original wording, visible only to moderators."""

    __tablename__ = "tip_revisions"
    __table_args__ = (Index(None, "tip_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id"))
    field: Mapped[str] = mapped_column(String(32))
    old_text: Mapped[str] = mapped_column(Text)
    new_text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(200), default="")
    editor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
