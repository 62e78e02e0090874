"""The role map: who may do what, stated the way the office would say it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access import accounts
from portal.domain.access.permissions import Permission, case_scope, has_permission
from portal.domain.enums import AssignmentRole, Role
from portal.domain.models import Assignment, Case
from tests import factories


def test_only_moderators_read_reporter_identity() -> None:
    assert [r for r in Role if has_permission(r, Permission.IDENTITY_READ)] == [Role.MODERATOR]


def test_only_admins_manage_users_and_lists() -> None:
    for permission in (Permission.USERS_MANAGE, Permission.VOCABULARY_MANAGE):
        assert [r for r in Role if has_permission(r, permission)] == [Role.ADMIN]


def test_officers_cannot_moderate_or_read_all_cases() -> None:
    for permission in (Permission.TIPS_MODERATE, Permission.QUEUE_VIEW,
                       Permission.CASES_READ_ALL, Permission.AUDIT_READ):
        assert not has_permission(Role.OFFICER, permission)
    assert not has_permission(None, Permission.STAFF)


@pytest.mark.usefixtures("app")
def test_case_scope_keeps_officers_to_their_department(db_session: Session) -> None:
    fire_case, police_case = factories.make_case(db_session), factories.make_case(db_session)
    for case, code in ((fire_case, "FIRE"), (police_case, "POLICE")):
        department = factories.department(db_session, code)
        db_session.add(Assignment(case=case, department=department, role=AssignmentRole.LEAD))
        db_session.flush()
    officer = accounts.create_user(db_session, "fire9", Role.OFFICER, "long enough pass 9",
                                   department_code="FIRE")
    moderator = accounts.create_user(db_session, "mod8", Role.MODERATOR, "long enough pass 8")
    ids = {fire_case.id, police_case.id}

    def visible(user) -> set[int]:
        return set(db_session.scalars(select(Case.id).where(case_scope(user), Case.id.in_(ids))))

    assert visible(officer) == {fire_case.id}
    assert visible(moderator) == ids
