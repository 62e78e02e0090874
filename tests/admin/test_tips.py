"""A moderator works a tip through the pages; officers stay inside their department and
nobody but a moderator who asks ever sees who reported."""

from __future__ import annotations

import io
import zipfile

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.enums import AssignmentRole, TipStatus
from portal.domain.models import Assignment, AuditLog, Case
from portal.identity import cipher
from tests import factories
from tests.conftest import csrf_token

NAME, PHONE = "王秘密", "13912345678"


def audit_count(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditLog)
                          .where(AuditLog.action == action)) or 0


def readable_text(data: bytes) -> str:
    """A page as text; an export that is a zip (xlsx) is read member by member."""
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = b"".join(archive.read(name) for name in archive.namelist())
    for encoding in ("utf-8", "gb18030"):  # CSV exports for Excel may be GB18030
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def identified_tip(app, session: Session, **values):
    with app.app_context():
        c = cipher()
        return factories.make_tip(session, reporter_name_enc=c.encrypt(NAME),
                                  reporter_phone_enc=c.encrypt(PHONE), **values)


def test_accept_from_the_tip_page(client: FlaskClient, as_role, db_session) -> None:
    tip = factories.make_tip(db_session, unit_name="李四饭店")
    db_session.commit()
    as_role("moderator")
    url = f"/admin/tips/{tip.id}"
    page = client.get(url).get_data(as_text=True)
    assert "李四饭店" in page and "受理并立案" in page
    token = csrf_token(client, url)
    response = client.post(f"{url}/accept", data={
        "csrf_token": token, "unit_name": "李四饭店", "village": tip.village_id,
        "category": tip.category_id, "venue_type": 0, "address": "东街1号",
        "internal_summary": "后厨液化气瓶"})
    db_session.refresh(tip)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/route/{tip.case_id}"  # routing is next
    assert tip.status is TipStatus.ACCEPTED
    assert "已受理" in client.get(url).get_data(as_text=True)
    assert audit_count(db_session, "tip.accept") == 1


def test_likely_duplicates_are_listed_with_one_click_merge(client, as_role, db_session) -> None:
    case = factories.make_case(db_session)
    tip = factories.make_tip(db_session, unit_name="测试 商店")
    db_session.commit()
    as_role("moderator")
    page = client.get(f"/admin/tips/{tip.id}").get_data(as_text=True)
    assert f"工单 {case.id}" in page and "同一单位名称" in page
    merge = f"/admin/tips/{tip.id}/merge/{case.id}"
    assert merge in page
    response = client.post(merge, data={"csrf_token": csrf_token(client, f"/admin/tips/{tip.id}")})
    assert response.status_code == 302
    db_session.refresh(tip)
    assert tip.status is TipStatus.MERGED and tip.case_id == case.id
    assert audit_count(db_session, "tip.merge") == 1


def test_reject_and_redact_from_the_tip_page(client, as_role, db_session) -> None:
    tip = factories.make_tip(db_session, description="老板电话13700001111，通道堵死了。")
    db_session.commit()
    as_role("moderator")
    url = f"/admin/tips/{tip.id}"
    client.post(f"{url}/redact", data={"csrf_token": csrf_token(client, url),
                                       "description": "通道堵死了。", "reason": "隐去电话"})
    page = client.get(url).get_data(as_text=True)
    assert "原文与修改记录" in page and "13700001111" in page  # moderators see the original
    missing = client.post(f"{url}/reject", data={"csrf_token": csrf_token(client, url),
                                                 "reason": "spam", "message": ""})
    assert missing.status_code == 400 and "此项必填" in missing.get_data(as_text=True)
    client.post(f"{url}/reject", data={"csrf_token": csrf_token(client, url),
                                       "reason": "insufficient", "message": "请补充地址。"})
    db_session.refresh(tip)
    assert tip.status is TipStatus.REJECTED and tip.reject_message == "请补充地址。"
    assert audit_count(db_session, "tip.redact") == 1 and audit_count(db_session, "tip.reject") == 1


