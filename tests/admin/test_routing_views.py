"""The routing screen: the triage list, the proposal and why, confirming or overriding it, a
major hazard's lead and supervision, and who may route."""

from __future__ import annotations

import datetime as dt
import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.enums import (
    AssignmentRole,
    CaseEventKind,
    CaseStatus,
    Severity,
    SupervisionLevel,
)
from portal.domain.models import Case
from tests import factories
from tests.conftest import CSRF_RE, csrf_token
from tests.domain.linkage_helpers import new_case

VERSION_RE = re.compile(r'name="version" type="hidden" value="(\d+)"')
FIRE, POLICE = "阳高乡靠前驻防消防队", "阳高派出所"


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def post_route(client: FlaskClient, case: Case, **data):
    html = page(client, f"/admin/route/{case.id}")
    body = {"csrf_token": CSRF_RE.search(html).group(1),  # type: ignore[union-attr]
            "version": VERSION_RE.findall(html)[-1], **data}
    return client.post(f"/admin/route/{case.id}", data=body)


def reload(db_session: Session, case: Case) -> Case:
    db_session.expire_all()
    found = db_session.get(Case, case.id)
    assert found is not None
    return found


def dept(db_session: Session, code: str) -> int:
    return factories.department(db_session, code).id


def test_the_triage_list_shows_cases_waiting_and_only_those(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    waiting = new_case(db_session, "blocked_escape", unit_name="等待分派的饭店")
    done = new_case(db_session, "wiring", unit_name="已经分派的商店")
    db_session.commit()
    as_role("moderator")
    post_route(client, done, lead=dept(db_session, "FIRE"))
    html = page(client, "/admin/route")
    assert "等待分派的饭店" in html and "已经分派的商店" not in html
    assert f"/admin/route/{waiting.id}" in html


def test_the_proposal_says_who_and_why_and_confirming_routes_the_case(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    case = new_case(db_session, "blocked_escape", unit_name="红星饭店")
    db_session.commit()
    as_role("moderator")
    html = page(client, f"/admin/route/{case.id}")
    proposal = html[html.index("分派建议"):html.index("确认分派")]
    assert FIRE in proposal and POLICE in proposal
    assert "分派规则：占堵生命通道/疏散通道" in proposal
    response = post_route(client, case, lead=dept(db_session, "FIRE"),
                          assists=[dept(db_session, "POLICE")])
    assert response.status_code == 303
    assert "已派给" in page(client, response.headers["Location"])
    case = reload(db_session, case)
    assert case.status is CaseStatus.ROUTED and case.check_by is not None
    assert sorted((a.department.code, a.role.value) for a in case.assignments) == [
        ("FIRE", "lead"), ("POLICE", "assist")]
    assert all(a.override_reason == "" for a in case.assignments)
    # Routed: the page no longer offers routing.
    assert "不在待分派状态" in page(client, f"/admin/route/{case.id}")


def test_an_override_needs_a_reason_which_is_recorded(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    case = new_case(db_session, "blocked_escape")
    db_session.commit()
    as_role("moderator")
    response = post_route(client, case, lead=dept(db_session, "ZFD"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "所选部门与分派规则的建议不同，请填写调整理由" in html
    assert reload(db_session, case).status is CaseStatus.TRIAGE
    response = post_route(client, case, lead=dept(db_session, "ZFD"),
                          override_reason="该出口由执法队上周已立案")
    assert response.status_code == 303
    case = reload(db_session, case)
    lead = next(a for a in case.assignments if a.role is AssignmentRole.LEAD)
    assert lead.department.code == "ZFD" and lead.override_reason == "该出口由执法队上周已立案"
    routed = next(e for e in case.events if e.kind is CaseEventKind.ROUTED)
    assert routed.data["overridden"] is True
    assert "该出口由执法队上周已立案" in page(client, f"/admin/desk/cases/{case.id}")


def test_no_matching_rule_is_the_office_s_own_choice(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    case = new_case(db_session, "other")
    db_session.commit()
    as_role("moderator")
    assert "没有匹配的分派规则" in page(client, f"/admin/route/{case.id}")
    assert post_route(client, case, lead=dept(db_session, "POLICE")).status_code == 303


def test_a_major_hazard_is_led_by_the_major_hazard_department_and_supervised(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    case = new_case(db_session, "sandwich_panel", unit_name="彩钢板仓库")  # ZJ leads, ZFD assists
    db_session.commit()
    as_role("moderator")
    html = page(client, f"/admin/route/{case.id}")
    assert "重大隐患：列入挂牌督办" not in html
    token = CSRF_RE.search(html).group(1)  # type: ignore[union-attr]
    response = client.post(f"/admin/route/{case.id}/severity", data={
        "csrf_token": token, "version": VERSION_RE.findall(html)[0], "severity": "major",
        "basis": "GB 35181 第5.1条：人员密集场所使用易燃夹芯板"})
    assert response.status_code == 303
    html = page(client, response.headers["Location"])
    assert "隐患等级已调整为“重大隐患”" in html
    proposal = html[html.index("分派建议"):html.index("确认分派")]
    assert "重大隐患：由平顺县消防救援大队牵头" in proposal and "重大隐患：列入挂牌督办" in proposal
    assert "分派后列入乡级挂牌督办" in proposal
    assert post_route(client, case, lead=dept(db_session, "DADUI"),
                      assists=[dept(db_session, "ZJ"), dept(db_session, "ZFD")]
                      ).status_code == 303
    case = reload(db_session, case)
    assert case.severity is Severity.MAJOR
    assert case.supervision_level is SupervisionLevel.TOWNSHIP
    assert [e.kind for e in case.events][:1] == [CaseEventKind.SEVERITY_CHANGED]
    assert "GB 35181 第5.1条" in case.events[0].internal_text


def test_a_stale_routing_page_is_refused_with_the_current_state(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    case = new_case(db_session, "blocked_escape")
    db_session.commit()
    as_role("moderator")
    html = page(client, f"/admin/route/{case.id}")
    token, version = CSRF_RE.search(html).group(1), VERSION_RE.findall(html)[-1]  # type: ignore[union-attr]
    assert post_route(client, case, lead=dept(db_session, "FIRE"),
                      assists=[dept(db_session, "POLICE")]).status_code == 303
    response = client.post(f"/admin/route/{case.id}", data={
        "csrf_token": token, "version": version, "lead": dept(db_session, "POLICE"),
        "override_reason": "改派"})
    assert response.status_code == 409
    assert "该案件刚刚被其他人办理过" in response.get_data(as_text=True)
    assert len(reload(db_session, case).assignments) == 2


def test_only_moderators_route_and_every_post_needs_a_token(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    case = new_case(db_session, "blocked_escape")
    db_session.commit()
    as_role("officer")
    assert client.get("/admin/route").status_code == 403
    assert client.get(f"/admin/route/{case.id}").status_code == 403
    response = client.post(f"/admin/route/{case.id}", data={
        "csrf_token": csrf_token(client, "/admin/"), "lead": dept(db_session, "FIRE")})
    assert response.status_code == 403
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    as_role("moderator")
    response = client.post(f"/admin/route/{case.id}", data={"lead": dept(db_session, "FIRE")})
    assert response.status_code == 400
    assert reload(db_session, case).status is CaseStatus.TRIAGE


def test_admin_sees_the_missing_calendar_warning_and_can_enter_the_year(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    from portal.domain.casework import sla

    as_role("admin")
    next_year = clock.local_today().year + 1
    missing = sla.calendar_status(db_session, next_year).missing
    html = page(client, "/admin/calendar")
    assert (f"{next_year} 年的节假日调休安排尚未录入" in html) is missing
    # A weekend make-up day that is no statutory holiday (those cannot be working days).
    saturday = next(day for day in (dt.date(next_year, 1, d) for d in range(2, 9))
                    if day.weekday() == 5)
    csv = f"date,workday,name\n{next_year}-01-01,否,元旦\n{saturday.isoformat()},是,元旦调休上班\n"
    response = client.post("/admin/calendar", data={
        "csrf_token": csrf_token(client, "/admin/calendar"), "text": csv, "fmt": "csv",
        "notice": "国办发明电（测试）"})
    assert response.status_code == 303
    html = page(client, response.headers["Location"])
    assert f"已录入 {next_year} 年安排：放假 1 天，调休上班 1 天" in html
    assert "尚未录入" not in html and "管理员录入的国务院放假安排" in html
    assert sla.is_workday(db_session, saturday)
    bad = client.post("/admin/calendar", data={
        "csrf_token": csrf_token(client, "/admin/calendar"), "text": "date,workday\nx,是\n",
        "fmt": "csv"})
    assert bad.status_code == 400 and "第 2 行" in bad.get_data(as_text=True)


def test_a_schedule_file_can_be_uploaded(client: FlaskClient, db_session: Session,
                                         as_role) -> None:
    import io

    from portal.domain.casework import sla

    as_role("admin")
    toml = ('notice = "国办发明电（测试）"\n[[days]]\ndate = 2029-10-01\nworkday = false\n'
            'name = "国庆节"\n[[days]]\ndate = 2029-09-29\nworkday = true\nname = "调休"\n'
            ).encode()
    response = client.post("/admin/calendar", data={
        "csrf_token": csrf_token(client, "/admin/calendar"), "fmt": "csv",
        "file": (io.BytesIO(toml), "2029.toml")}, content_type="multipart/form-data")
    assert response.status_code == 303
    html = page(client, response.headers["Location"])
    assert "已录入 2029 年安排" in html and "国办发明电（测试）" in html
    assert sla.is_workday(db_session, dt.date(2029, 9, 29))
    assert not sla.is_workday(db_session, dt.date(2029, 10, 1))


# ---------------------------------------------------------------- severity (GB 35181 judgement)


def post_severity(client: FlaskClient, case: Case, **data):
    html = page(client, f"/admin/route/{case.id}")
    body = {"csrf_token": CSRF_RE.search(html).group(1),  # type: ignore[union-attr]
            "version": VERSION_RE.findall(html)[0], "severity": "major", **data}
    return client.post(f"/admin/route/{case.id}/severity", data=body)


def test_the_severity_form_keeps_its_refusals_and_their_status_codes(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    case = new_case(db_session, "sandwich_panel")
    db_session.commit()
    as_role("moderator")
    blank = post_severity(client, case, basis="")
    assert blank.status_code == 400 and "请填写判定依据" in blank.get_data(as_text=True)
    html = page(client, f"/admin/route/{case.id}")
    stale = client.post(f"/admin/route/{case.id}/severity", data={
        "csrf_token": CSRF_RE.search(html).group(1),  # type: ignore[union-attr]
        "version": str(int(VERSION_RE.findall(html)[0]) - 1), "severity": "major",
        "basis": "GB 35181"})
    assert stale.status_code == 409 and "该案件刚刚被其他人办理过" in stale.get_data(as_text=True)
    same = post_severity(client, case, severity="general", basis="复核，维持一般隐患")
    assert same.status_code == 303
    assert "隐患等级已调整" not in page(client, same.headers["Location"])
    case = reload(db_session, case)
    assert case.severity is Severity.GENERAL and case.events == []


def test_the_severity_of_a_routed_case_is_not_changed_here(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    case = new_case(db_session, "blocked_escape")
    db_session.commit()
    as_role("moderator")
    html = page(client, f"/admin/route/{case.id}")
    token, version = CSRF_RE.search(html).group(1), VERSION_RE.findall(html)[0]  # type: ignore[union-attr]
    assert post_route(client, case, lead=dept(db_session, "FIRE"),
                      assists=[dept(db_session, "POLICE")]).status_code == 303
    routed = reload(db_session, case)
    response = client.post(f"/admin/route/{case.id}/severity", data={
        "csrf_token": token, "version": str(routed.version), "severity": "major",
        "basis": "GB 35181"})
    assert response.status_code == 400
    assert "只有待分派的案件可以在此调整隐患等级，本案件当前为“已派单”" in response.get_data(
        as_text=True)
    assert reload(db_session, case).severity is Severity.GENERAL
    assert version != str(routed.version)  # the page's own version would have been a 409
