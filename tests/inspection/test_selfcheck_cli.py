"""``flask selfcheck scan --as USER`` (cron): an overdue self-check problem becomes a case,
once; an account that may not open cases is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import Role
from portal.domain.inspection import selfcheck
from portal.domain.models import Case, SelfCheck, SelfCheckCode
from tests.admin.conftest import make_user
from tests.inspection.test_selfcheck import unit  # noqa: F401 (the fixture)


def test_the_scan_opens_a_case_for_an_overdue_problem_once(
        runner, db_session: Session, unit) -> None:  # noqa: F811
    moderator = make_user(db_session, "scan-mod", Role.MODERATOR)
    checklist = selfcheck.checklist_of(unit)
    code = SelfCheckCode(unit_id=unit.id, cycle=1, code_hash="e" * 64,
                         created_by_id=moderator.id, used_at=utcnow(),
                         expires_at=utcnow() + dt.timedelta(days=30))
    db_session.add(code)
    db_session.flush()
    check = SelfCheck(unit_id=unit.id, code_id=code.id, checklist_code=checklist.code,
                      checklist_version=checklist.version,
                      answers={i.code: "problem" if i.code == "wiring" else "ok"
                               for i in checklist.items},
                      problems="电线老化", fix_by=dt.date(2026, 1, 5),
                      commitment_text="承诺", commitment_version=1)
    db_session.add(check)
    db_session.commit()
    result = runner.invoke(args=["selfcheck", "scan", "--as", "scan-mod"])
    assert result.exit_code == 0, result.output
    assert "opened 1 case(s)" in result.output
    db_session.expire_all()
    case = db_session.get(Case, db_session.get(SelfCheck, check.id).case_id)
    assert case is not None and case.unit_id == unit.id
    again = runner.invoke(args=["selfcheck", "scan", "--as", "scan-mod"])
    assert "opened 0 case(s)" in again.output


@pytest.mark.parametrize(("username", "message"), [
    ("nobody", "没有启用的账号"), ("scan-sup", "无权立案")])
def test_the_scan_needs_an_account_that_opens_cases(runner, db_session: Session,
                                                    username: str, message: str) -> None:
    make_user(db_session, "scan-sup", Role.SUPERVISOR)
    result = runner.invoke(args=["selfcheck", "scan", "--as", username])
    assert result.exit_code != 0 and message in result.output
