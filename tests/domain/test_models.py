"""The schema refuses rows whose state lacks the columns that state needs."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseOutcome,
    CaseStatus,
    Channel,
    RejectReason,
    Role,
    TipStatus,
)
from portal.domain.models import Assignment, Attachment, Tip, User
from tests import factories

pytestmark = pytest.mark.usefixtures("app")


def _refused(session: Session, action) -> None:
    with pytest.raises((IntegrityError, StatementError)), session.begin_nested():
        action()
        session.flush()


def test_a_rejected_tip_needs_a_reason(db_session: Session) -> None:
    tip = factories.make_tip(db_session)

    def reject_without_reason() -> None:
        tip.status = TipStatus.REJECTED
        tip.decided_at = utcnow()

    _refused(db_session, reject_without_reason)
    db_session.refresh(tip)
    tip.status, tip.decided_at, tip.reject_reason = (
        TipStatus.REJECTED, utcnow(), RejectReason.SPAM)
    db_session.flush()


def test_an_accepted_tip_points_at_its_case(db_session: Session) -> None:
    tip = factories.make_tip(db_session)

    def accept_without_case() -> None:
        tip.status = TipStatus.ACCEPTED
        tip.decided_at = utcnow()

    _refused(db_session, accept_without_case)


def test_a_tip_cannot_come_from_an_inspection(db_session: Session) -> None:
    _refused(db_session, lambda: factories.make_tip(db_session, channel=Channel.INSPECTION))


def test_coordinates_come_in_pairs_and_in_range(db_session: Session) -> None:
    _refused(db_session, lambda: factories.make_tip(db_session, lat=36.1, lon=None))
    _refused(db_session, lambda: factories.make_tip(db_session, lat=91.0, lon=113.0))
    factories.make_tip(db_session, lat=36.1, lon=113.4)


def test_a_closed_case_has_a_time_and_an_outcome(db_session: Session) -> None:
    _refused(db_session, lambda: factories.make_case(db_session, status=CaseStatus.CLOSED))
    _refused(db_session, lambda: factories.make_case(
        db_session, status=CaseStatus.CLOSED, closed_at=utcnow(), routed_at=utcnow()))
    factories.make_case(db_session, status=CaseStatus.CLOSED, closed_at=utcnow(),
                        routed_at=utcnow(), outcome=CaseOutcome.UNFOUNDED)


def test_only_a_confirmed_case_can_be_disclosed_or_rectified(db_session: Session) -> None:
    _refused(db_session, lambda: factories.make_case(
        db_session, disclosed=True, disclosed_at=utcnow()))
    _refused(db_session, lambda: factories.make_case(
        db_session, status=CaseStatus.RECTIFYING, routed_at=utcnow()))
    factories.make_case(db_session, status=CaseStatus.RECTIFYING, routed_at=utcnow(),
                        confirmed_at=utcnow(), disclosed=True, disclosed_at=utcnow())


def test_an_officer_belongs_to_exactly_one_department(db_session: Session) -> None:
    _refused(db_session, lambda: db_session.add(
        User(username="o1", password_hash="x", role=Role.OFFICER)))
    _refused(db_session, lambda: db_session.add(
        User(username="m1", password_hash="x", role=Role.MODERATOR,
             department=factories.department(db_session))))


def test_a_returned_assignment_keeps_its_reason_and_time(db_session: Session) -> None:
    case = factories.make_case(db_session)

    def returned_silently() -> None:
        db_session.add(Assignment(case=case, department=factories.department(db_session),
                                  role=AssignmentRole.LEAD, state=AssignmentState.RETURNED,
                                  ended_at=utcnow()))

    _refused(db_session, returned_silently)


def test_an_attachment_has_at_most_one_owner(db_session: Session) -> None:
    tip = factories.make_tip(db_session)
    case = factories.make_case(db_session)
    from portal.domain.enums import AttachmentKind, CaseEventKind
    from portal.domain.models import CaseEvent

    event = CaseEvent(case=case, kind=CaseEventKind.NOTE)
    db_session.add(event)
    db_session.flush()
    _refused(db_session, lambda: db_session.add(Attachment(
        stored_name="a" * 32, kind=AttachmentKind.PHOTO, content_type="image/jpeg",
        size_bytes=1, sha256="0" * 64, tip_id=tip.id, case_event_id=event.id)))


def test_enum_columns_refuse_unknown_values(db_session: Session) -> None:
    tip = factories.make_tip(db_session)
    with pytest.raises(StatementError):
        db_session.execute(
            Tip.__table__.update().where(Tip.id == tip.id).values(status="lost")
        )


def test_datetimes_come_back_aware_and_in_utc(db_session: Session) -> None:
    moment = dt.datetime(2026, 10, 1, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    tip = factories.make_tip(db_session, observed_at=moment)
    db_session.expire_all()
    assert tip.observed_at == moment
    assert tip.observed_at.utcoffset() == dt.timedelta(0)

