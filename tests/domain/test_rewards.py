"""Rewards for verified reports (举报奖励): who is eligible, each step from the proposal to the
payment, the claim period on the working-day calendar, and the rules from the jurisdiction
file."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.administration import jurisdiction
from portal.domain.casework.sla import add_working_days
from portal.domain.clock import utcnow
from portal.domain.enums import Severity, TipStatus
from portal.domain.models import AuditLog, Case, RewardStatus, Tip
from portal.domain.reporting import rewards
from portal.domain.reporting.identity import IdentityCipher
from tests import factories
from tests.conftest import DEMO_JURISDICTION
from tests.domain.linkage_helpers import moderator, supervisor
from tests.domain.supervision_helpers import case_at


@pytest.fixture
def cipher(app: Flask) -> IdentityCipher:
    return app.extensions["portal.identity"]


def tip_of(session: Session, case: Case, cipher: IdentityCipher, *, name: str | None = "张三",
           status: TipStatus = TipStatus.ACCEPTED, minutes_ago: int = 60) -> Tip:
    """A tip decided into ``case``: with a real name (encrypted) unless ``name`` is None."""
    received = utcnow() - dt.timedelta(minutes=minutes_ago)
    return factories.make_tip(
        session, status=status, case_id=case.id, decided_at=received, created_at=received,
        reporter_name_enc=cipher.encrypt(name) if name else None,
        reporter_phone_enc=cipher.encrypt("13800138000") if name else None)


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).where(
        AuditLog.action.like("reward.%")).order_by(AuditLog.id)))


def test_a_verified_first_real_name_report_is_proposed_approved_claimed_and_paid(
        db_session: Session, cipher: IdentityCipher) -> None:
    case = case_at(db_session, "rectifying")
    first = tip_of(db_session, case, cipher, minutes_ago=120)
    tip_of(db_session, case, cipher, name="李四", status=TipStatus.MERGED, minutes_ago=60)

    proposal = rewards.proposal_for(db_session, case)
    assert proposal.tip.id == first.id
    assert (proposal.band.code, proposal.band.low, proposal.band.high) == ("general", 50, 200)
    assert rewards.reward_notice(db_session, first) is None

    reward = rewards.propose(db_session, case, moderator(db_session))
    assert reward.status is RewardStatus.PROPOSED
    assert rewards.reward_notice(db_session, first) is None  # not yet awarded

    today = clock.local_today()
    rewards.approve(db_session, reward, supervisor(db_session), 150, "首报属实", today=today)
    assert reward.status is RewardStatus.APPROVED and reward.amount == 150
    assert reward.claim_by == add_working_days(db_session, today, 30)
    notice = rewards.reward_notice(db_session, first)
    assert notice is not None
    assert "150 元" in notice and f"{reward.claim_by:%Y年%m月%d日}" in notice
    assert "身份证件" in notice and "查询码" in notice and "当面" in notice

    rewards.record_claim(db_session, reward, moderator(db_session), identity_checked=True,
                         not_staff_declared=True, today=today)
    assert reward.status is RewardStatus.CLAIMED and reward.staff_declared
    assert reward.identity_checked_by_id == moderator(db_session).id
    rewards.record_payment(db_session, reward, moderator(db_session), today, "现金", today=today)
    assert reward.status is RewardStatus.PAID and reward.payment_method == "现金"
    assert "已于" in (rewards.reward_notice(db_session, first) or "")
    assert actions(db_session) == ["reward.propose", "reward.approve", "reward.claim",
                                   "reward.pay"]


def test_a_merged_duplicate_and_an_anonymous_report_get_none(
        db_session: Session, cipher: IdentityCipher) -> None:
    anonymous_first = case_at(db_session, "rectifying")
    anonymous = tip_of(db_session, anonymous_first, cipher, name=None, minutes_ago=120)
    merged = tip_of(db_session, anonymous_first, cipher, status=TipStatus.MERGED)
    with pytest.raises(rewards.RewardRefused, match="匿名举报不予奖励"):
        rewards.propose(db_session, anonymous_first, moderator(db_session))
    assert rewards.reward_notice(db_session, anonymous) is None
    assert rewards.reward_notice(db_session, merged) is None
    assert anonymous_first not in [c for c, _ in rewards.proposals_due(db_session)]

    # A case rewarded once: its merged duplicate is never proposed, however named.
    case = case_at(db_session, "rectifying")
    tip_of(db_session, case, cipher, minutes_ago=120)
    tip_of(db_session, case, cipher, name="李四", status=TipStatus.MERGED)
    rewards.propose(db_session, case, moderator(db_session))
    with pytest.raises(rewards.RewardRefused, match="只奖励一次"):
        rewards.propose(db_session, case, moderator(db_session))
    assert actions(db_session) == ["reward.propose"]


def test_unconfirmed_withdrawn_and_inspection_cases_are_not_proposed(
        db_session: Session, cipher: IdentityCipher) -> None:
    checking = case_at(db_session, "checking")
    tip_of(db_session, checking, cipher)
    with pytest.raises(rewards.RewardRefused, match="现场核查属实"):
        rewards.proposal_for(db_session, checking)
    withdrawn = case_at(db_session, "rectifying")
    tip = tip_of(db_session, withdrawn, cipher)
    tip.identity_withdrawn_at = utcnow()
    with pytest.raises(rewards.RewardRefused, match="撤回"):
        rewards.proposal_for(db_session, withdrawn)
    with pytest.raises(rewards.RewardRefused, match="没有受理的举报"):
        rewards.proposal_for(db_session, case_at(db_session, "rectifying"))


def test_the_band_follows_seriousness_and_the_category_override(
        db_session: Session, cipher: IdentityCipher) -> None:
    major = case_at(db_session, "rectifying", severity=Severity.MAJOR)
    tip_of(db_session, major, cipher)
    band = rewards.proposal_for(db_session, major).band
    assert (band.low, band.high) == (300, 500)
    exits = case_at(db_session, "rectifying", category="blocked_escape")
    tip_of(db_session, exits, cipher)
    band = rewards.proposal_for(db_session, exits).band
    assert (band.low, band.high) == (100, 300)


def test_the_amount_must_lie_in_the_band_and_only_a_supervisor_approves(
        db_session: Session, cipher: IdentityCipher) -> None:
    case = case_at(db_session, "rectifying")
    tip_of(db_session, case, cipher)
    reward = rewards.propose(db_session, case, moderator(db_session))
    with pytest.raises(rewards.RewardRefused, match="50–200 元之间"):
        rewards.approve(db_session, reward, supervisor(db_session), 201)
    with pytest.raises(rewards.RewardRefused, match="权限"):
        rewards.approve(db_session, reward, moderator(db_session), 100)
    with pytest.raises(rewards.RewardRefused, match="权限"):
        rewards.propose(db_session, case, supervisor(db_session))
    with pytest.raises(rewards.RewardRefused, match="理由"):
        rewards.refuse(db_session, reward, supervisor(db_session), " ")
    rewards.refuse(db_session, reward, supervisor(db_session), "举报人系成员单位工作人员")
    assert reward.status is RewardStatus.REFUSED
    assert rewards.reward_notice(db_session, reward.tip) is None
    with pytest.raises(rewards.RewardRefused, match="不予奖励"):
        rewards.approve(db_session, reward, supervisor(db_session), 100)


def test_the_claim_needs_both_checks_and_the_period_then_expires(
        db_session: Session, cipher: IdentityCipher) -> None:
    case = case_at(db_session, "rectifying")
    tip = tip_of(db_session, case, cipher)
    reward = rewards.propose(db_session, case, moderator(db_session))
    today = clock.local_today()
    rewards.approve(db_session, reward, supervisor(db_session), 100, today=today)
    with pytest.raises(rewards.RewardRefused, match="身份证件"):
        rewards.record_claim(db_session, reward, moderator(db_session), False, True)
    with pytest.raises(rewards.RewardRefused, match="成员单位工作人员"):
        rewards.record_claim(db_session, reward, moderator(db_session), True, False)
    assert reward.claim_by is not None
    late = reward.claim_by + dt.timedelta(days=1)
    with pytest.raises(rewards.RewardRefused, match="领取期限"):
        rewards.record_claim(db_session, reward, moderator(db_session), True, True, today=late)
    with pytest.raises(rewards.RewardRefused, match="待领取"):
        rewards.record_payment(db_session, reward, moderator(db_session), today, "现金")

    assert rewards.expire(db_session, today=reward.claim_by) == 0
    assert rewards.expire(db_session, today=late) == 1
    assert reward.status is RewardStatus.EXPIRED
    assert "届满" in (rewards.reward_notice(db_session, tip) or "")
    assert actions(db_session)[-1] == "reward.expire"


def test_the_ledger_export_carries_no_identity_and_the_payee_look_is_audited(
        db_session: Session, cipher: IdentityCipher) -> None:
    case = case_at(db_session, "rectifying")
    tip_of(db_session, case, cipher, name="王五")
    reward = rewards.propose(db_session, case, moderator(db_session))
    rewards.approve(db_session, reward, supervisor(db_session), 120)
    rows = list(rewards.export_rows(db_session))
    text = repr(rows)
    assert [reward.id, case.id] == rows[0][:2] and 120 in rows[0]
    assert "王五" not in text and "13800138000" not in text
    with pytest.raises(rewards.RewardRefused, match="权限"):
        rewards.reveal_payee(db_session, reward, cipher.decrypt, actor=supervisor(db_session))
    assert rewards.reveal_payee(db_session, reward, cipher.decrypt,
                                actor=moderator(db_session)) == "王五"
    assert actions(db_session)[-1] == "reward.reveal_payee"


# ---------------------------------------------------------------- the rules as data


def _with_rewards(table: str) -> str:
    text = DEMO_JURISDICTION.read_text(encoding="utf-8")
    head, _, _ = text.partition("[rewards]")
    return head + table


@pytest.mark.parametrize(("table", "message"), [
    ("[rewards]\nclaim_working_days = 30\ngeneral = [50, 200]\n", "rewards.major）：缺少必填键"),
    ("[rewards]\nclaim_working_days = 0\ngeneral = [50, 200]\nmajor = [300, 500]\n",
     "rewards.claim_working_days）：领取期限"),
    ("[rewards]\nclaim_working_days = 30\ngeneral = [200, 50]\nmajor = [300, 500]\n",
     "rewards.general）：奖励金额须大于 0"),
    ("[rewards]\nclaim_working_days = 30\ngeneral = [50]\nmajor = [300, 500]\n",
     "rewards.general）：奖励金额应写作"),
    ("[rewards]\nclaim_working_days = 30\ngeneral = [50, 200]\nmajor = [300, 500]\n"
     "[rewards.categories.nosuch]\ngeneral = [1, 2]\n", "不存在的隐患类别代码"),
    ("[rewards]\nclaim_working_days = 30\ngeneral = [50, 200]\nmajor = [300, 500]\n"
     "[rewards.categories.wiring]\nsevere = [1, 2]\n", "rewards.categories.wiring.severe"),
])
def test_bad_reward_rules_are_refused_naming_the_key(table: str, message: str) -> None:
    with pytest.raises(jurisdiction.JurisdictionError, match=message):
        jurisdiction.parse(_with_rewards(table), "demo.toml")


def test_the_rules_load_into_the_settings_and_a_file_without_them_proposes_none(
        db_session: Session, cipher: IdentityCipher) -> None:
    loaded = rewards.rules(db_session)
    assert loaded is not None and loaded.claim_working_days == 30
    assert loaded.bands == {"general": (50, 200), "major": (300, 500)}
    jurisdiction.load(db_session, jurisdiction.parse(_with_rewards(""), "demo.toml"))
    assert rewards.rules(db_session) is None
    case = case_at(db_session, "rectifying")
    tip_of(db_session, case, cipher)
    with pytest.raises(rewards.RewardRefused, match="未设置举报奖励规则"):
        rewards.proposal_for(db_session, case)
