"""Urging notices: only about overdue cases the department holds, recorded on every case,
numbered per year without gaps or repeats, also when supervisors issue them at once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import WRITE_OPTION, database
from portal.domain import clock
from portal.domain.casework.events import WorkflowError
from portal.domain.clock import utcnow
from portal.domain.enums import CaseEventKind
from portal.domain.models import Case, Notification, UrgingNotice, User
from portal.domain.supervision import urging
from tests import factories
from tests.conftest import separate_database
from tests.domain.linkage_helpers import supervisor
from tests.domain.supervision_helpers import case_at

TEXT = "请抓紧办理。"


@pytest.fixture
def fire(db_session: Session):
    return factories.department(db_session, "FIRE")


def test_notices_are_numbered_per_year_and_recorded_on_each_case(
        app, db_session: Session, fire) -> None:
    late = [case_at(db_session, "routed", routed_days_ago=10) for _ in range(2)]
    boss = supervisor(db_session)
    now = utcnow()
    first = urging.issue_notice(db_session, fire, late, actor=boss, text=TEXT, now=now)
    second = urging.issue_notice(db_session, fire, late[:1], actor=boss, text=TEXT, now=now)
    assert (first.seq, second.seq) == (1, 2)
    assert first.year == now.astimezone(clock.local_zone()).year
    assert urging.notice_number(first) == f"督促函〔{first.year}〕第 {first.seq} 号"
    next_year = urging.issue_notice(db_session, fire, late[:1], actor=boss, text=TEXT,
                                    now=dt.datetime(first.year + 1, 3, 1, tzinfo=dt.UTC))
    assert (next_year.year, next_year.seq) == (first.year + 1, 1)
    urged = [e for e in late[0].events if e.kind is CaseEventKind.URGED]
    assert len(urged) == 3 and urging.notice_number(first) in urged[0].internal_text
    assert [n.id for n in urging.notices_for_department(db_session, fire.id)] == [
        next_year.id, second.id, first.id]
    assert urging.notices_for_department(db_session,
                                         factories.department(db_session, "POLICE").id) == []
    assert db_session.scalar(select(Notification).where(
        Notification.kind == "urging_notice", Notification.recipient_department_id == fire.id))


def test_only_overdue_cases_held_by_the_department(app, db_session: Session, fire) -> None:
    boss = supervisor(db_session)
    fresh = case_at(db_session, "routed")
    with pytest.raises(WorkflowError, match="未超期"):
        urging.issue_notice(db_session, fire, [fresh], actor=boss, text=TEXT)
    police_late = case_at(db_session, "routed", department="POLICE", routed_days_ago=10)
    with pytest.raises(WorkflowError, match="不在"):
        urging.issue_notice(db_session, fire, [police_late], actor=boss, text=TEXT)
    with pytest.raises(WorkflowError, match="至少选择"):
        urging.issue_notice(db_session, fire, [], actor=boss, text=TEXT)
    assert urging.overdue_cases(db_session, fire.id) == []
    late = case_at(db_session, "checking", routed_days_ago=10)
    assert urging.overdue_cases(db_session, fire.id) == [late]
    draft = urging.draft_text(fire, [late], "阳高乡")
    assert draft.startswith(f"{fire.name}：") and "下列 1 件" in draft


# ---------------------------------------------------------------- concurrency

RACE_SCHEMA = "urging_race"
WRITERS = 6


@pytest.fixture
def race_app(tmp_path) -> Iterator[Flask]:
    with separate_database(tmp_path, RACE_SCHEMA) as app:
        yield app


def test_concurrent_notices_get_unique_sequential_numbers(race_app: Flask) -> None:
    with race_app.app_context():
        setup = database(race_app).sessionmaker()
        # One case each: two notices about one case at once are a conflict on the case
        # itself (its version), which is not what this test is about.
        case_ids = [case_at(setup, "routed", routed_days_ago=10).id for _ in range(WRITERS)]
        supervisor(setup)
        setup.commit()
        setup.close()
    start = threading.Barrier(WRITERS, timeout=30)
    numbers: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def issue(case_id: int) -> None:
        try:
            start.wait()
            with race_app.app_context():
                session = database(race_app).sessionmaker()
                session.connection(execution_options={WRITE_OPTION: True})
                try:
                    boss = session.scalar(select(User).where(User.role == "supervisor"))
                    case = session.get(Case, case_id)
                    notice = urging.issue_notice(session, factories.department(session, "FIRE"),
                                                 [case], actor=boss, text=TEXT)
                    session.commit()
                    numbers.append((notice.year, notice.seq))
                finally:
                    session.close()
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(case_id,)) for case_id in case_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    year = numbers[0][0]
    assert sorted(numbers) == [(year, seq) for seq in range(1, WRITERS + 1)]
    with race_app.app_context():
        session = database(race_app).sessionmaker()
        stored = session.scalars(select(UrgingNotice.seq).order_by(UrgingNotice.seq)).all()
        assert stored == list(range(1, WRITERS + 1))
        session.close()
