"""Supervision: major hazards listed for supervision (挂牌督办), interviews, bulletins."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import SupervisionLevel
from portal.domain.models._types import enum_column
from portal.domain.models.accounts import User
from portal.domain.models.base import Base
from portal.domain.models.cases import Case
from portal.domain.models.files import Attachment


class Listing(Base):
    """A major hazard listed for supervision at a level, until it is delisted (摘牌)."""

    __tablename__ = "listings"
    __table_args__ = (
        CheckConstraint("level <> 'none'", name="level_is_set"),
        CheckConstraint("delisted_by_id IS NULL OR delisted_at IS NOT NULL",
                        name="delisted_has_time"),
        Index(None, "delisted_at", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    level: Mapped[SupervisionLevel] = mapped_column(
        enum_column(SupervisionLevel, "listing_level"))
    deadline: Mapped[dt.date] = mapped_column(Date)
    responsible_leader: Mapped[str] = mapped_column(String(100))
    listed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    listed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delisted_at: Mapped[dt.datetime | None]
    delisted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    case: Mapped[Case] = relationship()
    listed_by: Mapped[User] = relationship(foreign_keys=[listed_by_id])
    delisted_by: Mapped[User | None] = relationship(foreign_keys=[delisted_by_id])
    # Signed rectification commitment letters (整改承诺书), PDFs or images; the last counts.
    letters: Mapped[list[Attachment]] = relationship(order_by=Attachment.id)
    interviews: Mapped[list[ListingInterview]] = relationship(
        back_populates="listing", order_by="ListingInterview.held_at")

    @property
    def active(self) -> bool:
        return self.delisted_at is None

    @property
    def commitment_letter(self) -> Attachment | None:
        return self.letters[-1] if self.letters else None


class ListingInterview(Base):
    """An interview (约谈) of the hazard unit's or department's responsible people."""

    __tablename__ = "listing_interviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    held_at: Mapped[dt.datetime]
    participants: Mapped[str] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="interviews")
    recorded_by: Mapped[User] = relationship()


class Bulletin(Base):
    """A periodic bulletin (通报): the period's figures, the supervisor's wording."""

    __tablename__ = "bulletins"
    __table_args__ = (
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        Index(None, "published_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The issuing office: one township's, or the county's (NULL) over every township.
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    # The figures as they stood when drafted, so a published bulletin never changes.
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[dt.datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
