"""回访评价 on the public side: the form on /track/status once the case is closed, and the
one-time SMS link /rate/<token>, which shows nothing of the report."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import Channel, RatingAnswer, RatingSource, TipStatus
from portal.domain.models import Tip
from portal.domain.reporting import intake, rating
from portal.identity import cipher, receipt_key
from tests import factories
from tests.conftest import csrf_token
from tests.domain.supervision_helpers import case_at

UNIT, TEXT = "红星饭店", "厨房电线老化，插线板串接了好几个。"
KEY = "test-receipt-key-long-enough-0123456789abcdef"  # the suite's RECEIPT_KEY


@pytest.fixture
def anonymous(app: Flask, db_session: Session) -> tuple[Tip, str]:
    """An anonymous tip (no name, no phone) whose case is closed, and its receipt code."""
    with app.app_context():
        result = intake.submit_tip(
            db_session,
            intake.TipInput(channel=Channel.WEB, village_id=factories.village(db_session).id,
                            category_id=factories.category(db_session, "wiring").id,
                            unit_name=UNIT, description=TEXT),
            cipher=cipher(), receipt_key=receipt_key())
    tip = result.tip
    case = case_at(db_session, "closed", unit_name=UNIT)
    tip.case_id, tip.status, tip.decided_at = case.id, TipStatus.ACCEPTED, case.created_at
    db_session.flush()
    return tip, result.receipt_code


def _track(client: FlaskClient, code: str) -> str:
    client.post("/track", data={"csrf_token": csrf_token(client, "/track"), "code": code})
    return client.get("/track/status").get_data(as_text=True)


def test_an_anonymous_reporter_rates_on_the_tracking_page_once(
        client: FlaskClient, db_session: Session, anonymous) -> None:
    tip, code = anonymous
    assert tip.reporter_name_enc is None and tip.reporter_phone_enc is None
    page = _track(client, code)
    assert "回访评价" in page and "请告诉我们隐患是否真正消除" in page
    assert 'action="/track/rate"' in page
    token = csrf_token(client, "/track/status")
    response = client.post("/track/rate", data={"csrf_token": token, "answer": "dissatisfied",
                                                "comment": "门口还是堆着"})
    assert response.status_code == 303
    given = rating.rating_of(db_session, tip)
    assert (given.answer, given.source, given.comment) == (
        RatingAnswer.DISSATISFIED, RatingSource.TRACK, "门口还是堆着")
    page = client.get("/track/status").get_data(as_text=True)
    assert "您对办理结果的评价：不满意" in page
    assert "督办人员正在复核" in page
    assert 'action="/track/rate"' not in page
    # A second rating of the same tip is refused.
    again = client.post("/track/rate", data={"csrf_token": token, "answer": "satisfied"})
    assert again.status_code == 422
    assert rating.ALREADY_RATED in again.get_data(as_text=True)
    assert rating.rating_of(db_session, tip).answer is RatingAnswer.DISSATISFIED


def test_the_tracking_form_needs_an_answer_and_its_token(client: FlaskClient, anonymous) -> None:
    _tip, code = anonymous
    _track(client, code)
    token = csrf_token(client, "/track/status")
    missing = client.post("/track/rate", data={"csrf_token": token, "answer": ""})
    assert missing.status_code == 422
    assert "请选择满意、基本满意或不满意" in missing.get_data(as_text=True)
    stale = client.post("/track/rate", data={"answer": "satisfied"})
    assert stale.status_code == 422 and "页面已过期" in stale.get_data(as_text=True)


def test_an_open_case_offers_no_rating(client: FlaskClient, db_session: Session,
                                       anonymous) -> None:
    tip, code = anonymous
    tip.case_id = case_at(db_session, "rectifying").id
    db_session.flush()
    page = _track(client, code)
    assert 'action="/track/rate"' not in page and "回访评价" not in page


def test_the_link_shows_nothing_of_the_report_and_rates_once(
        client: FlaskClient, db_session: Session, anonymous) -> None:
    tip, _ = anonymous
    token = rating.issue_token(db_session, tip, key=KEY)
    url = rating.link_path(token)
    page = client.get(url)
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert UNIT not in body and TEXT not in body and tip.village.name not in body
    assert all(a.label in body for a in RatingAnswer)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    done = client.post(url, data={"csrf_token": csrf_token(client, url), "answer": "basically"})
    assert done.status_code == 200 and "感谢您的评价" in done.get_data(as_text=True)
    given = rating.rating_of(db_session, tip)
    assert (given.answer, given.source) == (RatingAnswer.BASICALLY, RatingSource.SMS_LINK)


def test_used_expired_and_wrong_links_get_one_and_the_same_answer(
        client: FlaskClient, db_session: Session, anonymous) -> None:
    tip, _ = anonymous
    other = factories.make_tip(db_session, case_id=tip.case_id, status=TipStatus.MERGED,
                               decided_at=tip.decided_at)
    used = rating.issue_token(db_session, tip, key=KEY)
    rating.rate_by_link(db_session, used, RatingAnswer.SATISFIED, "", key=KEY)
    expired = rating.issue_token(db_session, other, key=KEY,
                                 now=utcnow() - dt.timedelta(days=rating.LINK_DAYS, minutes=1))
    answers = set()
    for token in (used, expired, "wrong-token-0123456789"):
        got = client.get(rating.link_path(token))
        answers.add((got.status_code, got.get_data(as_text=True)))
        posted = client.post(rating.link_path(token), data={
            "csrf_token": csrf_token(client, "/track"), "answer": "satisfied"})
        answers.add((posted.status_code, posted.get_data(as_text=True)))
    statuses = {s for s, _ in answers}
    assert statuses == {404}
    assert all(rating.LINK_REFUSED in body for _, body in answers)
    assert len({body for s, body in answers if s == 404}) <= 2  # the page, and after a POST
    assert rating.rating_of(db_session, other) is None
