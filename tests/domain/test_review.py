"""Department review against a hand-computed fixture (March 2026, Asia/Shanghai)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from portal.domain.enums import AssignmentRole, AssignmentState, CaseOutcome, CaseStatus
from portal.domain.models import Assignment, UrgingNotice
from portal.domain.supervision import review
from tests import factories
from tests.domain.linkage_helpers import supervisor

pytestmark = pytest.mark.usefixtures("app")

START, END = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
NOW = dt.datetime(2026, 4, 15, 2, 0, tzinfo=dt.UTC)


def t(month: int, day: int, hour: int = 2) -> dt.datetime:
    # 02:00 UTC is 10:00 in China: the local date is the same day.
    return dt.datetime(2026, month, day, hour, 0, tzinfo=dt.UTC)


def case(session: Session, department: str, *, routed: dt.datetime, accepted: dt.datetime | None,
         state: AssignmentState = AssignmentState.ACCEPTED, ended: dt.datetime | None = None,
         **values):
    made = factories.make_case(session, routed_at=routed, **values)
    session.add(Assignment(case=made, department=factories.department(session, department),
                           role=AssignmentRole.LEAD, state=state, routed_at=routed,
                           accepted_at=accepted, ended_at=ended,
                           end_reason="不属本部门职责" if state is AssignmentState.RETURNED
                           else ""))
    session.flush()
    return made


@pytest.fixture
def march(db_session: Session) -> None:
    """FIRE: five hand-offs in March, four of its cases fall due, two close; POLICE: one."""
    closed = {"status": CaseStatus.CLOSED, "outcome": CaseOutcome.RECTIFIED}
    # c1: accepted after 8 h; checked in time; rectified a day early; closed after 23 days.
    case(db_session, "FIRE", routed=t(3, 2), accepted=t(3, 2, 10),
         state=AssignmentState.COMPLETED, ended=t(3, 25),
         check_by=t(3, 5), checked_at=t(3, 4), confirmed_at=t(3, 4),
         rectify_by=dt.date(2026, 3, 20), rectified_at=t(3, 19), closed_at=t(3, 25), **closed)
    # c2: accepted after 25 h (late); checked late; rectification overdue, not done.
    case(db_session, "FIRE", routed=t(3, 3), accepted=t(3, 4, 3),
         check_by=t(3, 6), checked_at=t(3, 7), confirmed_at=t(3, 7),
         rectify_by=dt.date(2026, 3, 25), status=CaseStatus.RECTIFYING)
    # c3: never accepted; the check deadline has passed unchecked.
    case(db_session, "FIRE", routed=t(3, 5), accepted=None, state=AssignmentState.PENDING,
         check_by=t(3, 8), status=CaseStatus.ROUTED)
    # c4: accepted after 1 h; checked early; rectified on the last day (18:00 local); closed
    # after 10 days.
    case(db_session, "FIRE", routed=t(3, 6), accepted=t(3, 6, 3),
         state=AssignmentState.COMPLETED, ended=t(3, 16),
         check_by=t(3, 9), checked_at=t(3, 8), confirmed_at=t(3, 8),
         rectify_by=dt.date(2026, 3, 15), rectified_at=t(3, 15, 10), closed_at=t(3, 16),
         **closed)
    # c5: returned by FIRE within March (a hand-off, not accepted, and a return).
    case(db_session, "FIRE", routed=t(3, 10), accepted=None, state=AssignmentState.RETURNED,
         ended=t(3, 11), status=CaseStatus.TRIAGE)
    # Outside March: routed in February, due in April; counts nowhere.
    case(db_session, "FIRE", routed=t(2, 20), accepted=t(2, 20, 3), check_by=t(2, 23),
         checked_at=t(2, 22), confirmed_at=t(2, 22), rectify_by=dt.date(2026, 4, 30),
         status=CaseStatus.RECTIFYING)
    # POLICE: one hand-off accepted in an hour; its check is due in April.
    case(db_session, "POLICE", routed=t(3, 12), accepted=t(3, 12, 3), check_by=t(4, 20),
         status=CaseStatus.CHECKING)
    boss = supervisor(db_session)
    fire = factories.department(db_session, "FIRE")
    for issued in (t(3, 10), t(3, 28), t(4, 2)):
        seq = db_session.query(UrgingNotice).count() + 1
        db_session.add(UrgingNotice(department=fire, year=2026, seq=seq, text="督促",
                                    issued_by_id=boss.id, issued_at=issued))
    db_session.flush()


def rows(session: Session) -> dict[str, review.DepartmentReview]:
    return {r.department.code: r for r in review.review(session, START, END, NOW,
                                                         "Asia/Shanghai")}


def test_the_fire_station_in_march(db_session: Session, march) -> None:
    fire = rows(db_session)["FIRE"]
    assert (fire.assignments, fire.accepted_on_time) == (5, 2)
    assert fire.accepted_on_time_pct == 40.0
    assert (fire.checked_on_time, fire.checks_due) == (2, 4)
    assert fire.checked_on_time_pct == 50.0
    assert (fire.rectified_on_time, fire.rectifications_due) == (2, 3)
    assert fire.rectified_on_time_pct == 66.7
    assert (fire.closed, fire.median_days_to_close) == (2, 16.5)  # median of 23 and 10
    assert fire.returns == 1
    assert fire.urging_notices == 2


def test_a_department_with_nothing_due_has_no_percentage(db_session: Session, march) -> None:
    by_code = rows(db_session)
    police = by_code["POLICE"]
    assert (police.assignments, police.accepted_on_time) == (1, 1)
    assert police.checks_due == 0 and police.checked_on_time_pct is None
    assert police.rectified_on_time_pct is None and police.median_days_to_close is None
    quiet = by_code["MZ"]
    assert (quiet.assignments, quiet.returns, quiet.urging_notices) == (0, 0, 0)


def test_before_the_deadline_an_unchecked_case_is_not_yet_counted(db_session: Session,
                                                                  march) -> None:
    early = review.review(db_session, START, END, t(3, 7), "Asia/Shanghai")
    fire = next(r for r in early if r.department.code == "FIRE")
    # On 7 March c3 (due on the 8th, unchecked) is still within its time: not counted yet.
    assert (fire.checked_on_time, fire.checks_due) == (2, 3)