def test_reveal_shows_identity_once_and_is_audited(app, client, as_role, db_session) -> None:
    tip = identified_tip(app, db_session)
    db_session.commit()
    as_role("moderator")
    url = f"/admin/tips/{tip.id}"
    page = client.get(url).get_data(as_text=True)
    assert NAME not in page and PHONE not in page and "查看举报人身份" in page
    revealed = client.post(f"{url}/identity", data={"csrf_token": csrf_token(client, url)})
    assert NAME in revealed.get_data(as_text=True) and PHONE in revealed.get_data(as_text=True)
    assert revealed.headers["Cache-Control"] == "no-store"
    assert audit_count(db_session, "tip.reveal_identity") == 1
    assert NAME not in client.get(url).get_data(as_text=True)


def _case_for(session: Session, department_code: str) -> Case:
    case = factories.make_case(session)
    session.add(Assignment(case=case, department=factories.department(session, department_code),
                           role=AssignmentRole.LEAD))
    session.flush()
    return case


def test_an_officer_gets_404_for_another_departments_case(client, as_role, db_session) -> None:
    ours, theirs = _case_for(db_session, "FIRE"), _case_for(db_session, "POLICE")
    db_session.commit()
    as_role("officer")  # fire station
    assert client.get(f"/admin/cases/{ours.id}").status_code == 200
    assert client.get(f"/admin/cases/{theirs.id}").status_code == 404
    assert client.get("/admin/cases/999999").status_code == 404
    listing = client.get("/admin/cases").get_data(as_text=True)
    assert f"/admin/cases/{ours.id}" in listing and f"/admin/cases/{theirs.id}" not in listing


def test_officers_and_supervisors_never_see_the_reporter(app, client, as_role,
                                                         db_session) -> None:
    """Every back-office page either role can open, walked from the URL map."""
    case = _case_for(db_session, "FIRE")
    tip = identified_tip(app, db_session, status=TipStatus.ACCEPTED, case_id=case.id,
                         decided_at=case.created_at)
    db_session.commit()
    values = {"case_id": case.id, "tip_id": tip.id}
    with app.test_request_context():
        from flask import url_for
        urls = [url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})
                for rule in app.url_map.iter_rules()
                if rule.endpoint.startswith("admin.") and "GET" in rule.methods
                and set(rule.arguments) <= set(values)]
    assert f"/admin/cases/{case.id}" in urls
    for role in ("officer", "supervisor"):
        as_role(role)
        opened = 0
        for url in urls:
            response = client.get(url)
            body = readable_text(response.get_data())
            assert NAME not in body and PHONE not in body, (role, url)
            opened += response.status_code == 200
        assert opened >= 3, role  # the walk really reached pages, not only refusals
        assert client.post(f"/admin/tips/{tip.id}/identity", data={
            "csrf_token": csrf_token(client, "/admin/")}).status_code == 403
        client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})


def test_a_tip_taken_by_phone_enters_the_queue_with_its_channel(client, as_role,
                                                                db_session) -> None:
    as_role("moderator")
    token = csrf_token(client, "/admin/tips/new")
    vil, cat = factories.village(db_session), factories.category(db_session)
    response = client.post("/admin/tips/new", data={
        "csrf_token": token, "channel": "phone", "unit_name": "赵六超市", "village": vil.id,
        "category": cat.id, "venue_type": 0, "description": "店内电线私拉乱接，插线板串联。",
        "reporter_name": "赵先生", "reporter_phone": "13800138000"})
    assert response.status_code == 200
    assert "回执码" in response.get_data(as_text=True)
    queue = client.get("/admin/queue?channel=phone").get_data(as_text=True)
    assert "赵六超市" in queue
    assert audit_count(db_session, "tip.create") == 1


def test_open_a_case_from_an_inspection(client, as_role, db_session) -> None:
    as_role("moderator")
    token = csrf_token(client, "/admin/cases/inspection")
    vil, cat = factories.village(db_session), factories.category(db_session)
    response = client.post("/admin/cases/inspection", data={
        "csrf_token": token, "unit_name": "孙七加工厂", "village": vil.id, "category": cat.id,
        "venue_type": 0, "internal_summary": "巡查发现"})
    assert response.status_code == 302
    assert audit_count(db_session, "case.open") == 1


# ---------------------------------------------------------------- actions drawn from the domain


