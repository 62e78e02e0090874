"""The department desk through the web: the whole path of a tip to closure, return, transfer,
department isolation, CSRF, the Chinese errors of refused steps and lost races, and what the
reporter sees at the end."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.casework import workflow
from portal.domain.clock import utcnow
from portal.domain.enums import (
    AssignmentState,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    Channel,
    Role,
    TipStatus,
)
from portal.domain.models import Attachment, Case, CaseEvent, Tip, User
from portal.domain.reporting import intake
from portal.domain.reporting.identity import group_receipt
from portal.identity import cipher, receipt_key
from tests import factories, images
from tests.admin.conftest import login, make_user
from tests.conftest import CSRF_RE, csrf_token
from tests.domain.linkage_helpers import lead, routed_case

VERSION_RE = re.compile(r'name="version" type="hidden" value="(\d+)"')
FIRE = "阳高乡靠前驻防消防队"
POLICE = "阳高派出所"


def page_of(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def act(client: FlaskClient, case_id: int, action: str, data: dict[str, Any] | None = None,
        *, version: str | None = None):
    """Post one desk form as a browser would: token and case version from the page."""
    html = page_of(client, f"/admin/desk/cases/{case_id}")
    token = CSRF_RE.search(html)
    found = VERSION_RE.search(html)
    assert token and found
    body = {"csrf_token": token.group(1), "version": version or found.group(1), **(data or {})}
    return client.post(f"/admin/desk/cases/{case_id}/{action}", data=body,
                       content_type="multipart/form-data")


def follow(client: FlaskClient, response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return page_of(client, response.headers["Location"])


def sign_out(client: FlaskClient) -> None:
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})


def photo() -> tuple[io.BytesIO, str]:
    return io.BytesIO(images.jpeg_with_gps()), "site.jpg"


def section(html: str, name: str) -> str:
    """The HTML of one action's card on the desk page."""
    start = html.index(f'id="act-{name}"')
    return html[start:html.index("</section>", start)]


@pytest.fixture
def ready(db_session: Session, staff: dict[str, User]) -> Case:
    """A blocked-escape case routed as proposed: the fire station leads, police assist."""
    case = routed_case(db_session, "blocked_escape", unit_name="红星饭店")
    db_session.commit()
    return case


def reload(db_session: Session, case: Case) -> Case:
    db_session.expire_all()
    found = db_session.get(Case, case.id)
    assert found is not None
    return found


# ---------------------------------------------------------------- the whole path


