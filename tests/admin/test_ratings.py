"""回访评价 in the back office: a 不满意 reaches the supervisor, who reopens the case or answers
the reporter; staff record a phone follow-up; the department review counts the ratings."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.enums import CaseStatus, RatingAnswer, RatingSource, TipStatus
from portal.domain.models import Case, Tip
from portal.domain.reporting import rating
from tests import factories
from tests.conftest import csrf_token
from tests.domain.supervision_helpers import case_at


def closed_with_tip(db_session: Session, stage: str = "closed") -> tuple[Case, Tip]:
    case = case_at(db_session, stage)
    tip = factories.make_tip(db_session, case_id=case.id, status=TipStatus.ACCEPTED,
                             decided_at=case.created_at, village=case.village)
    return case, tip


def test_a_dissatisfied_rating_reaches_the_supervisor_who_reopens_the_case(
        client: FlaskClient, db_session: Session, as_role) -> None:
    case, tip = closed_with_tip(db_session)
    given = rating.rate(db_session, tip, RatingAnswer.DISSATISFIED, "纸箱又堆回来了",
                        RatingSource.TRACK)
    as_role("supervisor")
    page = client.get("/admin/ratings").get_data(as_text=True)
    assert f"工单 {case.id}" in page and "纸箱又堆回来了" in page
    deadline = clock.local_today() + dt.timedelta(days=15)
    token = csrf_token(client, "/admin/ratings")
    response = client.post(f"/admin/ratings/{given.id}/reopen", data={
        "csrf_token": token, "reason": "复核属实", "deadline": deadline.isoformat()})
    assert response.status_code == 303
    db_session.expire_all()
    case = db_session.get(Case, case.id)
    assert case.status is CaseStatus.RECTIFYING and case.rectify_by == deadline
    assert "目前没有待处理的不满意评价" in client.get("/admin/ratings").get_data(as_text=True)
    # The department review counts the 不满意.
    today = clock.local_today()
    review = client.get(f"/admin/review?start={today - dt.timedelta(days=1)}"
                        f"&end={today}").get_data(as_text=True)
    assert "满意率" in review and "0.0%<small>（0/1）</small>" in review


def test_the_supervisor_answers_with_a_reason_and_a_reopen_needs_its_deadline(
        client: FlaskClient, db_session: Session, as_role) -> None:
    case, tip = closed_with_tip(db_session)
    given = rating.rate(db_session, tip, RatingAnswer.DISSATISFIED, "", RatingSource.TRACK)
    as_role("supervisor")
    token = csrf_token(client, "/admin/ratings")
    refused = client.post(f"/admin/ratings/{given.id}/reopen",
                          data={"csrf_token": token, "reason": "复核"})
    assert refused.status_code == 400
    assert "请填写新的整改期限" in refused.get_data(as_text=True)
    answered = client.post(f"/admin/ratings/{given.id}/answer",
                           data={"csrf_token": token, "reason": "复查照片显示已清理"})
    assert answered.status_code == 303
    db_session.expire_all()
    assert db_session.get(Case, case.id).status is CaseStatus.CLOSED
    assert rating.rating_of(db_session, tip).handling == rating.ANSWERED
    # Handled: no second handling.
    again = client.post(f"/admin/ratings/{given.id}/answer",
                        data={"csrf_token": token, "reason": "x"})
    assert again.status_code == 404


def test_a_case_closed_as_unfounded_is_checked_again(client: FlaskClient, db_session: Session,
                                                     as_role) -> None:
    case, tip = closed_with_tip(db_session, "unfounded")
    given = rating.rate(db_session, tip, RatingAnswer.DISSATISFIED, "", RatingSource.TRACK)
    as_role("supervisor")
    page = client.get("/admin/ratings").get_data(as_text=True)
    assert "重新核查" in page
    response = client.post(f"/admin/ratings/{given.id}/reopen", data={
        "csrf_token": csrf_token(client, "/admin/ratings"), "reason": "再核查"})
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(Case, case.id).status is CaseStatus.CHECKING


def test_staff_record_a_phone_follow_up_as_themselves(client: FlaskClient, db_session: Session,
                                                      as_role) -> None:
    case, tip = closed_with_tip(db_session)
    user = as_role("moderator")
    url = f"/admin/cases/{case.id}/phone-follow-up"
    page = client.get(url).get_data(as_text=True)
    assert f"举报 #{tip.id}" in page
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "tip": tip.id,
                                      "answer": "satisfied", "comment": "已清理"})
    assert response.status_code == 303
    given = rating.rating_of(db_session, tip)
    assert (given.source, given.recorded_by_id, given.answer) == (
        RatingSource.PHONE, user.id, RatingAnswer.SATISFIED)
    page = client.get(url).get_data(as_text=True)
    assert "本案件的举报均已评价" in page and "电话回访" in page
