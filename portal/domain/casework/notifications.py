"""The notification outbox and the senders that deliver it.

``notify`` writes a row in the same transaction as the change that caused it, so a rolled-back
change never sends anything; ``send_pending`` (``flask --app wsgi notifications send``, run
from cron) delivers what is due, retrying failures with a growing delay. SMS rows (issue 21,
``portal.domain.casework.sms``) share the queue and the back-off.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain.administration import townships
from portal.domain.casework import sms
from portal.domain.clock import utcnow
from portal.domain.models import Case, Department, Notification, Township, User

log = logging.getLogger(__name__)

NO_ADDRESS = "未配置邮箱，仅站内提示"


def office_department(session: Session, township: Township | None) -> Department | None:
    """The township's fire-safety office (the county's office where it names none)."""
    return townships.duty_department(session, "office_department", township)


def notify_office(session: Session, case: Case, kind: str, subject: str, body: str = "", *,
                  payload: dict[str, Any] | None = None,
                  dedupe_key: str | None = None) -> Notification | None:
    """Tell the office of the case's township (which supervises it), if it has one."""
    office = office_department(session, case.village.township)
    if office is None:
        return None
    return notify(session, kind, subject, body, department=office, payload=payload,
                  dedupe_key=dedupe_key)


def notify(
    session: Session,
    kind: str,
    subject: str,
    body: str = "",
    *,
    department: Department | None = None,
    user: User | None = None,
    payload: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Queue a notification for a department's officers or one user.

    With a ``dedupe_key`` the same notification is written once however often this is called
    (None is returned when it already exists). A new assignment or a due-soon or overdue
    reminder to a department is also sent by SMS to each of its officers who chose SMS.
    """
    if department is None and user is None:
        raise ValueError("a notification needs a department or a user")
    if dedupe_key is not None and session.scalar(
        select(Notification.id).where(Notification.dedupe_key == dedupe_key)
    ) is not None:
        return None
    row = Notification(
        kind=kind,
        subject=subject[:200],
        body=body,
        payload=payload,
        recipient_department_id=department.id if department else None,
        recipient_user_id=user.id if user else None,
        dedupe_key=dedupe_key,
    )
    try:
        # A concurrent scan may have written the same key since the check above.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        if dedupe_key is None:
            raise
        return None
    if department is not None:
        sms.officers_reminded(session, kind, subject, department, payload)
    return row


# ---------------------------------------------------------------- delivery


@dataclass(frozen=True)
class Outgoing:
    to: list[str]
    subject: str
    body: str
    notification_id: int


class Sender(Protocol):
    """Delivers one message; raises on failure so that the outbox retries it."""

    def send(self, message: Outgoing) -> None: ...


class LoggingSender:
    """The default: writes each notification to the log (development, or no mail server)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or log

    def send(self, message: Outgoing) -> None:
        self.logger.info("notification #%s to %s: %s", message.notification_id,
                         ", ".join(message.to) or "-", message.subject)


class SmtpSender:
    """Sends mail through an SMTP server (``PORTAL_SMTP_*``)."""

    def __init__(self, host: str, port: int = 25, *, username: str = "", password: str = "",
                 starttls: bool = False, sender: str = "", timeout: float = 30) -> None:
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls, self.sender, self.timeout = starttls, sender, timeout

    def send(self, message: Outgoing) -> None:
        if not message.to:
            return
        mail = EmailMessage()
        mail["From"] = self.sender or self.username
        mail["To"] = ", ".join(message.to)
        mail["Subject"] = message.subject
        mail.set_content(message.body or message.subject)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(mail)


def sender_from_settings(config: Mapping[str, Any]) -> Sender:
    """SMTP when ``PORTAL_SMTP_HOST`` is set, else the logging sender."""
    if not config.get("SMTP_HOST"):
        return LoggingSender()
    return SmtpSender(
        config["SMTP_HOST"],
        int(config.get("SMTP_PORT", 25)),
        username=config.get("SMTP_USERNAME", ""),
        password=config.get("SMTP_PASSWORD", ""),
        starttls=bool(config.get("SMTP_STARTTLS", False)),
        sender=config.get("SMTP_FROM", ""),
    )


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)


def _addresses(session: Session, row: Notification) -> list[str]:
    if row.recipient_department_id is not None:
        department = session.get(Department, row.recipient_department_id)
        return [department.email] if department and department.email else []
    return []


def retry_delay(tries: int) -> dt.timedelta:
    """1, 2, 4, 8 … minutes, at most a day."""
    return dt.timedelta(minutes=min(2 ** max(tries - 1, 0), 24 * 60))


def _send_sms(channel: sms.SmsChannel, session: Session, row: Notification, now: dt.datetime,
              max_tries: int, report: SendReport) -> None:
    """One SMS row: sent, closed as not sendable, deferred by the daily cap, or retried."""
    row.tries += 1
    try:
        delivery = channel.deliver(session, row, now)
    except Exception as exc:  # the transport (network, timeout): keep it queued
        delivery = sms.Delivery(sms.Outcome.RETRY, sms.scrub(f"{type(exc).__name__}: {exc}"))
    outcome = delivery.outcome
    row.last_error = delivery.note[:2000]
    if outcome in (sms.Outcome.SENT, sms.Outcome.CLOSED):
        row.sent_at = now
        report.sent += 1
        return
    if outcome is sms.Outcome.DEFERRED:
        row.tries -= 1  # the cap is not the channel failing
        row.next_attempt_at = delivery.retry_at or now + dt.timedelta(hours=1)
        return
    report.failed += 1
    report.errors.append(f"#{row.id}: {row.last_error}")
    if outcome is sms.Outcome.FAILED:
        row.tries = max(row.tries, max_tries)  # a permanent refusal: recorded, not retried
    else:
        row.next_attempt_at = now + retry_delay(row.tries)
    if row.tries >= max_tries:
        report.gave_up += 1


def send_pending(
    session: Session,
    sender: Sender,
    *,
    sms_channel: sms.SmsChannel | None = None,
    now: dt.datetime | None = None,
    max_tries: int = 5,
    limit: int = 200,
) -> SendReport:
    """Deliver the notifications that are due, oldest first; the caller commits. SMS rows wait
    until an ``sms_channel`` is given."""
    now = now or utcnow()
    report = SendReport()
    due = select(Notification).where(Notification.sent_at.is_(None),
                                     Notification.next_attempt_at <= now,
                                     Notification.tries < max_tries)
    if sms_channel is None:
        due = due.where(Notification.channel == "email")
    rows = session.scalars(
        due.order_by(Notification.next_attempt_at, Notification.id).limit(limit)).all()
    for row in rows:
        if row.channel == "sms":
            assert sms_channel is not None
            _send_sms(sms_channel, session, row, now, max_tries, report)
            continue
        to = _addresses(session, row)
        row.tries += 1
        try:
            sender.send(Outgoing(to, row.subject, row.body, row.id))
        except Exception as exc:  # any failure of the channel: keep it queued
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            row.next_attempt_at = now + retry_delay(row.tries)
            report.failed += 1
            if row.tries >= max_tries:
                report.gave_up += 1
            report.errors.append(f"#{row.id}: {row.last_error}")
            continue
        row.sent_at = now
        row.last_error = "" if to or isinstance(sender, LoggingSender) else NO_ADDRESS
        report.sent += 1
    session.flush()
    return report