def test_a_tip_goes_from_routing_to_closure_through_the_web(
    app: Flask, client: FlaskClient, db_session: Session, staff, as_role
) -> None:
    with app.app_context():
        result = intake.submit_tip(db_session, intake.TipInput(
            channel=Channel.WEB, village_id=factories.village(db_session).id,
            category_id=factories.category(db_session, "blocked_escape").id,
            unit_name="红星饭店", description="后门安全出口被纸箱堵死。",
            reporter_name="张三", reporter_phone="13800138000", wants_feedback=True,
        ), cipher=cipher(), receipt_key=receipt_key())
    db_session.commit()
    tip_id, code = result.tip.id, result.receipt_code

    # The moderator accepts the tip, and the case waits for routing with the proposal shown.
    as_role("moderator")
    token = csrf_token(client, f"/admin/tips/{tip_id}")
    response = client.post(f"/admin/tips/{tip_id}/accept", data={
        "csrf_token": token, "unit_name": "红星饭店", "village": factories.village(db_session).id,
        "category": factories.category(db_session, "blocked_escape").id, "venue_type": 0,
        "address": "阳高村主街 8 号", "internal_summary": "后门出口堵塞"})
    assert response.status_code == 302
    db_session.expire_all()
    case_id = db_session.get(Tip, tip_id).case_id
    assert "红星饭店" in page_of(client, "/admin/route")
    html = page_of(client, f"/admin/route/{case_id}")
    assert FIRE in html and POLICE in html and "分派规则" in html
    assert "张三" not in html and "13800138000" not in html
    version = VERSION_RE.findall(html)[-1]
    fire, police = (factories.department(db_session, c).id for c in ("FIRE", "POLICE"))
    response = client.post(f"/admin/route/{case_id}", data={
        "csrf_token": token, "version": version,
        "lead": fire, "assists": [police], "override_reason": ""})
    assert f"工单 {case_id} 已派给{FIRE}牵头办理" in follow(client, response)
    sign_out(client)

    # The fire station's officer finds it among the new assignments and signs for it.
    as_role("officer")
    desk = page_of(client, "/admin/desk")
    new = desk[desk.index('id="group-new"'):desk.index('id="group-checking"')]
    assert "红星饭店" in new and "核查剩余" in new
    assert "张三" not in desk and "13800138000" not in desk
    page = follow(client, act(client, case_id, "accept"))
    assert "已签收" in page and "核查中" in page
    assert "张三" not in page and "13800138000" not in page and "后门安全出口被纸箱堵死" not in page
    desk = page_of(client, "/admin/desk")
    checking = desk[desk.index('id="group-checking"'):desk.index('id="group-rectifying"')]
    assert "红星饭店" in checking

    # On-site check: confirmed, with a photo.
    page = follow(client, act(client, case_id, "check", {
        "result": "confirmed", "findings": "后门出口堆放纸箱约两立方米", "photos": photo()}))
    assert "已登记核查属实" in page and "整改中" in page and "后门出口堆放纸箱约两立方米" in page
    assert "尚未下达整改期限" in page

    # Deadline and notice number.
    deadline = clock.local_today() + dt.timedelta(days=7)
    page = follow(client, act(client, case_id, "deadline", {
        "deadline": deadline.isoformat(), "notice_no": "阳消责改〔2026〕12号"}))
    assert f"整改期限已下达：{deadline.isoformat()}" in page and "阳消责改〔2026〕12号" in page
    assert "整改剩余 7 天" in page

    # Progress: internal and public text, a photo marked public.
    page = follow(client, act(client, case_id, "progress", {
        "internal_text": "店主已清理一半，内部记录", "public_text": "正在清理安全出口",
        "photos": photo(), "photos_public": "y"}))
    assert "进展已发布" in page and "店主已清理一半" in page and "正在清理安全出口" in page
    db_session.expire_all()
    progress = db_session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.kind == CaseEventKind.PROGRESS)).one()
    assert [a.public for a in progress.attachments] == [True]
    checked = db_session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.kind == CaseEventKind.CHECK_CONFIRMED)).one()
    assert [a.public for a in checked.attachments] == [False], "not public unless ticked"
    image = client.get(f"/admin/desk/cases/{case_id}/photos?file={progress.attachments[0].id}")
    assert image.status_code == 200 and image.data[:2] == b"\xff\xd8"
    assert b"Zhang San" not in image.data

    # Rectified.
    # Meanwhile the reporter sees who handles it and that it is being rectified.
    reporter = app.test_client()
    response = reporter.post("/track", data={"csrf_token": csrf_token(reporter, "/track"),
                                             "code": group_receipt(code)})
    assert response.status_code == 303
    track = page_of(reporter, "/track/status")
    assert f"已交由{FIRE}牵头办理" in track or f"已交由{FIRE}办理" in track
    assert "整改期限至" in track and "店主已清理一半" not in track

    page = follow(client, act(client, case_id, "report", {"report": "纸箱已全部清走，出口畅通",
                                                          "photos": photo()}))
    assert "已登记复查，报告整改完成" in page and "待销案" in page
    sign_out(client)

    # The moderator approves closure (销案).
    as_role("moderator")
    assert "红星饭店" in page_of(client, "/admin/closures")
    page = follow(client, act(client, case_id, "close", {"note": "现场验收合格"}))
    assert "已销案" in page and "已办结" in page and "隐患已整改" in page
    sign_out(client)

    # The reporter's tracking page shows the department and the outcome.
    track = page_of(reporter, "/track/status")
    assert FIRE in track and "隐患已整改到位" in track
    assert "店主已清理一半" not in track, "internal text stays inside"


# ---------------------------------------------------------------- return, transfer


