"""A staff member chooses reminders by SMS and the mobile they go to (issue 21): validated,
audited without the number, and the outbox then writes them an SMS beside the e-mail."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.models import AuditLog, User
from tests.conftest import csrf_token


def _post(client: FlaskClient, **data: str):
    return client.post("/admin/account/sms", data={
        "csrf_token": csrf_token(client, "/admin/account/sms"), **data})


def test_an_officer_chooses_sms_with_a_mobile(client: FlaskClient, db_session: Session,
                                              as_role) -> None:
    officer = as_role("officer")
    page = _post(client, mobile="138 0013 8000", notify_sms="y")
    assert page.status_code == 302
    db_session.expire_all()
    user = db_session.get(User, officer.id)
    assert (user.mobile, user.notify_sms) == ("13800138000", True)
    row = db_session.scalars(select(AuditLog).where(
        AuditLog.action == "user.sms_reminders")).one()
    assert "13800138000" not in str(row.before) + str(row.after)
    assert "短信提醒（已开启）" in client.get("/admin/").get_data(as_text=True)


def test_a_landline_or_no_number_is_refused_with_a_reason(client: FlaskClient,
                                                          as_role) -> None:
    as_role("officer")
    page = _post(client, mobile="0352-6622119", notify_sms="y").get_data(as_text=True)
    assert "请填写 11 位手机号码" in page
    page = _post(client, mobile="", notify_sms="y").get_data(as_text=True)
    assert "选择短信提醒时，请填写手机号码" in page


def test_the_form_needs_its_token(client: FlaskClient, db_session: Session,
                                  as_role) -> None:
    officer = as_role("officer")
    client.post("/admin/account/sms", data={"mobile": "13800138000", "notify_sms": "y"})
    db_session.expire_all()
    assert db_session.get(User, officer.id).notify_sms is False
