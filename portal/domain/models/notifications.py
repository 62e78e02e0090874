"""The outbox: notifications written in the transaction that caused them, sent afterwards."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.clock import utcnow
from portal.domain.models.base import Base


class Notification(Base):
    """One message to send: an e-mail to a department or a user, or an SMS (issue 21).

    An SMS to a reporter names the tip (``tip_id``) and is sent to the phone the tip holds,
    decrypted only inside the sender: a reporter who withdrew their identity gets nothing.
    An SMS to a staff member carries the number encrypted (``recipient_enc``). Neither is ever
    stored or logged in clear; ``recipient_hash`` (a keyed hash) counts a number's messages
    for the daily cap. ``template_params`` are the provider template's parameters, the only
    text an SMS carries.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index(None, "sent_at", "next_attempt_at"),
                      Index(None, "recipient_hash", "sent_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    recipient_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Makes repeated scans idempotent: the same reminder is written once.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    tries: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(8), default="email", server_default="email")
    tip_id: Mapped[int | None] = mapped_column(ForeignKey("tips.id"), index=True)
    recipient_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    recipient_hash: Mapped[str | None] = mapped_column(String(64))
    template_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The provider's answer: which provider, its request id, and its result code.
    provider: Mapped[str] = mapped_column(String(16), default="", server_default=text("''"))
    provider_request_id: Mapped[str] = mapped_column(String(100), default="",
                                                     server_default=text("''"))
    provider_status: Mapped[str] = mapped_column(String(100), default="",
                                                 server_default=text("''"))
