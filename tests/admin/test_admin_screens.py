"""Admin screens: accounts, the jurisdiction's lists, routing rules and the audit log."""

from __future__ import annotations

from sqlalchemy import select

from portal.domain.access import accounts
from portal.domain.models import AuditLog, Category, RoutingRule
from tests import factories
from tests.admin.conftest import login
from tests.conftest import csrf_token


def test_admin_creates_an_officer_and_the_officer_can_sign_in(client, as_role,
                                                               db_session) -> None:
    as_role("admin")
    token = csrf_token(client, "/admin/users")
    bad = client.post("/admin/users", data={"csrf_token": token, "username": "zfd1",
                                            "role": "officer", "department": "",
                                            "password": "a long enough pass"})
    assert "必须指定所属部门" in bad.get_data(as_text=True)
    common = client.post("/admin/users", data={"csrf_token": token, "username": "zfd1",
                                               "role": "officer", "department": "ZFD",
                                               "password": "password1234"})
    assert "常见密码" in common.get_data(as_text=True)
    ok = client.post("/admin/users", data={"csrf_token": token, "username": "zfd1",
                                           "role": "officer", "department": "ZFD",
                                           "password": "a long enough pass"})
    assert ok.status_code == 302
    user = accounts.find_user(db_session, "zfd1")
    assert user.department.code == "ZFD"
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert login(client, "zfd1", "a long enough pass").status_code == 302


def test_admin_changes_role_resets_password_and_deactivates(client, as_role, staff,
                                                            db_session) -> None:
    as_role("admin")
    officer = staff["officer"]
    url = f"/admin/users/{officer.id}"
    client.post(url, data={"csrf_token": csrf_token(client, url), "display_name": "消防站小王",
                           "role": "supervisor", "department": "", "totp_required": "y"})
    db_session.refresh(officer)
    assert officer.role.value == "supervisor" and officer.department is None
    assert officer.totp_required
    client.post(f"{url}/password", data={"csrf_token": csrf_token(client, url),
                                         "password": "another long pass"})
    client.post(f"{url}/active", data={"csrf_token": csrf_token(client, url)})
    db_session.refresh(officer)
    assert not officer.active
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert login(client, "fire1", "another long pass").status_code == 200  # deactivated
    actions = set(db_session.scalars(select(AuditLog.action).where(
        AuditLog.object_type == "user", AuditLog.object_id == str(officer.id))))
    assert {"user.update", "user.set_password", "user.deactivate"} <= actions


def test_the_last_admin_cannot_be_deactivated(client, as_role, staff, db_session) -> None:
    admin = as_role("admin")
    assert accounts.active_admin_count(db_session) == 1
    url = f"/admin/users/{admin.id}"
    page = client.post(f"{url}/active", data={"csrf_token": csrf_token(client, url)},
                       follow_redirects=True).get_data(as_text=True)
    assert "最后一个启用的管理员" in page


def test_admin_marks_a_category_urgent(client, as_role, db_session) -> None:
    as_role("admin")
    wiring = factories.category(db_session)
    url = f"/admin/vocabulary/category/{wiring.id}"
    page = client.get(url).get_data(as_text=True)
    assert "紧急（24小时内现场核查）" in page
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "code": "wiring",
                                      "name": wiring.name, "urgent": "y", "active": "y"})
    assert response.status_code == 302
    db_session.refresh(wiring)
    assert wiring.urgent
    assert db_session.scalar(select(AuditLog).where(AuditLog.action == "category.update"))


def test_admin_adds_a_village_and_codes_are_checked(client, as_role, db_session) -> None:
    as_role("admin")
    url = "/admin/vocabulary/village"
    place = factories.township(db_session, "beishe").id
    bad = client.post(url, data={"csrf_token": csrf_token(client, url), "code": "坏 代码",
                                 "name": "新村", "active": "y", "township": place})
    assert "代码只能使用" in bad.get_data(as_text=True)
    dup = client.post(url, data={"csrf_token": csrf_token(client, url), "code": "V01",
                                 "name": "新村", "active": "y", "township": place})
    assert "已被使用" in dup.get_data(as_text=True)
    ok = client.post(url, data={"csrf_token": csrf_token(client, url), "code": "V99",
                                "name": "新村", "active": "y", "township": place})
    assert ok.status_code == 302 and "新村" in client.get(url).get_data(as_text=True)
    assert factories.village(db_session, "V99").township.code == "beishe"


def test_admin_places_a_village_for_the_public_map(client, as_role, db_session) -> None:
    as_role("admin")
    village = factories.village(db_session)
    url = f"/admin/vocabulary/village/{village.id}"
    form = {"code": village.code, "name": village.name, "active": "y",
            "township": village.township_id}
    half = client.post(url, data={**form, "csrf_token": csrf_token(client, url),
                                  "latitude": "36.2"})
    assert "纬度和经度须同时填写" in half.get_data(as_text=True)
    ok = client.post(url, data={**form, "csrf_token": csrf_token(client, url),
                                "latitude": "36.2", "longitude": "113.7"})
    assert ok.status_code == 302
    db_session.refresh(village)
    assert (village.latitude, village.longitude) == (36.2, 113.7)


def test_routing_rule_preview_and_edit(client, as_role, db_session) -> None:
    as_role("admin")
    cat = factories.category(db_session)
    vil = factories.village(db_session)
    page = client.get(f"/admin/routing?category={cat.id}&venue_type=0&village={vil.id}")
    text = page.get_data(as_text=True)
    assert "牵头办理" in text and cat.name in text and vil.name in text
    rule = db_session.scalars(select(RoutingRule).where(RoutingRule.category_id == cat.id)).first()
    assert rule is not None, "the demo jurisdiction routes this category"
    url = f"/admin/routing/{rule.id}"
    police = factories.department(db_session, "POLICE")
    response = client.post(url, data={
        "csrf_token": csrf_token(client, url), "category": cat.id,
        "township": rule.township_id or 0, "venue_type": rule.venue_type_id or 0,
        "village": rule.village_id or 0,
        "lead": police.id, "priority": 5, "note": "测试", "active": "y"})
    assert response.status_code == 302
    db_session.refresh(rule)
    assert rule.lead_department_id == police.id
    preview = client.get(f"/admin/routing?category={cat.id}&venue_type="
                         f"{rule.venue_type_id or 0}&village={rule.village_id or vil.id}")
    assert police.name in preview.get_data(as_text=True)


def test_audit_page_filters_and_verifies(client, as_role, db_session) -> None:
    as_role("admin")
    db_session.add(Category(code="tmp", name="临时"))
    db_session.commit()
    page = client.get("/admin/audit?action=auth.login").get_data(as_text=True)
    assert "auth.login" in page and "user.create" not in page
    verified = client.get("/admin/audit?verify=1").get_data(as_text=True)
    assert "哈希链完整" in verified
