"""Signed-in staff sessions, checked from the database on every back-office request."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.clock import utcnow
from portal.domain.models.base import Base


class StaffSession(Base):
    """One signed-in browser. The session cookie names its row; signing out deletes the row,
    so a copy of the cookie taken earlier no longer signs anyone in. The id is random and the
    cookie is signed with the secret key, so a copy of this table alone signs nobody in."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