def _photo(session: Session, tip):
    from portal.domain.models import Attachment

    photo = Attachment(stored_name=f"t{tip.id}.jpg", kind="photo", content_type="image/jpeg",
                       size_bytes=1, sha256="0" * 64, tip_id=tip.id)
    session.add(photo)
    session.flush()
    return photo


def _forms(html: str, tip) -> set[str]:
    """The tip's forms on the page, by their path below the tip's own."""
    import re

    prefix = f"/admin/tips/{tip.id}/"
    return {url.removeprefix(prefix)
            for url in re.findall(r'<form method="post" action="([^"]+)"', html)
            if url.startswith(prefix)}


def _offered_forms(session: Session, tip, moderator, candidates) -> set[str]:
    """The forms the page should draw: one per action the domain allows."""
    from portal.domain.vetting.actions import tip_actions

    session.expire_all()
    path = {"accept": "accept", "reject": "reject", "ask": "ask", "redact": "redact",
            "reveal": "identity", "withhold": "photos/{}/withhold", "blur": "photos/{}/blur"}
    forms = set()
    for action in tip_actions(session.get(type(tip), tip.id), moderator):
        if not action.allowed:
            continue
        if action.name == "merge":
            forms |= {f"merge/{c.id}" for c in candidates}
        else:
            forms.add(path[action.name].format(action.attachment_id))
    return forms


def test_the_tip_page_draws_exactly_the_offered_forms_and_the_refusals(
    app, client, as_role, db_session
) -> None:
    candidate = factories.make_case(db_session)  # same unit name: a likely duplicate
    tip = identified_tip(app, db_session)
    photo = _photo(db_session, tip)
    db_session.commit()
    moderator = as_role("moderator")
    url = f"/admin/tips/{tip.id}"

    html = client.get(url).get_data(as_text=True)
    assert _forms(html, tip) == _offered_forms(db_session, tip, moderator, [candidate]) == {
        "accept", "reject", "ask", "redact", "identity", f"merge/{candidate.id}",
        f"photos/{photo.id}/withhold", f"photos/{photo.id}/blur"}
    assert "不能进行的操作" not in html

    client.post(f"{url}/photos/{photo.id}/withhold",
                data={"csrf_token": csrf_token(client, url)})
    client.post(f"{url}/reject", data={"csrf_token": csrf_token(client, url),
                                       "reason": "spam", "message": "无效信息"})
    html = client.get(url).get_data(as_text=True)
    assert _forms(html, tip) == _offered_forms(db_session, tip, moderator, [candidate]) == {
        "ask", "redact", "identity"}
    assert "不能进行的操作" in html
    assert "受理并立案、合并到已有工单、不予受理：该举报已处理（不予受理），不能重复处理" in html
    assert "撤下此照片、模糊处理：该照片已撤下，仅审核员可见" in html


def test_an_anonymous_tip_says_why_there_is_no_identity_to_reveal(client, as_role,
                                                                  db_session) -> None:
    tip = factories.make_tip(db_session)
    db_session.commit()
    as_role("moderator")
    url = f"/admin/tips/{tip.id}"
    html = client.get(url).get_data(as_text=True)
    assert "identity" not in _forms(html, tip)
    assert "查看举报人身份：举报人未留姓名和电话" in html
    refused = client.post(f"{url}/identity", data={"csrf_token": csrf_token(client, url)})
    assert refused.status_code == 400
    assert "举报人未留姓名和电话" in refused.get_data(as_text=True)
    assert audit_count(db_session, "tip.reveal_identity") == 0


def test_a_photo_withheld_from_another_page_is_not_withheld_twice(client, as_role,
                                                                  db_session) -> None:
    tip = factories.make_tip(db_session)
    photo = _photo(db_session, tip)
    db_session.commit()
    as_role("moderator")
    url = f"/admin/tips/{tip.id}"
    token = csrf_token(client, url)  # both clicks come from this page
    first = client.post(f"{url}/photos/{photo.id}/withhold", data={"csrf_token": token})
    assert first.status_code == 302
    second = client.post(f"{url}/photos/{photo.id}/withhold", data={"csrf_token": token})
    assert second.status_code == 400
    assert "该照片已撤下，仅审核员可见" in second.get_data(as_text=True)
    assert audit_count(db_session, "attachment.withhold") == 1
