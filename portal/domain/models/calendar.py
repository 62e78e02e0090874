"""The working-day calendar kept by admins from the State Council's yearly holiday notice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.clock import utcnow
from portal.domain.models.base import Base


class CalendarYear(Base):
    """A year whose whole schedule an admin has entered; its days override the package."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    notice: Mapped[str] = mapped_column(String(200), default="")
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CalendarDay(Base):
    """A day that differs from Monday-to-Friday: a public holiday, or a make-up working day."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool]
    name: Mapped[str] = mapped_column(String(50), default="")
