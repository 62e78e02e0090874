"""查询进度: following a tip with its receipt code."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import (
    Channel,
    MessageDirection,
    RejectReason,
    Role,
    TipStatus,
)
from portal.domain.models import Message, Tip
from portal.domain.reporting import intake
from portal.domain.reporting.identity import group_receipt
from portal.identity import cipher, receipt_key
from tests import factories, images
from tests.conftest import csrf_token


@pytest.fixture
def submitted(app: Flask, db_session: Session) -> tuple[Tip, str]:
    """A tip from 张三 (13800138000) and its receipt code."""
    with app.app_context():
        result = intake.submit_tip(
            db_session,
            intake.TipInput(
                channel=Channel.WEB,
                village_id=factories.village(db_session).id,
                category_id=factories.category(db_session, "wiring").id,
                unit_name="红星饭店",
                description="厨房电线老化，插线板串接了好几个。",
                reporter_name="张三",
                reporter_phone="13800138000",
            ),
            cipher=cipher(),
            receipt_key=receipt_key(),
        )
    db_session.flush()
    return result.tip, result.receipt_code


def _lookup(client: FlaskClient, code: str):
    return client.post("/track", data={"csrf_token": csrf_token(client, "/track"), "code": code})


def test_the_right_code_shows_status_timeline_and_never_the_reporter(
    client: FlaskClient, submitted
) -> None:
    _tip, code = submitted
    response = _lookup(client, group_receipt(code))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "等待审核" in page and "您的举报已收到" in page and "红星饭店" in page
    assert "张三" not in page and "13800138000" not in page
    assert code not in page


def test_full_width_digits_and_dashes_are_accepted(client, submitted) -> None:
    _tip, code = submitted
    typed = "-".join(code[i:i + 4] for i in range(0, 16, 4)).translate(
        str.maketrans("0123456789", "０１２３４５６７８９"))
    assert _lookup(client, typed).status_code == 303


@pytest.mark.parametrize("wrong", ["0000000000000000", "123", "abcdefghijklmnop", ""])
def test_a_wrong_code_gets_one_generic_message(client, submitted, wrong: str) -> None:
    response = _lookup(client, wrong)
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "查询码不正确" in html
    assert client.get("/track/status").status_code == 302, "nothing was unlocked"


def test_lookups_are_rate_limited(client, submitted, app: Flask) -> None:
    app.config["TRACK_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [_lookup(client, "0000000000000000").status_code for _ in range(4)]
    finally:
        app.config["TRACK_RATE_LIMIT"] = "10 per minute;60 per hour"
    assert statuses == [404, 404, 404, 429]


def test_the_reporter_reads_messages_replies_and_adds_photos(
    client, submitted, db_session: Session
) -> None:
    tip, code = submitted
    db_session.add(Message(tip_id=tip.id, direction=MessageDirection.TO_REPORTER,
                           body="请问饭店在村里哪条街？"))
    db_session.flush()
    _lookup(client, code)
    page = client.get("/track/status").get_data(as_text=True)
    assert "请问饭店在村里哪条街？" in page

    token = csrf_token(client, "/track/status")
    response = client.post("/track/reply", content_type="multipart/form-data", data={
        "csrf_token": token, "body": "在南街，村委会往南 200 米。",
        "photos": [(io.BytesIO(images.jpeg_with_gps()), "more.jpg")]})
    assert response.status_code == 303
    replies = db_session.scalars(select(Message).where(
        Message.direction == MessageDirection.FROM_REPORTER)).all()
    assert [m.body for m in replies] == ["在南街，村委会往南 200 米。"]
    db_session.expire_all()
    assert len(db_session.get(Tip, tip.id).attachments) == 1
    page = client.get("/track/status").get_data(as_text=True)
    assert "在南街" in page


def test_an_empty_reply_is_refused_in_chinese(client, submitted) -> None:
    _lookup(client, submitted[1])
    response = client.post("/track/reply", data={
        "csrf_token": csrf_token(client, "/track/status"), "body": "   "})
    assert response.status_code == 422
    assert "请填写补充说明或选择照片" in response.get_data(as_text=True)


def test_a_rejected_tip_says_why(client, submitted, db_session: Session) -> None:
    tip, code = submitted
    tip.status, tip.decided_at = TipStatus.REJECTED, utcnow()
    tip.reject_reason = RejectReason.OUT_OF_SCOPE
    tip.reject_message = "该问题属于供电公司管理，请拨打 95598。"
    db_session.flush()
    _lookup(client, code)
    page = client.get("/track/status").get_data(as_text=True)
    assert "不予受理" in page and "95598" in page


def test_a_closed_case_shows_the_department_and_outcome_and_not_other_tips(
    client, submitted, db_session: Session
) -> None:
    import datetime as dt

    from portal.domain.casework import routing, workflow
    from tests.admin.conftest import make_user

    tip, code = submitted
    other = factories.make_tip(db_session, unit_name="隔壁粮油店",
                               description="另一个人的举报内容，不该被看到。")
    moderator = make_user(db_session, "mod-track", Role.MODERATOR)
    officer = make_user(db_session, "fire-track", Role.OFFICER, "FIRE")
    case = factories.make_case(db_session)
    for t in (tip, other):
        t.status, t.case_id, t.decided_at = TipStatus.ACCEPTED, case.id, utcnow()
    db_session.flush()
    [lead] = routing.route_case(db_session, case, lead=factories.department(db_session, "FIRE"),
                                actor=moderator, override_reason="测试")
    workflow.accept_assignment(db_session, lead, actor=officer)
    workflow.record_check(db_session, case, actor=officer, confirmed=True, findings="属实")
    workflow.set_rectification(db_session, case, actor=officer,
                               deadline=dt.date.today() + dt.timedelta(days=10))
    workflow.post_progress(db_session, case, actor=officer, internal_text="内部",
                           public_text="已清理后门堆放的纸箱。")
    workflow.report_rectified(db_session, case, actor=officer, report="已整改")
    workflow.approve_closure(db_session, case, actor=moderator)
    db_session.flush()

    _lookup(client, code)
    page = client.get("/track/status").get_data(as_text=True)
    assert "已办结" in page and "隐患已整改" in page
    assert "阳高乡靠前驻防消防队" in page
    assert "已清理后门堆放的纸箱。" in page, "public progress notes are shown"
    assert "内部" not in page.replace("内部分", "")
    assert "隔壁粮油店" not in page and "另一个人的举报内容" not in page


def test_forgetting_ends_the_tracking_session(client, submitted) -> None:
    _lookup(client, submitted[1])
    client.post("/track/forget", data={"csrf_token": csrf_token(client, "/track/status")})
    assert client.get("/track/status").status_code == 302


def test_the_reporter_sees_their_own_photos_and_strangers_do_not(
    client, app: Flask, submitted, db_session: Session
) -> None:
    tip, code = submitted
    from portal.domain.reporting.uploads import process_image, store_image
    from portal.identity import upload_limits
    from portal.web.files import storage

    with app.app_context():
        photo = store_image(db_session, storage(),
                            process_image(images.jpeg_with_gps(), upload_limits()))
    photo.tip_id = tip.id
    db_session.flush()
    stranger = app.test_client()
    assert stranger.get(f"/media/{photo.stored_name}").status_code == 404
    _lookup(client, code)
    response = client.get(f"/media/{photo.thumbnail_name}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_reporter_withdraws_name_and_phone_and_the_report_stays(
        client, submitted, db_session: Session, app: Flask) -> None:
    """个人信息删除权: after withdrawing, no name, phone or their ciphertext is left anywhere
    in the database (the outbox included), the tip stays, and that it was withdrawn shows."""
    from portal.domain.casework import notifications
    from portal.domain.models import AuditLog, Notification
    from portal.domain.reporting.reporter import REPORTER_CALLBACK

    tip, code = submitted
    name_token, phone_token = tip.reporter_name_enc, tip.reporter_phone_enc
    office = factories.department(db_session)
    notifications.notify(db_session, REPORTER_CALLBACK, f"请电话告知举报人办理结果：举报 #{tip.id}",
                         "您举报的火灾隐患已办结。", department=office,
                         payload={"tip_id": tip.id, "case_id": None})
    db_session.flush()
    _lookup(client, code)
    page = client.get("/track/status").get_data(as_text=True)
    assert "删除我的姓名和电话" in page
    done = client.post("/track/withdraw-identity",
                       data={"csrf_token": csrf_token(client, "/track/status")})
    assert done.status_code == 200 and "已删除" in done.get_data(as_text=True)
    assert "删除我的姓名和电话" not in client.get("/track/status").get_data(as_text=True)

    db_session.expire_all()
    assert db_session.get(Tip, tip.id).identity_withdrawn_at is not None
    rows = [tuple(row) for table in Tip.metadata.sorted_tables
            for row in db_session.execute(table.select())]
    dumped = repr(rows)
    for secret in ("张三", "13800138000", repr(name_token), repr(phone_token)):
        assert secret not in dumped
    assert not [n for n in db_session.scalars(select(Notification))
                if (n.payload or {}).get("tip_id") == tip.id], "no call-back left in the outbox"
    assert db_session.scalar(select(AuditLog).where(
        AuditLog.action == "tip.withdraw_identity")) is not None


def test_the_moderator_sees_that_the_identity_was_withdrawn_not_what_it_was(
        client, submitted, db_session: Session, app: Flask) -> None:
    from tests.admin.conftest import login, make_user

    tip, code = submitted
    _lookup(client, code)
    client.post("/track/withdraw-identity",
                data={"csrf_token": csrf_token(client, "/track/status")})
    moderator = make_user(db_session, "mod-withdrawn", Role.MODERATOR)
    db_session.commit()
    staff = app.test_client()
    assert login(staff, moderator.username).status_code == 302
    page = staff.get(f"/admin/tips/{tip.id}").get_data(as_text=True)
    assert "撤回姓名和电话" in page
    assert "张三" not in page and "13800138000" not in page
