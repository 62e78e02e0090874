"""Keys of the partner channels (12345 hotline, other government systems) for the Open311 API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.clock import utcnow
from portal.domain.models.base import Base


class ApiKey(Base):
    """One partner channel's key. The key itself is shown once; only its SHA-256 is stored,
    found by its first characters (``prefix``), which are not secret."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A key of one township sees and files only there; NULL: the county's, for every township.
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"))

    @property
    def active(self) -> bool:
        return self.revoked_at is None
