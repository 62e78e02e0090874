"""Signing in and staying signed in: lockout, next, idle timeout, passwords, TOTP."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin.access import LAST_SEEN_KEY, safe_next
from portal.domain.access import accounts, auth
from portal.domain.models import AuditLog
from tests.admin.conftest import PASSWORD, login
from tests.conftest import csrf_token


def test_login_and_logout(client: FlaskClient, staff) -> None:
    response = login(client, "mod1")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/queue"
    assert client.get("/admin/queue").status_code == 200
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert client.get("/admin/queue").headers["Location"].startswith("/admin/login")


def test_wrong_password_says_so_without_naming_the_account(client, staff) -> None:
    page = login(client, "mod1", "not the password at all").get_data(as_text=True)
    assert "用户名或密码不正确" in page
    assert "用户名或密码不正确" in login(client, "nobody", "whatever").get_data(as_text=True)


def test_brute_force_locks_the_account_and_the_lock_expires(client, staff, db_session,
                                                            app) -> None:
    for _ in range(auth.MAX_FAILED_LOGINS - 1):
        login(client, "mod1", "wrong password guess")
    locked = login(client, "mod1", "wrong password guess")
    assert locked.status_code == 429
    text = locked.get_data(as_text=True)
    assert "已暂时锁定" in text and "之后再试" in text
    # Even the right password is refused while locked.
    assert login(client, "mod1").status_code == 429
    user = accounts.find_user(db_session, "mod1")
    db_session.refresh(user)
    from portal.domain.clock import to_local
    with app.app_context():
        assert to_local(user.locked_until).strftime("%H:%M") in text
    # The lock runs out.
    user.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db_session.commit()
    assert login(client, "mod1").status_code == 302
    assert db_session.scalar(select(AuditLog).where(AuditLog.action == "auth.lock"))


def test_failures_from_one_address_lock_that_address(client, staff) -> None:
    for n in range(20):
        login(client, f"guess{n}", "wrong password guess")
    blocked = login(client, "mod1")  # even a correct password from this address
    assert blocked.status_code == 429
    assert "此网络的登录失败次数过多" in blocked.get_data(as_text=True)


@pytest.mark.parametrize("forged", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)", "http:/x"])
def test_a_forged_next_is_ignored(client, staff, forged) -> None:
    response = login(client, "mod1", next_url=forged)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/queue"


def test_a_local_next_is_followed(client, staff) -> None:
    response = login(client, "admin1", next_url="/admin/users?x=1")
    assert response.headers["Location"] == "/admin/users?x=1"
    assert safe_next("/admin/audit") == "/admin/audit"
    assert safe_next("//x") is None


def test_anonymous_is_sent_to_login_with_next(client) -> None:
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")


def test_idle_sessions_are_signed_out(client, staff, app) -> None:
    login(client, "mod1")
    assert client.get("/admin/queue").status_code == 200
    with client.session_transaction() as session:
        session[LAST_SEEN_KEY] -= app.config["STAFF_IDLE_MINUTES"] * 60 + 1
    response = client.get("/admin/queue")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "长时间未操作" in page
    assert client.get("/admin/queue").status_code == 302


def test_password_change_checks_length_and_common_passwords(client, staff,
                                                            db_session: Session) -> None:
    login(client, "sup1")

    def change(new: str, current: str = PASSWORD):
        token = csrf_token(client, "/admin/password")
        return client.post("/admin/password", data={
            "current": current, "new": new, "confirm": new, "csrf_token": token})

    assert "至少需要 12" in change("short1").get_data(as_text=True)
    assert "常见密码" in change("Password2024!").get_data(as_text=True)
    assert "常见密码" in change("qwertyuiop12").get_data(as_text=True)
    assert "当前密码不正确" in change("a fine new passphrase", "wrong").get_data(as_text=True)
    response = change("a fine new passphrase")
    assert response.status_code == 302
    # Still signed in after changing one's own password, and the new one works next time.
    assert client.get("/admin/").status_code == 200
    user = accounts.find_user(db_session, "sup1")
    db_session.refresh(user)
    assert accounts.password_matches(user, "a fine new passphrase")


def test_an_admin_password_reset_signs_the_user_out_elsewhere(app, client, staff,
                                                              db_session) -> None:
    login(client, "sup1")
    assert client.get("/admin/").status_code == 200
    user = accounts.find_user(db_session, "sup1")
    user.password_changed_at = user.password_changed_at + dt.timedelta(seconds=5)
    db_session.commit()
    assert client.get("/admin/").status_code == 302


def test_totp_enrol_then_required_at_login(client, staff, db_session) -> None:
    login(client, "mod1")
    page = client.get("/admin/2fa").get_data(as_text=True)
    assert "data:image/svg+xml;base64," in page
    with client.session_transaction() as session:
        secret = session["totp_setup_secret"]
    token = csrf_token(client, "/admin/2fa")
    assert "验证码不正确" in client.post("/admin/2fa", data={
        "code": "000000", "csrf_token": token}).get_data(as_text=True)
    response = client.post("/admin/2fa", data={"code": pyotp.TOTP(secret).now(),
                                               "csrf_token": token})
    assert response.status_code == 302
    user = accounts.find_user(db_session, "mod1")
    db_session.refresh(user)
    assert user.totp_secret and secret not in user.totp_secret  # encrypted at rest
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})

    response = login(client, "mod1")
    assert response.headers["Location"] == "/admin/login/totp"
    assert client.get("/admin/queue").status_code == 302  # not signed in yet
    token = csrf_token(client, "/admin/login/totp")
    assert "验证码不正确" in client.post("/admin/login/totp", data={
        "code": "123456", "csrf_token": token}).get_data(as_text=True)
    response = client.post("/admin/login/totp", data={"code": pyotp.TOTP(secret).now(),
                                                      "csrf_token": token})
    assert response.status_code == 302
    assert client.get("/admin/queue").status_code == 200


def test_policy_forces_admins_and_moderators_to_enrol(client, staff, db_session) -> None:
    login(client, "admin1")
    token = csrf_token(client, "/admin/settings")
    client.post("/admin/settings", data={"require_2fa": "y", "csrf_token": token})
    assert auth.two_factor_policy(db_session)
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/2fa")})
    login(client, "mod1")
    response = client.get("/admin/queue")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/2fa"
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/2fa")})
    login(client, "sup1")  # supervisors are not covered by the policy
    assert client.get("/admin/").status_code == 200


def test_an_admin_requires_a_second_factor_for_one_account(client, staff, db_session) -> None:
    login(client, "admin1")
    url = f"/admin/users/{staff['officer'].id}"
    client.post(url, data={"csrf_token": csrf_token(client, url), "display_name": "小王",
                           "role": "officer", "department": "FIRE", "totp_required": "y"})
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    login(client, "fire1")
    assert client.get("/admin/cases").headers["Location"] == "/admin/2fa"
    assert client.get("/admin/2fa").status_code == 200


def test_a_session_moved_to_another_browser_is_dropped(client, staff) -> None:
    """Strong session protection: the session cookie alone does not work elsewhere."""
    login(client, "mod1")
    assert client.get("/admin/queue").status_code == 200
    moved = client.get("/admin/queue", headers={"User-Agent": "another browser/1.0"})
    assert moved.status_code == 302 and moved.headers["Location"].startswith("/admin/login")


def test_each_role_lands_where_its_work_is(client, staff) -> None:
    from tests.admin.conftest import login as sign_in

    expected = {"moderator": "/admin/queue", "officer": "/admin/desk",
                "supervisor": "/admin/supervision"}
    for role, path in expected.items():
        other = client.application.test_client()
        response = sign_in(other, staff[role].username)
        assert response.status_code == 302 and response.headers["Location"].endswith(path)


def test_every_page_offers_sign_out(client, staff) -> None:
    login(client, "mod1")
    page = client.get("/admin/queue").get_data(as_text=True)
    assert 'action="/admin/logout"' in page and "退出" in page
    token = csrf_token(client, "/admin/queue")
    client.post("/admin/logout", data={"csrf_token": token})
    assert client.get("/admin/queue").status_code == 302
