"""The outbox: who is notified of what, delivery through a sender, retries."""

from __future__ import annotations

import datetime as dt
import logging
from email.message import EmailMessage
from typing import ClassVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.casework import notifications, workflow
from portal.domain.models import Notification
from tests import factories
from tests.domain.linkage_helpers import lead, officer, routed_case

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def now() -> dt.datetime:
    """Just later than the default next_attempt_at of the rows a test writes."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).replace(microsecond=0)


def outbox(session: Session, **where) -> list[Notification]:
    query = select(Notification).order_by(Notification.id)
    for key, value in where.items():
        query = query.where(getattr(Notification, key) == value)
    return list(session.scalars(query))


def test_officers_are_notified_of_new_assignments_and_the_office_of_returns(
    db_session: Session,
) -> None:
    case = routed_case(db_session, "blocked_escape")
    fire, police = (factories.department(db_session, c) for c in ("FIRE", "POLICE"))
    new = outbox(db_session, kind="assignment_new")
    assert [n.recipient_department_id for n in new] == [fire.id, police.id]
    assert "新派单" in new[0].subject and "牵头部门" in new[0].subject
    assert new[0].payload == {"case_id": case.id, "assignment_id": lead(case).id}

    workflow.return_assignment(db_session, lead(case), actor=officer(db_session, "FIRE"),
                               reason="不在辖区")
    [returned] = outbox(db_session, kind="assignment_returned")
    assert returned.recipient_department_id == factories.department(db_session, "XAB").id
    assert "不在辖区" in returned.body


def test_a_dedupe_key_writes_a_notification_once(db_session: Session) -> None:
    fire = factories.department(db_session, "FIRE")
    first = notifications.notify(db_session, "test", "提醒", department=fire, dedupe_key="k1")
    second = notifications.notify(db_session, "test", "提醒", department=fire, dedupe_key="k1")
    assert first is not None and second is None
    assert len(outbox(db_session, kind="test")) == 1
    with pytest.raises(ValueError):
        notifications.notify(db_session, "test", "nobody")


def test_the_logging_sender_delivers_pending_notifications(
    db_session: Session, now: dt.datetime, caplog: pytest.LogCaptureFixture
) -> None:
    fire = factories.department(db_session, "FIRE")
    fire.email = "fire@example.org"
    row = notifications.notify(db_session, "test", "新派单：案件 #1", "正文", department=fire)
    caplog.set_level(logging.INFO, logger="portal.domain.casework.notifications")
    report = notifications.send_pending(db_session, notifications.LoggingSender(), now=now)
    assert report.sent >= 1 and row.sent_at == now and row.tries == 1
    assert "fire@example.org" in caplog.text and "新派单：案件 #1" in caplog.text
    # Sent once only.
    again = notifications.send_pending(db_session, notifications.LoggingSender(), now=now)
    assert again.sent == 0


class FlakySender:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[notifications.Outgoing] = []

    def send(self, message: notifications.Outgoing) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("mail server down")
        self.sent.append(message)


def test_failures_are_retried_later_and_given_up_after_max_tries(
    db_session: Session, now: dt.datetime
) -> None:
    fire = factories.department(db_session, "FIRE")
    row = notifications.notify(db_session, "test", "提醒", department=fire)
    sender = FlakySender(failures=1)
    report = notifications.send_pending(db_session, sender, now=now)
    assert report.failed == 1 and row.sent_at is None and row.tries == 1
    assert "mail server down" in row.last_error and row.next_attempt_at > now
    # Not retried before its time ...
    assert notifications.send_pending(db_session, sender, now=now).sent == 0
    # ... then delivered.
    later = row.next_attempt_at
    assert notifications.send_pending(db_session, sender, now=later).sent == 1
    assert row.sent_at == later and [m.notification_id for m in sender.sent] == [row.id]

    doomed = notifications.notify(db_session, "test", "永远失败", department=fire)
    never = FlakySender(failures=99)
    moment = now
    for _ in range(3):
        report = notifications.send_pending(db_session, never, now=moment, max_tries=3)
        moment = doomed.next_attempt_at
    assert report.gave_up == 1 and doomed.tries == 3 and doomed.sent_at is None
    assert notifications.send_pending(db_session, never, now=moment + dt.timedelta(days=1),
                                      max_tries=3).failed == 0


class FakeSMTP:
    sent: ClassVar[list[EmailMessage]] = []

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port = host, port
        self.calls: list[str] = []

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def starttls(self) -> None:
        self.calls.append("starttls")

    def login(self, username: str, password: str) -> None:
        assert (username, password) == ("portal", "pw")

    def send_message(self, message: EmailMessage) -> None:
        FakeSMTP.sent.append(message)


def test_the_smtp_sender_is_chosen_by_settings_and_mails_the_department(
    db_session: Session, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(notifications.sender_from_settings({"SMTP_HOST": ""}),
                      notifications.LoggingSender)
    sender = notifications.sender_from_settings({
        "SMTP_HOST": "mail.example.org", "SMTP_PORT": 587, "SMTP_USERNAME": "portal",
        "SMTP_PASSWORD": "pw", "SMTP_STARTTLS": True, "SMTP_FROM": "portal@example.org"})
    assert isinstance(sender, notifications.SmtpSender)
    monkeypatch.setattr(notifications.smtplib, "SMTP", FakeSMTP)
    FakeSMTP.sent = []

    fire, police = (factories.department(db_session, c) for c in ("FIRE", "POLICE"))
    fire.email = "fire@example.org"
    mailed = notifications.notify(db_session, "test", "新派单：案件 #7", "请签收",
                                  department=fire)
    unmailed = notifications.notify(db_session, "test", "新派单：案件 #8", department=police)
    notifications.send_pending(db_session, sender, now=now)
    [mail] = FakeSMTP.sent
    assert mail["To"] == "fire@example.org" and mail["From"] == "portal@example.org"
    assert mail["Subject"] == "新派单：案件 #7" and "请签收" in mail.get_content()
    assert mailed.sent_at == now and mailed.last_error == ""
    # A department without an address is shown the notification in the portal only.
    assert unmailed.sent_at == now and unmailed.last_error == notifications.NO_ADDRESS


def test_notifications_send_cli(runner, db_session: Session) -> None:
    notifications.notify(db_session, "test", "提醒", department=factories.department(
        db_session, "FIRE"))
    db_session.flush()
    result = runner.invoke(args=["notifications", "send"])
    assert result.exit_code == 0, result.output
    assert "已发送" in result.output and "失败 0 条" in result.output
    assert all(n.sent_at is not None for n in outbox(db_session, kind="test"))
