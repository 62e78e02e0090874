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
    # The code typed at enrolment is used up; the authenticator's next one signs in.
    next_code = pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))
    response = client.post("/admin/login/totp", data={"code": next_code, "csrf_token": token})
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


# --- Sessions end on the server (issue 16) ---------------------------------------------------

def _copy_of(app, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie, taken now."""
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    assert cookie is not None
    other = app.test_client()
    other.set_cookie(name, cookie.value)
    return other


def _signed_out(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/admin/login")


def test_a_cookie_copied_before_sign_out_gets_the_sign_in_page_after_it(app, client,
                                                                       staff) -> None:
    login(client, "mod1")
    copy = _copy_of(app, client)
    assert copy.get("/admin/queue").status_code == 200  # the copy works while signed in
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert _signed_out(copy.get("/admin/queue"))
    assert "请先登录" in copy.get("/admin/queue", follow_redirects=True).get_data(as_text=True)


def test_signing_out_on_one_device_leaves_the_others_signed_in(app, staff) -> None:
    phone, desk = app.test_client(), app.test_client()
    login(phone, "mod1")
    login(desk, "mod1")
    phone.post("/admin/logout", data={"csrf_token": csrf_token(phone, "/admin/")})
    assert _signed_out(phone.get("/admin/queue"))
    assert desk.get("/admin/queue").status_code == 200


def test_a_role_change_ends_the_accounts_sessions(app, client, staff) -> None:
    login(client, "sup1")
    copy = _copy_of(app, client)
    admin = app.test_client()
    login(admin, "admin1")
    url = f"/admin/users/{staff['supervisor'].id}"
    admin.post(url, data={"csrf_token": csrf_token(admin, url), "display_name": "sup1",
                          "role": "moderator", "department": ""})
    assert _signed_out(client.get("/admin/"))
    assert _signed_out(copy.get("/admin/"))
    assert login(client, "sup1").headers["Location"] == "/admin/queue"  # signs in afresh


def test_a_department_change_ends_the_officers_sessions(app, client, staff) -> None:
    login(client, "fire1")
    admin = app.test_client()
    login(admin, "admin1")
    url = f"/admin/users/{staff['officer'].id}"
    admin.post(url, data={"csrf_token": csrf_token(admin, url), "display_name": "fire1",
                          "role": "officer", "department": "POLICE"})
    assert _signed_out(client.get("/admin/desk"))


def test_a_name_change_keeps_the_session(app, client, staff) -> None:
    login(client, "sup1")
    admin = app.test_client()
    login(admin, "admin1")
    url = f"/admin/users/{staff['supervisor'].id}"
    admin.post(url, data={"csrf_token": csrf_token(admin, url), "display_name": "老李",
                          "role": "supervisor", "department": ""})
    assert client.get("/admin/").status_code == 200


def test_sign_out_everywhere_ends_every_session_of_ones_own(app, staff, db_session) -> None:
    phone, desk = app.test_client(), app.test_client()
    login(phone, "mod1")
    login(desk, "mod1")
    copy = _copy_of(app, desk)
    assert "在所有设备上退出" in phone.get("/admin/").get_data(as_text=True)
    response = phone.post("/admin/logout", data={"csrf_token": csrf_token(phone, "/admin/"),
                                                 "everywhere": "1"})
    assert _signed_out(response)
    assert all(_signed_out(c.get("/admin/queue")) for c in (phone, desk, copy))
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "user.end_sessions"))
    assert entry is not None and entry.object_id == str(staff["moderator"].id)


def test_an_admin_signs_an_account_out_everywhere_and_it_is_audited(app, client, staff,
                                                                    db_session) -> None:
    login(client, "fire1")
    copy = _copy_of(app, client)
    admin = app.test_client()
    login(admin, "admin1")
    url = f"/admin/users/{staff['officer'].id}"
    page = admin.get(url).get_data(as_text=True)
    assert "使其在所有设备上退出" in page
    response = admin.post(f"{url}/sessions/end", data={"csrf_token": csrf_token(admin, url)})
    assert response.status_code == 302
    assert "所有已登录会话均已结束" in admin.get(url).get_data(as_text=True)
    assert _signed_out(client.get("/admin/desk")) and _signed_out(copy.get("/admin/desk"))
    assert admin.get("/admin/users").status_code == 200  # the admin's own session goes on
    entry = db_session.scalar(select(AuditLog).where(AuditLog.action == "user.end_sessions"))
    assert entry is not None and entry.actor_id == staff["admin"].id


def test_a_deactivation_ends_a_copied_session_too(app, client, staff) -> None:
    login(client, "fire1")
    copy = _copy_of(app, client)
    admin = app.test_client()
    login(admin, "admin1")
    url = f"/admin/users/{staff['officer'].id}"
    admin.post(f"{url}/active", data={"csrf_token": csrf_token(admin, url)})
    assert _signed_out(client.get("/admin/desk")) and _signed_out(copy.get("/admin/desk"))


def test_ones_own_password_change_ends_the_other_sessions_but_not_this_one(app, staff) -> None:
    phone, desk = app.test_client(), app.test_client()
    login(phone, "sup1")
    login(desk, "sup1")
    token = csrf_token(phone, "/admin/password")
    phone.post("/admin/password", data={"current": PASSWORD, "new": "a fine new passphrase",
                                        "confirm": "a fine new passphrase", "csrf_token": token})
    assert phone.get("/admin/").status_code == 200
    assert _signed_out(desk.get("/admin/"))


# --- A TOTP code works once ------------------------------------------------------------------

def _enrol(client: FlaskClient, db_session, username: str) -> str:
    login(client, username)
    client.get("/admin/2fa")
    with client.session_transaction() as session:
        secret = session["totp_setup_secret"]
    client.post("/admin/2fa", data={"code": pyotp.TOTP(secret).now(),
                                    "csrf_token": csrf_token(client, "/admin/2fa")})
    user = accounts.find_user(db_session, username)
    db_session.refresh(user)
    assert user.totp_secret
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    return secret


def _second_step(client: FlaskClient, code: str):
    assert login(client, "mod1").headers["Location"] == "/admin/login/totp"
    return client.post("/admin/login/totp", data={
        "code": code, "csrf_token": csrf_token(client, "/admin/login/totp")})


def test_a_totp_code_used_once_is_refused_the_second_time(app, client, staff,
                                                          db_session) -> None:
    secret = _enrol(client, db_session, "mod1")
    code = pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))
    assert _second_step(client, code).status_code == 302
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    again = app.test_client()  # e.g. someone who watched it being typed
    refused = _second_step(again, code)
    assert refused.status_code == 200 and "验证码不正确" in refused.get_data(as_text=True)
    assert _signed_out(again.get("/admin/queue"))


def test_the_code_typed_at_enrolment_does_not_sign_in(client, staff, db_session) -> None:
    login(client, "mod1")
    client.get("/admin/2fa")
    with client.session_transaction() as session:
        secret = session["totp_setup_secret"]
    code = pyotp.TOTP(secret).now()
    client.post("/admin/2fa", data={"code": code, "csrf_token": csrf_token(client, "/admin/2fa")})
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert "验证码不正确" in _second_step(client, code).get_data(as_text=True)


def test_a_totp_code_is_refused_twice_within_its_window(db_session, staff, app) -> None:
    from portal.identity import cipher

    secret = auth.new_totp_secret()
    now = dt.datetime(2026, 12, 1, 9, 0, 0, tzinfo=dt.UTC)
    user = staff["moderator"]
    with app.app_context():
        box = cipher()
        user.totp_secret = box.encrypt(secret).decode()
        code = pyotp.TOTP(secret).at(now)
        step = auth.totp_step(secret, code, now=now)
        assert step is not None
        assert auth.totp_step(secret, code, after=step, now=now) is None
        assert auth.totp_step(secret, code, after=step - 1, now=now + dt.timedelta(seconds=29))
    # One step later the next code still works; an older one does not.
    later = pyotp.TOTP(secret).at(now + dt.timedelta(seconds=30))
    assert auth.totp_step(secret, later, after=step, now=now) == step + 1
    earlier = pyotp.TOTP(secret).at(now - dt.timedelta(seconds=30))
    assert auth.totp_step(secret, earlier, after=step, now=now) is None


def test_replacing_a_second_factor_needs_its_current_code(client, staff, db_session,
                                                          monkeypatch) -> None:
    old = _enrol(client, db_session, "mod1")
    next_code = pyotp.TOTP(old).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30))
    assert _second_step(client, next_code).status_code == 302
    page = client.get("/admin/2fa").get_data(as_text=True)
    assert 'name="current_code"' in page
    with client.session_transaction() as session:
        new = session["totp_setup_secret"]
    token = csrf_token(client, "/admin/2fa")
    refused = client.post("/admin/2fa", data={"code": pyotp.TOTP(new).now(),
                                              "current_code": "000000", "csrf_token": token})
    assert "原验证器的验证码不正确" in refused.get_data(as_text=True)
    user = accounts.find_user(db_session, "mod1")
    db_session.refresh(user)
    from portal.identity import cipher
    with client.application.app_context():
        assert cipher().decrypt(user.totp_secret.encode()) == old  # unchanged
    # A minute later (the codes above are used up), the old phone's current code does it.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    done = client.post("/admin/2fa", data={"code": pyotp.TOTP(new).at(later),
                                           "current_code": pyotp.TOTP(old).at(later),
                                           "csrf_token": token})
    assert done.status_code == 302
    db_session.refresh(user)
    with client.application.app_context():
        assert cipher().decrypt(user.totp_secret.encode()) == new


# --- The lock does not tell which names exist -----------------------------------------------

def test_an_unknown_name_locks_with_the_same_message_as_a_real_one(client, staff) -> None:
    def lock_message(name: str) -> tuple[int, str]:
        for _ in range(auth.MAX_FAILED_LOGINS - 1):
            assert login(client, name, "wrong password guess").status_code == 200
        locked = login(client, name, "wrong password guess")
        page = locked.get_data(as_text=True)
        start = page.index("登录失败次数过多")
        return locked.status_code, page[start:page.index("之后再试", start)]

    real, unknown = lock_message("mod1"), lock_message("nobody-here")
    assert real[0] == unknown[0] == 429
    assert real[1] == unknown[1] and "已暂时锁定" in unknown[1]
    # And it stays locked, like an account.
    assert login(client, "nobody-here", "anything else").status_code == 429


# --- Plain HTTP in production --------------------------------------------------------------

def test_a_form_refused_over_plain_http_says_https_is_needed(app, monkeypatch) -> None:
    browser = app.test_client()
    page = browser.post("/admin/login", data={"username": "mod1", "password": PASSWORD})
    assert "HTTPS" not in page.get_data(as_text=True)  # development: the usual message
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    # A browser on http:// keeps the Secure cookie to itself: no session comes back.
    refused = app.test_client().post("/admin/login", data={"username": "mod1",
                                                           "password": PASSWORD})
    assert refused.status_code == 400
    assert "HTTPS" in refused.get_data(as_text=True)
    over_tls = app.test_client().post("/admin/login", base_url="https://localhost",
                                      data={"username": "mod1", "password": PASSWORD})
    assert over_tls.status_code == 400 and "HTTPS" not in over_tls.get_data(as_text=True)
