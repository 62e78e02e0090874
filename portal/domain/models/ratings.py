"""The follow-up visit and rating (回访/评价, issue 21): a reporter's answer about a closed
case, and the one-time links an SMS carries to give it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import RatingAnswer, RatingSource
from portal.domain.models._types import enum_column
from portal.domain.models.accounts import User
from portal.domain.models.base import Base
from portal.domain.models.cases import Case
from portal.domain.models.tips import Tip


class Rating(Base):
    """A reporter's answer (满意 / 基本满意 / 不满意) for one tip: one per tip; merged reports
    each rate. A 不满意 goes to the supervisor, whose handling (reopened, or answered with a
    reason) is recorded here and shown on the reporter's page."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id"), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    answer: Mapped[RatingAnswer] = mapped_column(enum_column(RatingAnswer, "rating_answer"))
    comment: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[RatingSource] = mapped_column(enum_column(RatingSource, "rating_source"))
    # Who called, for a phone follow-up recorded by staff.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The supervisor's handling of a 不满意: "reopened" or "answered", with the text.
    handled_at: Mapped[dt.datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handling: Mapped[str] = mapped_column(String(16), default="")
    handling_text: Mapped[str] = mapped_column(Text, default="")

    tip: Mapped[Tip] = relationship()
    case: Mapped[Case] = relationship()
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    handled_by: Mapped[User | None] = relationship(foreign_keys=[handled_by_id])


class RatingToken(Base):
    """A one-time link to rate a tip (sent by SMS): it allows the rating only, shows nothing
    of the report, and expires (30 days). Only a keyed hash of the token is stored."""

    __tablename__ = "rating_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    tip: Mapped[Tip] = relationship()
