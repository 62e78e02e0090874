"""Staff accounts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import Role
from portal.domain.models._types import enum_column
from portal.domain.models.base import Base
from portal.domain.models.places import Department, Township


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # An officer acts for exactly one department; a grid inspector may serve one (a
        # village committee's); nobody else is bound to one.
        CheckConstraint(
            "role = 'grid_inspector' OR (role = 'officer') = (department_id IS NOT NULL)",
            name="officer_has_department",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    # The township office the account works in; NULL for the county's own staff, who see every
    # township. An officer's reach is its department's (``access.scope``), not this column.
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(String(256))
    totp_required: Mapped[bool] = mapped_column(default=False)
    # The time step (30 s) of the last accepted TOTP code: a code works once.
    totp_last_step: Mapped[int | None]
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]
    # A staff member's mobile (business contact) and whether they want reminders by SMS.
    mobile: Mapped[str] = mapped_column(String(20), default="", server_default=text("''"))
    notify_sms: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship()
    township: Mapped[Township | None] = relationship()

    # Flask-Login's user protocol. The id carries the password-change time, so changing or
    # resetting a password signs the account out of every other session, and the signed-in
    # session's row (``StaffSession``), which signing out deletes. ``session_id`` is set for
    # the request by the sign-in and by the user loader; it is not a column.
    is_anonymous = False

    @property
    def session_id(self) -> str | None:
        return self.__dict__.get("_staff_session_id")

    @session_id.setter
    def session_id(self, value: str | None) -> None:
        self.__dict__["_staff_session_id"] = value

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def password_stamp(self) -> str:
        """The account and its password's date: what a half-finished sign-in remembers."""
        return f"{self.id}:{int(self.password_changed_at.timestamp())}"

    def get_id(self) -> str:
        return f"{self.password_stamp()}:{self.session_id or ''}"
