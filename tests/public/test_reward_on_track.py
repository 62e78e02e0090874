"""The reporter sees an awarded reward on their own page, and how to claim it (issue 21);
nothing about it before a supervisor approves, and nothing on any public page."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.clock import utcnow
from portal.domain.enums import Channel, TipStatus
from portal.domain.reporting import intake, rewards
from portal.domain.reporting.identity import group_receipt
from portal.identity import cipher, receipt_key
from tests import factories
from tests.conftest import csrf_token
from tests.domain.linkage_helpers import moderator, supervisor
from tests.domain.supervision_helpers import case_at


def _status_page(app: Flask, code: str) -> str:
    reporter = app.test_client()
    response = reporter.post("/track", data={"csrf_token": csrf_token(reporter, "/track"),
                                             "code": group_receipt(code)})
    assert response.status_code == 303
    return reporter.get("/track/status").get_data(as_text=True)


def test_an_approved_reward_shows_on_the_reporters_page_only(app: Flask,
                                                             db_session: Session) -> None:
    case = case_at(db_session, "rectifying", unit_name="奖励测试饭店")
    with app.app_context():
        result = intake.submit_tip(db_session, intake.TipInput(
            channel=Channel.WEB, village_id=factories.village(db_session).id,
            category_id=case.category_id, unit_name="奖励测试饭店",
            description="后门安全出口被铁链锁住，无法打开。", reporter_name="张三",
            reporter_phone="13800138000", wants_feedback=True,
        ), cipher=cipher(), receipt_key=receipt_key())
    tip, code = result.tip, result.receipt_code
    tip.case_id, tip.status, tip.decided_at = case.id, TipStatus.ACCEPTED, utcnow()
    db_session.flush()
    reward = rewards.propose(db_session, case, moderator(db_session))
    db_session.commit()
    assert "举报奖励" not in _status_page(app, code)  # proposed only: nothing yet
    rewards.approve(db_session, reward, supervisor(db_session), 150, "首报属实",
                    today=clock.local_today())
    db_session.commit()
    page = _status_page(app, code)
    assert "举报奖励" in page and "150 元" in page and "身份证件" in page
    public = app.test_client()
    assert "150 元" not in public.get("/").get_data(as_text=True)