def test_return_goes_back_to_triage_with_the_reason_and_the_trail_keeps_both(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    as_role("officer")
    page = follow(client, act(client, ready.id, "return", {"reason": "该店不在本队辖区"}))
    assert "已退回乡消安办" in page
    assert reload(db_session, ready).status is CaseStatus.TRIAGE
    sign_out(client)

    as_role("moderator")
    triage = page_of(client, "/admin/route")
    assert "红星饭店" in triage and f"被{FIRE}退回" in triage and "该店不在本队辖区" in triage
    html = page_of(client, f"/admin/route/{ready.id}")
    assert "部门退回" in html and "该店不在本队辖区" in html
    police = factories.department(db_session, "POLICE").id
    token = CSRF_RE.search(html).group(1)  # type: ignore[union-attr]
    version = VERSION_RE.findall(html)[-1]
    response = client.post(f"/admin/route/{ready.id}", data={
        "csrf_token": token, "version": version, "lead": police, "override_reason": ""})
    assert response.status_code == 400
    assert "所选部门与分派规则的建议不同，请填写调整理由" in response.get_data(as_text=True)
    response = client.post(f"/admin/route/{ready.id}", data={
        "csrf_token": token, "version": version, "lead": police,
        "override_reason": "消防队退回，由派出所先行处置"})
    follow(client, response)
    trail = page_of(client, f"/admin/desk/cases/{ready.id}")
    assert "该店不在本队辖区" in trail and "消防队退回，由派出所先行处置" in trail
    assert trail.count(FIRE) >= 1 and POLICE in trail and "已退回" in trail
    case = reload(db_session, ready)
    assert case.status is CaseStatus.ROUTED
    assert [(a.department.code, a.state) for a in case.assignments if a.role.value == "lead"] == [
        ("FIRE", AssignmentState.RETURNED), ("POLICE", AssignmentState.PENDING)]


def test_transfer_hands_the_case_on_and_keeps_the_trail(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    as_role("officer")
    follow(client, act(client, ready.id, "accept"))
    zfd = factories.department(db_session, "ZFD")
    page = follow(client, act(client, ready.id, "transfer", {
        "department": zfd.id, "reason": "涉及违章搭建，需执法队处罚"}))
    assert f"已移交{zfd.name}" in page and "涉及违章搭建，需执法队处罚" in page
    assert "已移交" in page
    case = reload(db_session, ready)
    assert lead(case).department.code == "ZFD" and lead(case).state is AssignmentState.PENDING
    # The fire station no longer has it on its desk; the law-enforcement team does.
    assert "红星饭店" not in page_of(client, "/admin/desk")
    sign_out(client)
    make_user(db_session, "zfd1", Role.OFFICER, "ZFD")
    assert login(client, "zfd1").status_code == 302
    desk = page_of(client, "/admin/desk")
    assert "红星饭店" in desk[desk.index('id="group-new"'):desk.index('id="group-checking"')]


# ---------------------------------------------------------------- isolation and safety


def test_other_departments_get_404_and_never_see_the_case(
    client: FlaskClient, db_session: Session, staff, as_role
) -> None:
    case = routed_case(db_session, "wiring", unit_name="独家小卖部")  # the fire station alone
    db_session.commit()
    as_role("officer_b")
    assert "独家小卖部" not in page_of(client, "/admin/desk")
    assert client.get(f"/admin/desk/cases/{case.id}").status_code == 404
    assert client.get(f"/admin/desk/cases/{case.id}/photos").status_code == 404
    token = csrf_token(client, "/admin/")
    for action in ("accept", "return", "check", "transfer"):
        response = client.post(f"/admin/desk/cases/{case.id}/{action}",
                               data={"csrf_token": token, "reason": "x"})
        assert response.status_code == 404, action
    assert reload(db_session, case).status is CaseStatus.ROUTED


def test_a_photo_of_another_case_is_not_served_through_this_one(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    other = routed_case(db_session, "wiring", unit_name="别家")
    event = other.events[-1]
    stray = Attachment(stored_name="stray.jpg", kind="photo", content_type="image/jpeg",
                       size_bytes=1, sha256="0" * 64, case_event_id=event.id)
    db_session.add(stray)
    db_session.commit()
    as_role("officer")
    assert client.get(f"/admin/desk/cases/{ready.id}/photos?file={stray.id}").status_code == 404


def test_posting_without_a_csrf_token_changes_nothing(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    as_role("officer")
    response = client.post(f"/admin/desk/cases/{ready.id}/accept", data={})
    assert response.status_code == 400
    assert lead(reload(db_session, ready)).state is AssignmentState.PENDING


def test_an_illegal_step_shows_the_chinese_error_next_to_its_form(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    as_role("officer")
    follow(client, act(client, ready.id, "accept"))
    response = act(client, ready.id, "report", {"report": "已整改"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "案件当前为“核查中”，不能报告整改完成" in section(html, "report")
    assert reload(db_session, ready).status is CaseStatus.CHECKING


def test_an_officer_cannot_close_and_a_moderator_cannot_check(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    as_role("officer")
    assert act(client, ready.id, "close").status_code == 403
    sign_out(client)
    as_role("moderator")
    response = client.post(f"/admin/desk/cases/{ready.id}/check", data={
        "csrf_token": csrf_token(client, "/admin/"), "result": "confirmed", "findings": "x"})
    assert response.status_code == 403
    assert reload(db_session, ready).status is CaseStatus.ROUTED


def test_a_required_reason_is_asked_for_in_chinese(
    client: FlaskClient, ready: Case, as_role
) -> None:
    as_role("officer")
    response = act(client, ready.id, "return", {"reason": ""})
    assert response.status_code == 400
    assert "此项必填" in section(response.get_data(as_text=True), "return")


def test_a_bad_photo_is_refused_with_the_reason_and_nothing_changes(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    as_role("officer")
    follow(client, act(client, ready.id, "accept"))
    response = act(client, ready.id, "check", {
        "result": "confirmed", "findings": "属实",
        "photos": (io.BytesIO(b"not an image"), "x.jpg")})
    assert response.status_code == 400
    assert "不是有效的图片文件" in section(response.get_data(as_text=True), "check")
    assert reload(db_session, ready).status is CaseStatus.CHECKING


# ---------------------------------------------------------------- races and stale pages


def test_the_second_officer_to_sign_is_told_who_signed(
    app: Flask, db_session: Session, ready: Case, as_role, client: FlaskClient
) -> None:
    make_user(db_session, "fire2", Role.OFFICER, "FIRE")
    other = app.test_client()
    assert login(other, "fire2").status_code == 302
    stale_html = page_of(other, f"/admin/desk/cases/{ready.id}")
    as_role("officer")
    follow(client, act(client, ready.id, "accept"))
    token = CSRF_RE.search(stale_html).group(1)  # type: ignore[union-attr]
    response = other.post(f"/admin/desk/cases/{ready.id}/accept", data={
        "csrf_token": token, "version": VERSION_RE.search(stale_html).group(1)})  # type: ignore[union-attr]
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "由 fire1 签收，无需重复签收" in html


def test_a_step_taken_on_an_overtaken_page_shows_what_happened(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    as_role("officer")
    follow(client, act(client, ready.id, "accept"))
    html = page_of(client, f"/admin/desk/cases/{ready.id}")
    old_version = VERSION_RE.search(html).group(1)  # type: ignore[union-attr]
    follow(client, act(client, ready.id, "check", {"result": "confirmed", "findings": "属实"}))
    response = act(client, ready.id, "check", {"result": "unfounded", "findings": "不属实"},
                   version=old_version)
    assert response.status_code == 409
    text = section(response.get_data(as_text=True), "check")
    assert "该案件刚刚被其他人办理过" in text and "核查属实" in text
    assert reload(db_session, ready).status is CaseStatus.RECTIFYING
    # Sent again from the page that said what happened, the domain judges it on today's state.
    again = act(client, ready.id, "check", {"result": "unfounded", "findings": "不属实"},
                version=VERSION_RE.search(text).group(1))  # type: ignore[union-attr]
    assert again.status_code == 400
    assert "案件当前为“整改中”，不能登记核查结果" in again.get_data(as_text=True)


# ---------------------------------------------------------------- the other steps


def test_an_unfounded_check_is_reviewed_before_the_case_closes(
    app: Flask, client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    with app.app_context():
        result = intake.submit_tip(db_session, intake.TipInput(
            channel=Channel.WEB, village_id=factories.village(db_session).id,
            category_id=factories.category(db_session, "blocked_escape").id,
            unit_name="红星饭店", description="后门安全出口被纸箱堵死。",
        ), cipher=cipher(), receipt_key=receipt_key())
    tip, code = result.tip, result.receipt_code
    tip.case_id, tip.status, tip.decided_at = ready.id, TipStatus.ACCEPTED, utcnow()
    db_session.commit()
    as_role("officer")
    follow(client, act(client, ready.id, "accept"))
    page = follow(client, act(client, ready.id, "check", {
        "result": "unfounded", "findings": "现场出口畅通，未见堆放",
        "public_text": "现场两处安全出口均畅通，未见堆放杂物"}))
    assert "已登记核查不属实，等待乡消安办审核" in page
    assert reload(db_session, ready).status is CaseStatus.UNFOUNDED
    assert 'id="act-review_unfounded"' not in page  # an officer does not review it
    sign_out(client)

    as_role("moderator")
    page = page_of(client, f"/admin/desk/cases/{ready.id}")
    assert "拟告知举报人的理由：现场两处安全出口均畅通，未见堆放杂物" in page
    assert "红星饭店" in page_of(client, "/admin/closures")
    page = follow(client, act(client, ready.id, "unfounded-review", {"decision": "approve"}))
    assert "已审核通过，案件办结" in page
    case = reload(db_session, ready)
    assert case.status is CaseStatus.CLOSED and case.outcome is CaseOutcome.UNFOUNDED
    told = db_session.get(Tip, tip.id).messages[-1].body
    assert "不属实" in told and "理由：现场两处安全出口均畅通，未见堆放杂物" in told
    # The reporter's page shows the result with its reason (§18).
    reporter = app.test_client()
    response = reporter.post("/track", data={"csrf_token": csrf_token(reporter, "/track"),
                                             "code": group_receipt(code)})
    assert response.status_code == 303
    track = page_of(reporter, "/track/status")
    assert "理由：现场两处安全出口均畅通，未见堆放杂物" in track


def test_assisting_department_posts_its_own_update(
    client: FlaskClient, db_session: Session, ready: Case, staff, as_role
) -> None:
    workflow.accept_assignment(db_session, lead(ready), actor=staff["officer"])
    db_session.commit()
    as_role("officer_b")
    desk = page_of(client, "/admin/desk")
    row = desk[desk.index("红星饭店"):]
    assert "配合" in row[:row.index("</li>")]
    html = follow(client, act(client, ready.id, "accept"))
    assert "配合部门" in html and 'id="act-check"' not in html
    page = follow(client, act(client, ready.id, "progress", {"internal_text": "已约谈店主"}))
    assert "已约谈店主" in page
    event = reload(db_session, ready).events[-1]
    assert event.kind is CaseEventKind.PROGRESS and event.department.code == "POLICE"


def test_extension_request_and_decision_then_send_back_and_follow_up(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    fire = as_role("officer")
    workflow.accept_assignment(db_session, lead(ready), actor=fire)
    workflow.record_check(db_session, ready, actor=fire, confirmed=True, findings="属实")
    workflow.set_rectification(db_session, ready, actor=fire,
                               deadline=clock.local_today() + dt.timedelta(days=3))
    db_session.commit()
    wanted = clock.local_today() + dt.timedelta(days=20)
    page = follow(client, act(client, ready.id, "extension", {
        "new_date": wanted.isoformat(), "reason": "需更换防火门，厂家供货周期长"}))
    assert "延期申请已提交" in page and "延期申请待审批" in page
    follow(client, act(client, ready.id, "report", {"report": "已整改"}))
    sign_out(client)

    as_role("supervisor")
    page = page_of(client, "/admin/closures")
    assert "红星饭店" in page
    page = follow(client, act(client, ready.id, "send-back", {"reason": "防火门未安装"}))
    assert "已退回继续整改" in page
    page = follow(client, act(client, ready.id, "extension-decision", {"decision": "approve"}))
    assert "已同意延期" in page and wanted.isoformat() in page
    sign_out(client)

    fire_user = as_role("officer")
    follow(client, act(client, ready.id, "report", {"report": "防火门已安装"}))
    sign_out(client)
    as_role("moderator")
    follow_up_on = clock.local_today() + dt.timedelta(days=30)
    follow(client, act(client, ready.id, "close", {"follow_up_by": follow_up_on.isoformat()}))
    sign_out(client)

    login(client, fire_user.username)
    desk = page_of(client, "/admin/desk")
    assert "红星饭店" in desk[desk.index('id="group-follow_up"'):]
    page = follow(client, act(client, ready.id, "follow-up", {
        "result": "reopen", "findings": "出口又被堵上"}))
    assert "隐患反弹" in page
    assert reload(db_session, ready).status is CaseStatus.RECTIFYING


# ---------------------------------------------------------------- the desk list


def test_the_desk_puts_overdue_first_and_says_how_late(
    client: FlaskClient, db_session: Session, staff, as_role
) -> None:
    from portal.domain.clock import utcnow

    routed_case(db_session, "blocked_escape", unit_name="今天派的饭店")
    routed_case(db_session, "blocked_escape", unit_name="三天前派的旅馆",
                now=utcnow() - dt.timedelta(days=3))
    routed_case(db_session, "blocked_escape", unit_name="昨天上午派的超市",
                now=utcnow() - dt.timedelta(hours=20))
    db_session.commit()
    as_role("officer")
    desk = page_of(client, "/admin/desk")
    new = desk[desk.index('id="group-new"'):desk.index('id="group-checking"')]
    order = [new.index(n) for n in ("三天前派的旅馆", "昨天上午派的超市", "今天派的饭店")]
    assert order == sorted(order)
    late = new[new.index("三天前派的旅馆"):new.index("昨天上午派的超市")]
    assert "超期" in late and "核查已超期 2 天" in late
    assert "核查剩余 3 小时" in new[new.index("昨天上午派的超市"):new.index("今天派的饭店")]


def test_the_case_page_is_made_for_a_phone(
    client: FlaskClient, db_session: Session, ready: Case, staff, as_role
) -> None:
    workflow.accept_assignment(db_session, lead(ready), actor=staff["officer"])
    db_session.commit()
    as_role("officer")
    html = page_of(client, f"/admin/desk/cases/{ready.id}")
    check = section(html, "check")
    assert 'enctype="multipart/form-data"' in check
    assert 'type="file"' in check and 'accept="image/*"' in check and "multiple" in check
    assert "desk-button" in check and 'class="stacked"' in check
    assert 'name="viewport"' in html


def test_only_admins_are_alerted_that_a_year_s_schedule_is_missing(
    client: FlaskClient, monkeypatch, as_role
) -> None:
    """The red alert goes to those who can import the schedule (issue 17); a supervisor's
    pages stay quiet (the case page notes it beside a deadline that depends on it)."""
    as_role("admin")
    monkeypatch.setattr(clock, "local_today", lambda *a, **k: dt.date(2031, 6, 1))
    html = page_of(client, "/admin/users")
    assert "2031 年的节假日调休安排尚未录入" in html
    assert "2032 年的节假日调休安排尚未录入" in html
    monkeypatch.undo()
    for role in ("supervisor", "officer"):
        client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
        as_role(role)
        monkeypatch.setattr(clock, "local_today", lambda *a, **k: dt.date(2031, 6, 1))
        start = "/admin/closures" if role == "supervisor" else "/admin/desk"
        assert "尚未录入" not in page_of(client, start), role
        monkeypatch.undo()


def test_public_photos_need_public_text(
    client: FlaskClient, db_session: Session, ready: Case, staff, as_role
) -> None:
    workflow.accept_assignment(db_session, lead(ready), actor=staff["officer"])
    db_session.commit()
    as_role("officer")
    response = act(client, ready.id, "progress", {
        "internal_text": "内部记录", "photos": photo(), "photos_public": "y"})
    assert response.status_code == 400
    assert "请同时填写公开进展" in section(response.get_data(as_text=True), "progress")
    db_session.expire_all()
    assert not [e for e in db_session.get(Case, ready.id).events
                if e.kind is CaseEventKind.PROGRESS]


def _rectifying(db_session: Session, case: Case, fire: User) -> None:
    workflow.accept_assignment(db_session, lead(case), actor=fire)
    workflow.record_check(db_session, case, actor=fire, confirmed=True, findings="属实")
    workflow.set_rectification(db_session, case, actor=fire,
                               deadline=clock.local_today() + dt.timedelta(days=3))
    db_session.commit()


def test_refusing_an_extension_needs_a_reason_and_keeps_the_deadline(
    client: FlaskClient, db_session: Session, ready: Case, staff, as_role
) -> None:
    _rectifying(db_session, ready, staff["officer"])
    workflow.request_extension(db_session, ready, actor=staff["officer"],
                               new_date=clock.local_today() + dt.timedelta(days=30),
                               reason="材料未到")
    db_session.commit()
    as_role("moderator")
    assert "材料未到" in page_of(client, "/admin/closures")
    response = act(client, ready.id, "extension-decision", {"decision": "refuse"})
    assert response.status_code == 400
    assert "请填写不予延期的理由" in section(response.get_data(as_text=True), "decide_extension")
    page = follow(client, act(client, ready.id, "extension-decision", {
        "decision": "refuse", "reason": "三天足够清理"}))
    assert "已不同意延期" in page and "三天足够清理" in page
    assert reload(db_session, ready).rectify_by == clock.local_today() + dt.timedelta(days=3)


def test_an_assisting_officer_cannot_record_the_check(
    client: FlaskClient, db_session: Session, ready: Case, staff, as_role
) -> None:
    workflow.accept_assignment(db_session, lead(ready), actor=staff["officer"])
    db_session.commit()
    as_role("officer_b")
    follow(client, act(client, ready.id, "accept"))
    response = act(client, ready.id, "check", {"result": "confirmed", "findings": "属实"})
    assert response.status_code == 400
    assert f"只有牵头部门（{FIRE}）的经办人可以登记核查结果" in response.get_data(as_text=True)


def test_a_follow_up_that_finds_the_hazard_still_fixed(
    client: FlaskClient, db_session: Session, ready: Case, staff, as_role
) -> None:
    fire = staff["officer"]
    _rectifying(db_session, ready, fire)
    workflow.report_rectified(db_session, ready, actor=fire, report="已清理")
    workflow.approve_closure(db_session, ready, actor=staff["moderator"],
                             follow_up_by=clock.local_today() + dt.timedelta(days=10))
    db_session.commit()
    as_role("supervisor")
    assert "红星饭店" in page_of(client, "/admin/closures")
    page = follow(client, act(client, ready.id, "follow-up", {
        "result": "still_ok", "findings": "出口畅通"}))
    assert "整改保持" in page and 'id="act-follow_up"' not in page
    case = reload(db_session, ready)
    assert case.status is CaseStatus.CLOSED and case.follow_up_by is None


# ---------------------------------------------------------------- the closures page, paged


def test_the_closures_page_pages_all_150_of_each_list(
    client: FlaskClient, db_session: Session, as_role
) -> None:
    """150 pending extension requests, 150 cases awaiting closure and 150 follow-ups: every
    one is on one page of its section, the latest deadlines included."""
    from tests.domain.test_worklists import bulk_cases

    for stage in ("rectifying", "rectified", "closed"):
        bulk_cases(db_session, 150, stage, extension=stage == "rectifying")
    db_session.commit()
    as_role("moderator")
    assert page_of(client, "/admin/closures").count("第 1 / 5 页") == 3
    for stage, section in (("rectifying", "extensions"), ("rectified", "awaiting"),
                           ("closed", "follow_ups")):
        seen: list[str] = []
        for number in range(1, 6):
            html = page_of(client, f"/admin/closures?section={section}&page={number}")
            seen += re.findall(rf"批量单位{stage}(\d{{3}})", html)
        assert sorted(seen) == [f"{i:03d}" for i in range(150)], section


# ---------------------------------------------------------------- actions from the domain


def test_a_department_receiving_a_case_under_way_is_not_offered_a_return(
    client: FlaskClient, db_session: Session, ready: Case, staff, as_role
) -> None:
    """The receiving department of a transfer may accept or pass the case on, not return it
    (the workflow refuses); the page says so instead of drawing a form that must fail."""
    fire = staff["officer"]
    workflow.accept_assignment(db_session, lead(ready), actor=fire)
    workflow.transfer_assignment(db_session, lead(ready), actor=fire,
                                 to_department=factories.department(db_session, "ZFD"),
                                 reason="涉及违章搭建，需执法队处罚")
    db_session.commit()
    make_user(db_session, "zfd1", Role.OFFICER, "ZFD")
    assert login(client, "zfd1").status_code == 302
    html = page_of(client, f"/admin/desk/cases/{ready.id}")
    assert 'id="act-accept"' in html and 'id="act-transfer"' in html
    assert 'id="act-return"' not in html
    assert "本案件已核查中，牵头部门不能退回；如不属本部门职责，请移交" in html
    response = act(client, ready.id, "return", {"reason": "不归我们"})
    assert response.status_code == 400
    assert "牵头部门不能退回" in section(response.get_data(as_text=True), "return")


def test_the_case_page_draws_the_forms_the_domain_offers_and_says_why_not_the_others(
    client: FlaskClient, db_session: Session, ready: Case, staff, as_role
) -> None:
    from portal.domain.casework.actions import case_actions

    _rectifying(db_session, ready, staff["officer"])
    workflow.request_extension(db_session, ready, actor=staff["officer"],
                               new_date=clock.local_today() + dt.timedelta(days=30),
                               reason="材料未到")
    db_session.commit()
    for role in ("officer", "officer_b", "moderator", "supervisor", "admin"):
        user = as_role(role)
        html = page_of(client, f"/admin/desk/cases/{ready.id}")
        actions = case_actions(reload(db_session, ready), user)
        for name, action in actions.items():
            if action.page != "desk":
                continue
            assert (f'id="act-{name}"' in html) is action.allowed, (role, name)
            listed = f'id="withheld-{name}"' in html
            assert listed is (action.in_role and not action.allowed), (role, name)
            if listed:
                assert f"<strong>{action.label}</strong>：{action.reason}" in html
        sign_out(client)
    # For example: the lead department, with its request waiting, is told why it cannot ask
    # again, and the admin, who takes no step on a case, is shown no refusals at all.
    as_role("officer")
    html = page_of(client, f"/admin/desk/cases/{ready.id}")
    assert "<strong>申请延期</strong>：已有一项延期申请等待审批" in html
    assert 'id="act-report"' in html and 'id="act-progress"' in html
    sign_out(client)
    as_role("admin")
    assert "暂不能办理" not in page_of(client, f"/admin/desk/cases/{ready.id}")


def test_every_step_the_domain_lists_has_its_form_on_the_desk() -> None:
    from admin.desk_case import FORMS
    from portal.domain.casework.actions import STEPS

    assert set(FORMS) == {s.name for s in STEPS if s.page == "desk"}


def test_a_department_that_transferred_a_case_no_longer_reads_it(
    client: FlaskClient, db_session: Session, ready: Case, as_role
) -> None:
    """After handing a case on, the fire station keeps nothing of what comes after: the case
    page, its photos and the case list answer as for any other department's case, and the
    receiving department's internal notes never reach it."""
    as_role("officer")
    follow(client, act(client, ready.id, "accept"))
    zfd = factories.department(db_session, "ZFD")
    desk = follow(client, act(client, ready.id, "transfer", {
        "department": zfd.id, "reason": "涉及违章搭建，需执法队处罚"}))
    assert "涉及违章搭建，需执法队处罚" in desk  # what it wrote itself, said once
    case = reload(db_session, ready)
    receiving = make_user(db_session, "zfd2", Role.OFFICER, "ZFD")
    workflow.accept_assignment(db_session, lead(case), actor=receiving)
    workflow.post_progress(db_session, case, actor=receiving,
                           internal_text="店主拒不配合，拟立案处罚")
    db_session.commit()
    for url in (f"/admin/desk/cases/{ready.id}", f"/admin/desk/cases/{ready.id}/photos",
                f"/admin/cases/{ready.id}"):
        assert client.get(url).status_code == 404, url
    listed = page_of(client, "/admin/cases") + page_of(client, "/admin/desk")
    assert "红星饭店" not in listed and "拟立案处罚" not in listed
