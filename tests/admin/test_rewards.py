"""举报奖励 in the back office: the proposal shown and recorded, approved within the band, claimed
in person and paid; the ledger exports carry no identity; who was paid is for moderators only,
each look audited."""

from __future__ import annotations

import io
import re

from flask import Flask, render_template
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.enums import TipStatus
from portal.domain.models import AuditLog, Case, Reward, RewardStatus, Tip, User
from portal.domain.reporting import rewards
from tests.admin.conftest import sign_in, text
from tests.conftest import csrf_token
from tests.domain.supervision_helpers import case_at
from tests.domain.test_rewards import tip_of

NAME, PHONE = "赵六", "13800138000"


def _confirmed_case(app: Flask, db_session: Session) -> tuple[Case, Tip]:
    case = case_at(db_session, "rectifying", unit_name="红星饭店")
    tip = tip_of(db_session, case, app.extensions["portal.identity"], name=NAME,
                 minutes_ago=120)
    tip_of(db_session, case, app.extensions["portal.identity"], name="钱七",
           status=TipStatus.MERGED)
    db_session.commit()
    return case, tip


def _post(client: FlaskClient, url: str, page: str, **data: object):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def test_a_reward_is_proposed_approved_claimed_and_paid_through_the_pages(
        app: Flask, client: FlaskClient, db_session: Session, staff: dict[str, User]) -> None:
    case, tip = _confirmed_case(app, db_session)

    sign_in(client, staff["moderator"])
    listing = text(client, "/admin/rewards")
    assert "红星饭店" in listing and f"#{tip.id}" in listing and "一般隐患 50–200 元" in listing
    page = f"/admin/cases/{case.id}/reward"
    proposal = text(client, page)
    assert f"#{tip.id}" in proposal and "一般隐患 50–200 元" in proposal
    assert NAME not in proposal and PHONE not in proposal
    response = _post(client, page, page)
    assert response.status_code == 303
    reward = db_session.scalar(select(Reward).where(Reward.case_id == case.id))
    assert reward is not None and reward.tip_id == tip.id
    detail = f"/admin/rewards/{reward.id}"
    assert response.headers["Location"].endswith(detail)

    sign_in(client, staff["supervisor"])
    response = _post(client, f"{detail}/approve", detail, amount=500, note="")
    assert response.status_code == 400
    assert "奖励金额须在 50–200 元之间" in response.get_data(as_text=True)
    assert _post(client, f"{detail}/approve", detail, amount=180,
                 note="首报属实").status_code == 303
    db_session.expire_all()
    assert reward.status is RewardStatus.APPROVED and reward.amount == 180
    assert "180 元" in (rewards.reward_notice(db_session, tip) or "")

    sign_in(client, staff["moderator"])
    response = _post(client, f"{detail}/claim", detail, identity_checked="y")
    assert response.status_code == 400
    assert "成员单位工作人员" in response.get_data(as_text=True)
    assert _post(client, f"{detail}/claim", detail, identity_checked="y",
                 not_staff_declared="y").status_code == 303
    assert _post(client, f"{detail}/pay", detail, method="银行转账").status_code == 303
    db_session.expire_all()
    assert reward.status is RewardStatus.PAID and reward.payment_method == "银行转账"
    assert reward.identity_checked_by_id == staff["moderator"].id
    assert "已发放" in text(client, detail)


def test_the_ledger_exports_carry_no_identity(
        app: Flask, client: FlaskClient, db_session: Session, staff: dict[str, User]) -> None:
    case, _tip = _confirmed_case(app, db_session)
    reward = rewards.propose(db_session, case, staff["moderator"])
    rewards.approve(db_session, reward, staff["supervisor"], 100)
    db_session.commit()
    sign_in(client, staff["supervisor"])
    csv = client.get("/admin/rewards.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    body = csv.get_data().decode("utf-8-sig")
    assert "红星饭店" in body and ",100," in body and RewardStatus.APPROVED.label in body
    assert NAME not in body and "钱七" not in body and PHONE not in body
    xlsx = client.get("/admin/rewards.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert "红星饭店" in cells and "100" in cells
    assert not any(NAME in c or PHONE in c for c in cells)


def test_only_a_moderator_sees_who_is_rewarded_and_each_look_is_audited(
        app: Flask, client: FlaskClient, db_session: Session, staff: dict[str, User]) -> None:
    case, _tip = _confirmed_case(app, db_session)
    reward = rewards.propose(db_session, case, staff["moderator"])
    db_session.commit()
    detail = f"/admin/rewards/{reward.id}"

    sign_in(client, staff["supervisor"])
    assert NAME not in text(client, detail)
    assert _post(client, f"{detail}/payee", detail).status_code == 403
    assert client.get(f"/admin/cases/{case.id}/reward").status_code == 403

    sign_in(client, staff["moderator"])
    assert NAME not in text(client, detail)
    response = _post(client, f"{detail}/payee", detail)
    assert response.status_code == 200 and NAME in response.get_data(as_text=True)
    looks = db_session.scalars(select(AuditLog).where(
        AuditLog.action == "reward.reveal_payee")).all()
    assert [(a.object_id, a.actor_id) for a in looks] == [(str(reward.id),
                                                          staff["moderator"].id)]

    sign_in(client, staff["officer"])
    assert client.get("/admin/rewards").status_code == 403
    assert client.get(detail).status_code == 403


def test_the_reporters_page_partial_says_how_to_claim(app: Flask) -> None:
    with app.test_request_context():
        html = render_template("portal/_reward.html", reward_notice="获得举报奖励 100 元。")
        assert "举报奖励" in html and "100 元" in html
        assert re.sub(r"\s+", "", render_template("portal/_reward.html",
                                                  reward_notice=None)) == ""
