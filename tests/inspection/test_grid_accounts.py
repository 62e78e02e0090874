"""Grid inspectors' accounts (issue 22): bound to a township, optionally to one of its village
committees, and starting at their tasks when they sign in."""

from __future__ import annotations

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access import accounts
from portal.domain.enums import Role
from portal.domain.models import User
from tests.admin.conftest import (  # noqa: F401 (fixtures)
    PASSWORD,
    fast_password_hashing,
    login,
    make_user,
    sign_in,
    township_staff,
)
from tests.conftest import csrf_token


def create(client: FlaskClient, username: str, township: str, department: str = ""):
    return client.post("/admin/users", data={
        "csrf_token": csrf_token(client, "/admin/users"), "username": username,
        "display_name": "王网格", "role": Role.GRID_INSPECTOR.value, "township": township,
        "department": department, "password": PASSWORD})


def account(session: Session, username: str) -> User | None:
    session.expire_all()
    return session.scalar(select(User).where(User.username == username))


@pytest.fixture
def admin(db_session: Session) -> User:
    return make_user(db_session, "county-admin", Role.ADMIN)


def test_the_user_admin_creates_a_grid_inspector_without_a_department(
        client: FlaskClient, db_session: Session, admin: User) -> None:
    sign_in(client, admin)
    assert create(client, "grid-plain", "yanggao").status_code == 302
    user = account(db_session, "grid-plain")
    assert user is not None and user.role is Role.GRID_INSPECTOR
    assert (user.township.code, user.department) == ("yanggao", None)


def test_the_user_admin_creates_a_grid_inspector_of_a_village_committee(
        client: FlaskClient, db_session: Session, admin: User) -> None:
    sign_in(client, admin)
    assert create(client, "grid-vc", "yanggao", "VC-V01").status_code == 302
    user = account(db_session, "grid-vc")
    assert user is not None and user.department is not None
    assert (user.township.code, user.department.code) == ("yanggao", "VC-V01")


@pytest.mark.parametrize(("township", "department", "message"), [
    ("", "", "网格员必须指定所属乡镇"),
    ("", "VC-V01", "网格员必须指定所属乡镇"),
    ("yanggao", "FIRE", "网格员只能绑定村委会"),
    ("yanggao", "VC-BS-V02", "请选择本乡镇的村委会"),
])
def test_a_grid_inspector_without_a_township_or_with_a_wrong_department_is_refused(
        client: FlaskClient, db_session: Session, admin: User, township: str,
        department: str, message: str) -> None:
    sign_in(client, admin)
    response = create(client, "grid-wrong", township, department)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert account(db_session, "grid-wrong") is None


def test_editing_a_grid_inspector_keeps_the_rule(app: Flask, db_session: Session,
                                                 admin: User) -> None:
    user = make_user(db_session, "grid-edit", Role.GRID_INSPECTOR, township="yanggao")
    with pytest.raises(accounts.AccountError, match="网格员必须指定所属乡镇"):
        accounts.update_user(db_session, user, role=Role.GRID_INSPECTOR, department_code=None,
                             township_code=None, display_name="", totp_required=False,
                             actor=admin)
    accounts.update_user(db_session, user, role=Role.GRID_INSPECTOR, department_code="VC-V02",
                         township_code="yanggao", display_name="", totp_required=False,
                         actor=admin)
    assert user.department is not None and user.department.code == "VC-V02"


def test_officers_keep_their_rules(app: Flask, db_session: Session) -> None:
    with pytest.raises(accounts.AccountError, match="部门经办人必须指定所属部门"):
        accounts.create_user(db_session, "off-none", Role.OFFICER, PASSWORD)
    officer = accounts.create_user(db_session, "off-fire", Role.OFFICER, PASSWORD,
                                   department_code="FIRE", township_code="beishe")
    assert officer.township == officer.department.township  # the department's, as before
    with pytest.raises(accounts.AccountError, match="只有部门经办人和网格员"):
        accounts.create_user(db_session, "mod-dept", Role.MODERATOR, PASSWORD,
                             department_code="FIRE")


def test_a_township_admin_creates_grid_inspectors_of_its_own_township_only(
        client: FlaskClient, db_session: Session,
        township_staff: dict[str, User]) -> None:  # noqa: F811
    sign_in(client, township_staff["admin_a"])
    response = create(client, "grid-bs", "beishe")
    assert response.status_code == 200 and account(db_session, "grid-bs") is None
    assert create(client, "grid-yg", "yanggao").status_code == 302


def test_a_grid_inspector_starts_at_their_tasks(client: FlaskClient, db_session: Session) -> None:
    make_user(db_session, "grid-login", Role.GRID_INSPECTOR, township="yanggao")
    response = login(client, "grid-login")
    assert response.status_code == 302
    known = client.application.view_functions
    with client.application.test_request_context():
        wanted = url_for("admin.my_tasks" if "admin.my_tasks" in known else "admin.inspections")
    assert response.headers["Location"].endswith(wanted)
    landing = client.get(response.headers["Location"])
    assert landing.status_code == 200
    if "admin.my_tasks" not in known:  # the hub: the field filing is among their work
        assert "现场上报隐患" in landing.get_data(as_text=True)
