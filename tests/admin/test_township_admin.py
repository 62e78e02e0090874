"""Who administers what in a county (issue 18): a county admin keeps the townships, the county's
departments, the shared vocabularies and the routing defaults; a township admin its villages,
departments, own routing rules, staff accounts and API keys, and sees nothing of another
township's. Another township's row by URL: 404; a county row: read-only (403)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access import accounts, api_keys
from portal.domain.models import ApiKey, Department, RoutingRule, Township, User, Village
from tests import factories
from tests.admin.conftest import PASSWORD, login
from tests.conftest import csrf_token


@pytest.fixture
def sign_in(client: FlaskClient, township_staff: dict[str, User]):
    def as_(name: str) -> User:
        response = login(client, township_staff[name].username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return township_staff[name]
    return as_


def _post(client: FlaskClient, url: str, **data: object):
    return client.post(url, data={"csrf_token": csrf_token(client, "/admin/users"), **data})


def _edit_link(kind: str, row: object) -> str:
    return f'href="/admin/vocabulary/{kind}/{row.id}"'  # type: ignore[attr-defined]


# ------------------------------------------------------------------ the jurisdiction's lists

def test_a_township_admin_lists_and_edits_only_its_own_villages(client, sign_in,
                                                                db_session: Session) -> None:
    sign_in("admin_a")
    page = client.get("/admin/vocabulary/village").get_data(as_text=True)
    assert _edit_link("village", factories.village(db_session, "V01")) in page
    beishe = factories.village(db_session, "BS-V02")
    assert _edit_link("village", beishe) not in page and "BS-V02" not in page

    assert client.get(f"/admin/vocabulary/village/{beishe.id}").status_code == 404
    stolen = _post(client, f"/admin/vocabulary/village/{beishe.id}", code="BS-V02",
                   name="改名", active="y", township=beishe.township_id)
    assert stolen.status_code == 404
    db_session.refresh(beishe)
    assert beishe.name == "东庄村（示例）"

    own = factories.village(db_session, "V01")
    url = f"/admin/vocabulary/village/{own.id}"
    ok = _post(client, url, code="V01", name="改过的村（示例）", active="y",
               township=own.township_id)
    assert ok.status_code == 302
    db_session.refresh(own)
    assert own.name == "改过的村（示例）"


def test_a_township_admin_adds_a_village_only_to_its_township(client, sign_in,
                                                              db_session: Session) -> None:
    sign_in("admin_a")
    yanggao, beishe = factories.township(db_session), factories.township(db_session, "beishe")
    refused = _post(client, "/admin/vocabulary/village", code="V98", name="别人的村",
                    active="y", township=beishe.id)
    assert refused.status_code == 200  # not one of the choices: shown again, nothing saved
    assert db_session.scalar(select(Village).where(Village.code == "V98")) is None
    ok = _post(client, "/admin/vocabulary/village", code="V99", name="新村", active="y",
               township=yanggao.id)
    assert ok.status_code == 302
    assert factories.village(db_session, "V99").township_id == yanggao.id


def test_a_township_admins_departments_are_its_own_and_the_countys_serving_it(
        client, sign_in, db_session: Session) -> None:
    sign_in("admin_a")
    page = client.get("/admin/vocabulary/department").get_data(as_text=True)
    fire, dadui = factories.department(db_session, "FIRE"), factories.department(db_session,
                                                                                 "DADUI")
    assert _edit_link("department", fire) in page
    # The county brigade serves 阳高乡: listed, read-only.
    assert "平顺县消防救援大队" in page and _edit_link("department", dadui) not in page
    assert "县级部门，只读" in page
    # Another township's, and a county department not serving 阳高乡: not listed at all.
    assert "北社派出所" not in page and "平顺县市场监督管理局" not in page

    assert client.get(f"/admin/vocabulary/department/{dadui.id}").status_code == 403
    police_b = factories.department(db_session, "BS-POLICE")
    assert client.get(f"/admin/vocabulary/department/{police_b.id}").status_code == 404
    scjgj = factories.department(db_session, "SCJGJ")
    assert client.get(f"/admin/vocabulary/department/{scjgj.id}").status_code == 404


def test_a_township_admin_creates_a_department_of_its_township_not_the_countys(
        client, sign_in, db_session: Session) -> None:
    sign_in("admin_a")
    yanggao = factories.township(db_session)
    county = _post(client, "/admin/vocabulary/department", code="NEWC", name="县级新部门",
                   kind="fire_station", active="y", township=0)
    assert county.status_code == 200
    assert db_session.scalar(select(Department).where(Department.code == "NEWC")) is None
    ok = _post(client, "/admin/vocabulary/department", code="NEWT", name="阳高乡新队",
               kind="fire_station", active="y", township=yanggao.id)
    assert ok.status_code == 302
    made = db_session.scalar(select(Department).where(Department.code == "NEWT"))
    assert made.township_id == yanggao.id and [t.code for t in made.serves] == ["yanggao"]


@pytest.mark.parametrize(("kind", "title"), [
    ("township", "乡镇"), ("category", "隐患类别"), ("venue_type", "场所类型")])
def test_a_township_admin_cannot_create_the_countys_lists(client, sign_in, db_session,
                                                          kind: str, title: str) -> None:
    sign_in("admin_a")
    page = client.get(f"/admin/vocabulary/{kind}")
    assert page.status_code == 200 and f"新增{title}" not in page.get_data(as_text=True)
    refused = _post(client, f"/admin/vocabulary/{kind}", code="new1", name="新条目", active="y")
    assert refused.status_code == 403
    category = factories.category(db_session)
    assert client.get(f"/admin/vocabulary/category/{category.id}").status_code == 403


def test_a_township_admin_sees_no_other_township(client, sign_in, db_session) -> None:
    sign_in("admin_a")
    page = client.get("/admin/vocabulary/township").get_data(as_text=True)
    assert "阳高乡" in page and "北社乡" not in page
    beishe = factories.township(db_session, "beishe")
    assert client.get(f"/admin/vocabulary/township/{beishe.id}").status_code == 404


def test_the_county_admin_manages_townships_and_whom_a_county_department_serves(
        client, sign_in, db_session: Session) -> None:
    sign_in("admin_county")
    page = client.get("/admin/vocabulary/township").get_data(as_text=True)
    assert "阳高乡" in page and "北社乡（示例）" in page and "新增乡镇" in page
    made = _post(client, "/admin/vocabulary/township", code="nanshan", name="南山乡",
                 office_department="XAW", penalty_department="", contact="0355-1",
                 active="y")
    assert made.status_code == 302
    nanshan = db_session.scalar(select(Township).where(Township.code == "nanshan"))
    assert nanshan.name == "南山乡" and nanshan.office_department == "XAW"
    url = f"/admin/vocabulary/township/{nanshan.id}"
    assert "乡镇消安办" in client.get(url).get_data(as_text=True)
    renamed = _post(client, url, code="nanshan", name="南山镇", office_department="",
                    penalty_department="", contact="", active="y")
    assert renamed.status_code == 302
    db_session.refresh(nanshan)
    assert nanshan.name == "南山镇" and nanshan.office_department == ""

    beishe = factories.township(db_session, "beishe")
    dept = _post(client, "/admin/vocabulary/department", code="NEWC", name="县级新部门",
                 kind="fire_station", active="y", township=0, serves=[beishe.id])
    assert dept.status_code == 302
    made_dept = db_session.scalar(select(Department).where(Department.code == "NEWC"))
    assert made_dept.township_id is None and [t.code for t in made_dept.serves] == ["beishe"]
    page = client.get(f"/admin/vocabulary/department/{made_dept.id}").get_data(as_text=True)
    assert "服务的乡镇" in page


def test_a_townships_office_is_one_of_the_departments_serving_it(
        client, sign_in, db_session: Session) -> None:
    sign_in("admin_county")
    yanggao = factories.township(db_session)
    url = f"/admin/vocabulary/township/{yanggao.id}"
    form = client.get(url).get_data(as_text=True)
    assert 'value="XAB"' in form and 'value="DADUI"' in form
    assert 'value="BS-POLICE"' not in form and 'value="SCJGJ"' not in form
    # Posted by hand, another township's department is refused with the reason.
    refused = _post(client, url, code="yanggao", name="阳高乡", office_department="BS-POLICE",
                    penalty_department="", contact="", active="y")
    assert refused.status_code in (200, 422)
    db_session.refresh(yanggao)
    assert yanggao.office_department == "XAB"
    from portal.domain.administration import vocabulary
    with pytest.raises(vocabulary.VocabularyError, match="不服务本乡镇"):
        vocabulary.save_coded(db_session, "township", yanggao, code="yanggao", actor=None,
                              name="阳高乡", office_department="", penalty_department="SCJGJ")


def test_a_new_township_is_served_by_the_departments_serving_every_township(
        client, sign_in, db_session: Session) -> None:
    sign_in("admin_county")
    form = client.get("/admin/vocabulary/township").get_data(as_text=True)
    assert 'value="DADUI"' in form and 'value="SCJGJ"' not in form
    made = _post(client, "/admin/vocabulary/township", code="nanshan", name="南山乡",
                 office_department="DADUI", penalty_department="", contact="", active="y")
    assert made.status_code == 302
    nanshan = db_session.scalar(select(Township).where(Township.code == "nanshan"))
    dadui, scjgj = (factories.department(db_session, c) for c in ("DADUI", "SCJGJ"))
    assert nanshan in dadui.serves and nanshan not in scjgj.serves


# ------------------------------------------------------------------ routing rules

def _rule_form(db_session: Session, township: int, lead: str, category: str = "hot_work"):
    return {"township": township, "category": factories.category(db_session, category).id,
            "venue_type": 0, "village": 0,
            "lead": factories.department(db_session, lead).id, "priority": 0, "active": "y"}


def test_a_township_admins_rules_are_its_own_plus_the_county_defaults(
        client, sign_in, db_session: Session) -> None:
    sign_in("admin_a")
    page = client.get("/admin/routing").get_data(as_text=True)
    assert "阳高乡自有规则" in page and "全县默认（只读）" in page
    assert "北社乡（示例）自有规则" not in page and "北社派出所" not in page
    county_rule = db_session.scalar(select(RoutingRule).where(RoutingRule.township_id.is_(None)))
    beishe = factories.township(db_session, "beishe")
    beishe_rule = db_session.scalar(select(RoutingRule).where(
        RoutingRule.township_id == beishe.id))
    assert client.get(f"/admin/routing/{county_rule.id}").status_code == 403
    assert client.get(f"/admin/routing/{beishe_rule.id}").status_code == 404
    # Lead and assist offer the departments serving 阳高乡: its own and the county brigade.
    dadui, scjgj = (factories.department(db_session, c) for c in ("DADUI", "SCJGJ"))
    assert f'<option value="{dadui.id}">' in page
    assert f'<option value="{scjgj.id}">' not in page


def test_a_township_admin_previews_routing_in_its_own_villages(client, sign_in,
                                                                db_session) -> None:
    sign_in("admin_a")
    category = factories.category(db_session, "illegal_dwelling")
    own, other = factories.village(db_session, "V02"), factories.village(db_session, "BS-V02")
    page = client.get(f"/admin/routing?category={category.id}&venue_type=0&village={own.id}")
    assert "牵头办理" in page.get_data(as_text=True)
    page = client.get(f"/admin/routing?category={category.id}&venue_type=0&village={other.id}")
    text = page.get_data(as_text=True)
    assert "牵头办理" not in text and "北社派出所" not in text


def test_a_township_admin_writes_only_its_own_rules(client, sign_in, db_session) -> None:
    sign_in("admin_a")
    yanggao = factories.township(db_session)
    default = _post(client, "/admin/routing", **_rule_form(db_session, 0, "FIRE"))
    assert default.status_code == 200  # no county default among its choices
    foreign = _post(client, "/admin/routing", **_rule_form(db_session, yanggao.id, "BS-POLICE"))
    assert foreign.status_code == 200
    assert db_session.scalar(select(RoutingRule).where(
        RoutingRule.category_id == factories.category(db_session, "hot_work").id,
        RoutingRule.township_id.is_(None))) is None

    other = _rule_form(db_session, yanggao.id, "DADUI", category="other")
    ok = _post(client, "/admin/routing", **{**other, "village": factories.village(
        db_session, "V03").id})
    assert ok.status_code == 302
    made = db_session.scalar(select(RoutingRule).where(
        RoutingRule.village_id == factories.village(db_session, "V03").id,
        RoutingRule.category_id == other["category"]))
    assert made.township_id == yanggao.id


def test_the_county_admin_is_refused_a_township_rule_naming_a_department_not_serving_it(
        client, sign_in, db_session: Session) -> None:
    sign_in("admin_county")
    beishe = factories.township(db_session, "beishe")
    refused = _post(client, "/admin/routing", **_rule_form(db_session, beishe.id, "FIRE"))
    assert refused.status_code == 200
    assert "不服务该乡镇" in refused.get_data(as_text=True)
    ok = _post(client, "/admin/routing", **_rule_form(db_session, 0, "DADUI"))
    assert ok.status_code == 302
    assert db_session.scalar(select(RoutingRule).where(
        RoutingRule.township_id.is_(None),
        RoutingRule.category_id == factories.category(db_session, "hot_work").id))


# ------------------------------------------------------------------ staff accounts

def test_a_township_admins_user_list_is_its_township(client, sign_in, township_staff) -> None:
    sign_in("admin_a")
    page = client.get("/admin/users").get_data(as_text=True)
    for mine in ("moderator_a", "supervisor_a", "officer_a"):
        assert f">{township_staff[mine].username}<" in page
    for other in ("moderator_b", "moderator_county", "officer_b", "officer_county"):
        assert f">{township_staff[other].username}<" not in page
    stranger = township_staff["moderator_b"]
    assert client.get(f"/admin/users/{stranger.id}").status_code == 404
    reset = _post(client, f"/admin/users/{stranger.id}/password", password="a brand new pass")
    assert reset.status_code == 404


def test_a_township_admin_creates_accounts_in_its_township_only(client, sign_in,
                                                                db_session) -> None:
    sign_in("admin_a")
    ok = _post(client, "/admin/users", username="mod-new", role="moderator",
               township="beishe", department="", password="a long enough pass")
    assert ok.status_code == 200  # 北社乡 is not among its choices
    assert accounts.find_user(db_session, "mod-new") is None
    ok = _post(client, "/admin/users", username="mod-new", role="moderator", department="",
               password="a long enough pass")
    assert ok.status_code == 302
    made = accounts.find_user(db_session, "mod-new")
    assert made.township.code == "yanggao"
    edit = client.get(f"/admin/users/{made.id}").get_data(as_text=True)
    assert "阳高乡" in edit and "北社乡" not in edit and "县级（全县）" not in edit
    officer = _post(client, "/admin/users", username="fire-new", role="officer",
                    township="yanggao", department="FIRE", password="a long enough pass")
    assert officer.status_code == 302
    assert accounts.find_user(db_session, "fire-new").township.code == "yanggao"
    county = _post(client, "/admin/users", username="dadui-new", role="officer",
                   township="yanggao", department="DADUI", password="a long enough pass")
    assert county.status_code == 200 and accounts.find_user(db_session, "dadui-new") is None


def test_the_domain_refuses_a_township_admin_an_account_elsewhere(app, db_session,
                                                                  township_staff) -> None:
    with pytest.raises(accounts.AccountError, match="只能管理本乡镇的账户"):
        accounts.create_user(db_session, "dadui-2", accounts.Role.OFFICER, PASSWORD,
                             department_code="DADUI", actor=township_staff["admin_a"])
    with pytest.raises(accounts.AccountError, match="只能管理本乡镇的账户"):
        accounts.update_user(db_session, township_staff["moderator_a"],
                             role=accounts.Role.MODERATOR, department_code=None,
                             township_code="beishe", display_name="", totp_required=False,
                             actor=township_staff["admin_a"])


def test_the_county_admin_places_accounts_in_any_township(client, sign_in, township_staff,
                                                          db_session) -> None:
    sign_in("admin_county")
    page = client.get("/admin/users").get_data(as_text=True)
    assert f">{township_staff['moderator_b'].username}<" in page and "县级（全县）" in page
    made = _post(client, "/admin/users", username="sup-bs", role="supervisor",
                 township="beishe", department="", password="a long enough pass")
    assert made.status_code == 302
    assert accounts.find_user(db_session, "sup-bs").township.code == "beishe"
    county = _post(client, "/admin/users", username="sup-whole", role="supervisor",
                   township="", department="", password="a long enough pass")
    assert county.status_code == 302
    assert accounts.find_user(db_session, "sup-whole").township is None

    moved = township_staff["moderator_a"]
    url = f"/admin/users/{moved.id}"
    response = _post(client, url, display_name="调岗", role="moderator", township="beishe",
                     department="")
    assert response.status_code == 302
    db_session.refresh(moved)
    assert moved.township.code == "beishe"
    officer = township_staff["officer_a"]
    _post(client, f"/admin/users/{officer.id}", display_name="", role="officer",
          township="", department="BS-POLICE")
    db_session.refresh(officer)
    assert officer.township.code == "beishe"  # an officer follows its department


def test_the_cli_creates_a_township_account(runner, db_session) -> None:
    result = runner.invoke(args=["users", "create", "bs-mod", "--role", "moderator",
                                 "--township", "beishe", "--generate"])
    assert result.exit_code == 0, result.output
    assert accounts.find_user(db_session, "bs-mod").township.code == "beishe"
    county = runner.invoke(args=["users", "create", "county-mod", "--role", "moderator",
                                 "--generate"])
    assert county.exit_code == 0 and accounts.find_user(db_session, "county-mod").township is None
    bad = runner.invoke(args=["users", "create", "x-mod", "--role", "moderator",
                              "--township", "nowhere", "--generate"])
    assert bad.exit_code != 0 and "乡镇代码 nowhere 不存在" in bad.output
    listing = runner.invoke(args=["users", "list"]).output
    assert "bs-mod\tmoderator\t-\t启用\tbeishe" in listing


# ------------------------------------------------------------------ API keys

def test_a_township_admin_issues_and_sees_only_its_townships_keys(
        client, sign_in, township_staff, db_session: Session) -> None:
    county_key = api_keys.issue(db_session, "县应急平台").api_key
    beishe = factories.township(db_session, "beishe")
    beishe_key = api_keys.issue(db_session, "北社热线", township_id=beishe.id).api_key
    db_session.commit()
    sign_in("admin_a")
    page = client.get("/admin/apikeys").get_data(as_text=True)
    assert "县应急平台" not in page and "北社热线" not in page
    issued = _post(client, "/admin/apikeys", partner="阳高热线", township=0)
    assert issued.status_code == 200 and "已为“阳高热线”签发密钥" in issued.get_data(as_text=True)
    row = db_session.scalar(select(ApiKey).where(ApiKey.partner == "阳高热线"))
    assert row.township_id == factories.township(db_session).id
    page = client.get("/admin/apikeys").get_data(as_text=True)
    assert "阳高热线" in page and "北社热线" not in page
    for other in (county_key, beishe_key):
        assert _post(client, f"/admin/apikeys/{other.id}/revoke").status_code == 404
        db_session.refresh(other)
        assert other.revoked_at is None


def test_the_county_admin_issues_keys_for_the_county_or_a_township(
        client, sign_in, db_session: Session) -> None:
    sign_in("admin_county")
    beishe = factories.township(db_session, "beishe")
    assert _post(client, "/admin/apikeys", partner="北社热线",
                 township=beishe.id).status_code == 200
    assert _post(client, "/admin/apikeys", partner="县平台", township=0).status_code == 200
    keys = {k.partner: k.township_id for k in db_session.scalars(select(ApiKey))}
    assert keys["北社热线"] == beishe.id and keys["县平台"] is None
    page = client.get("/admin/apikeys").get_data(as_text=True)
    assert "北社热线" in page and "县平台" in page and "北社乡（示例）" in page


def test_the_cli_issues_a_township_key(runner, db_session) -> None:
    result = runner.invoke(args=["apikeys", "issue", "北社热线", "--township", "beishe"])
    assert result.exit_code == 0, result.output
    assert "北社乡（示例）的密钥" in result.output
    row = db_session.scalar(select(ApiKey).where(ApiKey.partner == "北社热线"))
    assert row.township_id == factories.township(db_session, "beishe").id
    bad = runner.invoke(args=["apikeys", "issue", "x", "--township", "nowhere"])
    assert bad.exit_code != 0 and "nowhere" in bad.output


# ------------------------------------------------------------------ whose office

@pytest.mark.parametrize(("name", "office"), [
    ("admin_a", "平顺县 · 阳高乡"), ("moderator_b", "平顺县 · 北社乡（示例）"),
    ("supervisor_county", "平顺县（县级）"), ("officer_a", "平顺县 · 阳高乡"),
])
def test_every_back_office_page_names_the_users_office(client, sign_in, name: str,
                                                       office: str) -> None:
    sign_in(name)
    assert office in client.get("/admin/").get_data(as_text=True)


# ------------------------------------------------------------------ the deployment's settings

@pytest.mark.parametrize(("url", "data", "editor"), [
    ("/admin/settings", {"require_2fa": "y"}, "保存"),
    ("/admin/calendar", {"text": "date,workday,name\n2031-01-01,否,元旦\n", "fmt": "csv"},
     "录入一年的安排"),
])
def test_only_the_county_admin_changes_the_countys_settings_and_calendar(
        client, sign_in, url: str, data: dict[str, str], editor: str) -> None:
    sign_in("admin_a")
    page = client.get(url)
    assert page.status_code == 200 and editor not in page.get_data(as_text=True)
    assert "县级管理员" in page.get_data(as_text=True)
    assert _post(client, url, **data).status_code == 403
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    sign_in("admin_county")
    assert editor in client.get(url).get_data(as_text=True)
