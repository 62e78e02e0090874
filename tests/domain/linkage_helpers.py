"""Builders for the linkage tests: staff of each role, cases ready for routing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.casework import routing
from portal.domain.casework.leads import active_lead
from portal.domain.enums import AssignmentRole, CaseEventKind, Role, Severity
from portal.domain.models import Assignment, Case, Unit, User
from tests import factories


def staff(session: Session, role: Role, department_code: str | None = None,
          username: str | None = None) -> User:
    username = username or f"{role.value}-{(department_code or 'x').lower()}"
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        department = factories.department(session, department_code) if department_code else None
        user = User(username=username, display_name=f"{username}（测试）",
                    password_hash="not-a-real-hash", role=role, department=department)
        session.add(user)
        session.flush()
    return user


def officer(session: Session, department_code: str, username: str | None = None) -> User:
    return staff(session, Role.OFFICER, department_code, username)


def moderator(session: Session) -> User:
    return staff(session, Role.MODERATOR)


def supervisor(session: Session) -> User:
    return staff(session, Role.SUPERVISOR)


def new_case(session: Session, category: str = "wiring", venue_type: str | None = None,
             village: str = "V01", unit_name: str = "测试商店", **values: Any) -> Case:
    vil = factories.village(session, village)
    unit = Unit(name=unit_name, normalized_name=unit_name, village=vil,
                venue_type=factories.venue_type(session, venue_type) if venue_type else None)
    return factories.make_case(session, unit=unit, village=vil,
                               category=factories.category(session, category), **values)


def routed_case(session: Session, category: str = "wiring", *,
                now: dt.datetime | None = None, severity: Severity = Severity.GENERAL,
                **values: Any) -> Case:
    """A case routed as the rules propose; given ``now``, its tip was received then too."""
    case = new_case(session, category, severity=severity, **values)
    if now is not None:
        case.created_at = now
    proposal = routing.propose_for_case(session, case)
    routing.route_case(session, case, lead=proposal.lead, assists=proposal.assists,
                       actor=moderator(session), now=now)
    return case


def lead(case: Case) -> Assignment:
    assignment = active_lead(case)
    assert assignment is not None
    return assignment


def assist(case: Case, code: str) -> Assignment:
    return next(a for a in case.assignments
                if a.role is AssignmentRole.ASSIST and a.department.code == code
                and a.ended_at is None)


def kinds(case: Case) -> list[CaseEventKind]:
    return [e.kind for e in case.events]


def in_days(days: int) -> dt.date:
    return clock.local_today() + dt.timedelta(days=days)
