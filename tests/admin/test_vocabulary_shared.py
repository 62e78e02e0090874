"""The admin screens and the jurisdiction loader write the lists through one code path."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.administration import jurisdiction, vocabulary
from portal.domain.enums import DepartmentKind
from portal.domain.models import AuditLog, Department
from tests.conftest import DEMO_JURISDICTION, csrf_token


def test_an_admin_adds_a_department_of_a_kind_and_the_loader_leaves_it_deactivated(
    client, as_role, db_session: Session
) -> None:
    as_role("admin")
    url = "/admin/vocabulary/department"
    response = client.post(url, data={
        "csrf_token": csrf_token(client, url), "code": "GAS", "name": "燃气公司（示例）",
        "kind": "other", "contact": "0355-1234567", "email": "", "active": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    added = db_session.scalar(select(Department).where(Department.code == "GAS"))
    assert added is not None and added.kind is DepartmentKind.OTHER and added.active
    assert db_session.scalar(select(AuditLog).where(AuditLog.action == "department.create"))

    # The file does not list it: reloading deactivates it (never deletes), like any row.
    jurisdiction.load_file(db_session, DEMO_JURISDICTION)
    db_session.refresh(added)
    assert not added.active


def test_the_loader_refuses_what_the_screens_refuse(db_session: Session, app) -> None:
    import pytest

    with pytest.raises(vocabulary.VocabularyError, match="代码只能使用"):
        vocabulary.save_coded(db_session, "village", None, code="坏代码", actor=None,
                              name="某村")
    assert vocabulary.CODE_RE is jurisdiction.CODE_RE
