"""Issue 17's walk over HTTP: the published resident photo loads, the department reads the
moderator's summary, the queue marks a resident's reply, departments sign for and answer
urging notices, and the review shows on-time figures for a department that was on time."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.casework import workflow
from portal.domain.clock import utcnow
from portal.domain.disclosure import publication
from portal.domain.enums import MessageDirection, TipStatus
from portal.domain.models import Attachment, Case, Message, Tip, UrgingNotice
from portal.domain.supervision import urging
from portal.domain.vetting import moderation
from tests import factories, images
from tests.conftest import CSRF_RE, csrf_token
from tests.domain.linkage_helpers import moderator, new_case, officer, supervisor
from tests.domain.supervision_helpers import case_at

VERSION_RE = re.compile(r'name="version" type="hidden" value="(\d+)"')
SUMMARY_RE = re.compile(r'<textarea[^>]*name="summary"[^>]*>\s*(.*?)</textarea>', re.S)


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def sign_out(client: FlaskClient) -> None:
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})


def accepted_tip(session: Session, case: Case, description: str) -> Tip:
    return factories.make_tip(session, status=TipStatus.ACCEPTED, case_id=case.id,
                              decided_at=utcnow(), description=description)


# ------------------------------------------------------------ 1. the published tip photo


def stored_photo(app: Flask, session: Session, tip: Tip) -> Attachment:
    from portal.domain.reporting.uploads import process_image, store_image
    from portal.identity import upload_limits
    from portal.web.files import storage

    with app.app_context():
        photo = store_image(session, storage(),
                            process_image(images.jpeg_with_gps(), upload_limits()))
    photo.tip_id = tip.id
    session.flush()
    return photo


def test_a_published_tip_photo_loads_for_an_anonymous_visitor(
    app: Flask, client: FlaskClient, db_session: Session,
) -> None:
    case = case_at(db_session, "rectifying", unit_name="照片饭店")
    tip = accepted_tip(db_session, case, "后门堵塞")
    published, unpublished, withheld = (stored_photo(app, db_session, tip) for _ in range(3))
    withheld.withheld = True
    mod = moderator(db_session)
    publication.set_public_photos(db_session, case, [published.id], actor=mod)
    publication.disclose_case(db_session, case, actor=mod, public_summary="后门堵塞")
    withheld.public = True  # even marked public, a withheld photo stays inside
    db_session.commit()

    unit_page = page(client, f"/disclosures/unit/{case.unit_id}")
    assert published.thumbnail_name in unit_page or published.stored_name in unit_page
    for name in (published.stored_name, published.thumbnail_name):
        response = client.get(f"/media/{name}")
        assert response.status_code == 200, name
        assert response.mimetype == "image/jpeg"
    for hidden in (unpublished, withheld):
        assert hidden.stored_name not in unit_page
        assert client.get(f"/media/{hidden.stored_name}").status_code == 404


def test_a_ticked_tip_photo_of_an_undisclosed_case_stays_404(
    app: Flask, client: FlaskClient, db_session: Session,
) -> None:
    case = case_at(db_session, "rectifying", unit_name="未公开饭店")
    photo = stored_photo(app, db_session, accepted_tip(db_session, case, "后门堵塞"))
    publication.set_public_photos(db_session, case, [photo.id], actor=moderator(db_session))
    db_session.commit()
    assert client.get(f"/media/{photo.stored_name}").status_code == 404


# ------------------------------------------------------------ 2. what the department reads


def test_the_department_reads_the_summary_the_moderator_submitted(
    client: FlaskClient, as_role, db_session: Session,
) -> None:
    case = new_case(db_session, "blocked_escape", unit_name="摘要饭店")
    tip = accepted_tip(db_session, case, "老板王五说13812345678随便打，后门被纸箱堵死。")
    moderation.redact_description(db_session, tip, "老板说13812345678随便打，后门被纸箱堵死。",
                                  "删去人名", actor=moderator(db_session))
    db_session.commit()

    as_role("moderator")
    screen = page(client, f"/admin/route/{case.id}")
    assert "这就是部门将看到的内容" in screen
    draft = SUMMARY_RE.search(screen)
    assert draft, "the routing form carries the summary"
    prefilled = html_lib.unescape(draft.group(1))
    assert "后门被纸箱堵死" in prefilled and "138********" in prefilled
    assert "王五" not in prefilled and "13812345678" not in prefilled
    edited = prefilled.replace("老板说138********随便打，", "") + "请24小时内核查。"
    fire = factories.department(db_session, "FIRE")
    response = client.post(f"/admin/route/{case.id}", data={
        "csrf_token": CSRF_RE.search(screen).group(1),  # type: ignore[union-attr]
        "version": VERSION_RE.findall(screen)[-1], "lead": fire.id,
        "assists": [factories.department(db_session, "POLICE").id],
        "override_reason": "", "summary": edited})
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    sign_out(client)

    as_role("officer")  # the fire station
    desk = page(client, f"/admin/desk/cases/{case.id}")
    assert "后门被纸箱堵死。请24小时内核查。" in desk
    assert "王五" not in desk and "13812345678" not in desk and "随便打" not in desk


def test_routing_with_an_emptied_summary_is_refused(client: FlaskClient, as_role,
                                                    db_session: Session) -> None:
    case = new_case(db_session, unit_name="空摘要饭店")
    accepted_tip(db_session, case, "后门被堵")
    db_session.commit()
    as_role("moderator")
    screen = page(client, f"/admin/route/{case.id}")
    response = client.post(f"/admin/route/{case.id}", data={
        "csrf_token": CSRF_RE.search(screen).group(1),  # type: ignore[union-attr]
        "version": VERSION_RE.findall(screen)[-1],
        "lead": factories.department(db_session, "FIRE").id,
        "override_reason": "测试指定", "summary": "  "})
    assert response.status_code == 400
    assert "请填写交给部门的情况摘要" in response.get_data(as_text=True)


# ------------------------------------------------------------ 3. the resident's reply


def test_the_queue_marks_a_residents_reply(client: FlaskClient, as_role,
                                           db_session: Session) -> None:
    factories.make_tip(db_session, unit_name="没回复的商店",
                       created_at=utcnow() - dt.timedelta(hours=6))
    replied = factories.make_tip(db_session, unit_name="已回复的商店",
                                 created_at=utcnow() - dt.timedelta(hours=2))
    for direction, minutes in ((MessageDirection.TO_REPORTER, 60),
                               (MessageDirection.FROM_REPORTER, 10)):
        db_session.add(Message(tip_id=replied.id, direction=direction, body="门口的纸箱还在",
                               created_at=utcnow() - dt.timedelta(minutes=minutes)))
    db_session.commit()
    as_role("moderator")
    queue = page(client, "/admin/queue")
    rows = re.findall(r'<li class="queue-row[^"]*">(.*?)</li>', queue, re.S)
    names = [next(n for n in ("已回复的商店", "没回复的商店") if n in r) for r in rows
             if "已回复的商店" in r or "没回复的商店" in r]
    assert names == ["已回复的商店", "没回复的商店"], "the reply sorts up"
    assert "居民已回复" in next(r for r in rows if "已回复的商店" in r)
    assert "居民已回复" not in next(r for r in rows if "没回复的商店" in r)


# ------------------------------------------------------------ 4. urging notices


@pytest.fixture
def notice(db_session: Session) -> UrgingNotice:
    late = case_at(db_session, "routed", routed_days_ago=10, unit_name="督促超市")
    issued = urging.issue_notice(db_session, factories.department(db_session, "FIRE"), [late],
                                 actor=supervisor(db_session), text="请三日内办结。")
    db_session.commit()
    return issued


def test_the_department_signs_for_and_answers_a_notice(client: FlaskClient, as_role,
                                                       db_session: Session, notice) -> None:
    as_role("officer")  # the fire station
    inbox = page(client, "/admin/urging/inbox")
    assert "未签收" in inbox and "未回复" in inbox
    token = csrf_token(client, "/admin/urging/inbox")
    response = client.post(f"/admin/urging/{notice.id}/acknowledge", data={"csrf_token": token})
    assert response.status_code == 303
    inbox = page(client, "/admin/urging/inbox")
    assert "已签收" in inbox and f"/admin/urging/{notice.id}/acknowledge" not in inbox
    again = client.post(f"/admin/urging/{notice.id}/acknowledge", data={"csrf_token": token})
    assert again.status_code == 400 and "已于" in again.get_data(as_text=True)
    empty = client.post(f"/admin/urging/{notice.id}/answer",
                        data={"csrf_token": token, "answer": " "})
    assert empty.status_code == 400 and "请填写回复内容" in empty.get_data(as_text=True)
    response = client.post(f"/admin/urging/{notice.id}/answer",
                           data={"csrf_token": token, "answer": "已派员核查，三日内办结。"})
    assert response.status_code == 303
    inbox = page(client, "/admin/urging/inbox")
    assert "已派员核查，三日内办结。" in inbox and f"/admin/urging/{notice.id}/answer" not in inbox
    sign_out(client)

    as_role("supervisor")
    letter = page(client, f"/admin/urging/{notice.id}")
    assert "签收" in letter and "已派员核查，三日内办结。" in letter and "未签收" not in letter
    assert "data-print" in letter and "打印督促函" in letter and "js/print.js" in letter
    listing = page(client, "/admin/urging")
    assert "已签收" in listing and "已回复" in listing and "已派员核查" in listing


def test_another_departments_officer_cannot_sign_or_answer(client: FlaskClient, as_role,
                                                           db_session: Session,
                                                           notice) -> None:
    as_role("officer_b")  # the police station
    token = csrf_token(client, "/admin/urging/inbox")
    assert client.post(f"/admin/urging/{notice.id}/acknowledge",
                       data={"csrf_token": token}).status_code == 404
    assert client.post(f"/admin/urging/{notice.id}/answer",
                       data={"csrf_token": token, "answer": "代答"}).status_code == 404
    db_session.expire_all()
    found = db_session.get(UrgingNotice, notice.id)
    assert found is not None and found.acknowledged_at is None and found.answer == ""


def test_the_supervisor_cannot_answer_for_the_department(client: FlaskClient, as_role,
                                                         notice) -> None:
    as_role("supervisor")
    token = csrf_token(client, "/admin/urging")
    assert client.post(f"/admin/urging/{notice.id}/answer",
                       data={"csrf_token": token, "answer": "代答"}).status_code == 403


# ------------------------------------------------------------ 6. the review page


def test_the_review_shows_on_time_figures_for_a_department_on_time(
    client: FlaskClient, as_role, db_session: Session,
) -> None:
    case = case_at(db_session, "checking", unit_name="按时核查商店")
    workflow.record_check(db_session, case, actor=officer(db_session, "FIRE"), confirmed=True,
                          findings="属实")
    db_session.commit()
    as_role("supervisor")
    fire = factories.department(db_session, "FIRE").name
    html = page(client, "/admin/review")
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", html, re.S) if fire in r)
    assert "100.0%" in row and "（1/1）" in row
