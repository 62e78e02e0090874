"""Rewards for verified reports (举报奖励, 应急消〔2019〕162号 and the county's rules as data).

When a case is confirmed on site the portal proposes its eligible tip and the amount band; a
moderator records the proposal, a supervisor approves an amount within the band (or refuses),
the reporter claims in person within the claim period (working days from the approval) with
the receipt code and an identity document, and staff record the payment. Each step is one
function here that checks who acts, moves the reward's status, flushes and audits.

Eligibility is the rule's: a real name given and not withdrawn; the first valid report of the
hazard, i.e. the case's earliest accepted tip (a merged duplicate is never rewarded, and a
case is rewarded once); the hazard confirmed on site; and, at the claim, the reporter's
declaration that they are not staff of a member department, checked by staff.

Nothing about rewards is public. The ledger export carries no identity; who was paid is
decrypted for a moderator only, and each look is audited like any read of a reporter's name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session, joinedload

from portal.domain import clock
from portal.domain.access import audit
from portal.domain.access.permissions import Permission, has_permission
from portal.domain.administration import settings
from portal.domain.casework.sla import add_working_days
from portal.domain.clock import utcnow
from portal.domain.enums import Severity, TipStatus
from portal.domain.models import Case, Reward, RewardStatus, Tip, User

PAYMENT_METHODS = ("现金", "银行转账", "微信", "支付宝")
NOTE_MAX = 1000
# Where the reporter claims when the township names no contact of its own.
DEFAULT_CLAIM_OFFICE = "乡镇消防安全委员会办公室"


class RewardRefused(Exception):
    """A step the reward rules do not allow; the message is Chinese, for the person acting."""


@dataclass(frozen=True)
class Band:
    """An amount band in whole yuan: its code is the seriousness it applies to."""

    code: str
    low: int
    high: int

    @property
    def label(self) -> str:
        return f"{Severity(self.code).label} {self.low}–{self.high} 元"


@dataclass(frozen=True)
class RewardRules:
    claim_working_days: int
    bands: dict[str, tuple[int, int]]
    # Per category code, bands that override the county's.
    categories: dict[str, dict[str, tuple[int, int]]]

    def band_for(self, case: Case) -> Band:
        code = case.severity.value
        low, high = self.categories.get(case.category.code, {}).get(code, self.bands[code])
        return Band(code, low, high)


def rules(session: Session) -> RewardRules | None:
    """The rules loaded from the jurisdiction file's ``[rewards]`` (None: it has none)."""
    data = settings.get(session, settings.REWARDS_KEY, {})
    if not data:
        return None
    return RewardRules(
        claim_working_days=data["claim_working_days"],
        bands={code: (data[code][0], data[code][1]) for code in ("general", "major")},
        categories={cat: {code: (b[0], b[1]) for code, b in bands.items()}
                    for cat, bands in data.get("categories", {}).items()},
    )


@dataclass(frozen=True)
class Proposal:
    """What the portal proposes for a confirmed case: the eligible tip and the band."""

    tip: Tip
    band: Band


def _require(actor: User, permission: Permission) -> None:
    if not has_permission(actor.role, permission):
        raise RewardRefused(f"您没有“{permission.label}”的权限")


def first_report(session: Session, case: Case) -> Tip | None:
    """The first valid report of the hazard: the case's earliest accepted tip (merged
    duplicates are never it)."""
    return session.scalar(select(Tip).where(Tip.case_id == case.id,
                                            Tip.status == TipStatus.ACCEPTED)
                          .order_by(Tip.created_at, Tip.id).limit(1))


def reward_of_case(session: Session, case: Case) -> Reward | None:
    return session.scalar(select(Reward).where(Reward.case_id == case.id))


def reward_of_tip(session: Session, tip: Tip) -> Reward | None:
    return session.scalar(select(Reward).where(Reward.tip_id == tip.id))


def _tip_ineligible(tip: Tip) -> str:
    if tip.status is not TipStatus.ACCEPTED:
        return "合并的重复举报不予奖励，奖励只给首次举报"
    if tip.identity_withdrawn_at is not None:
        return "举报人已撤回姓名和电话，不再符合奖励条件"
    if tip.reporter_name_enc is None:
        return "匿名举报不予奖励（奖励须实名举报）"
    return ""


def proposal_for(session: Session, case: Case) -> Proposal:
    """The portal's proposal for ``case``, or RewardRefused saying why there is none."""
    found = rules(session)
    if found is None:
        raise RewardRefused("本辖区未设置举报奖励规则（辖区文件的 [rewards]）")
    if case.confirmed_at is None:
        raise RewardRefused("隐患尚未经现场核查属实，不能提出奖励")
    if reward_of_case(session, case) is not None:
        raise RewardRefused("本案件已有奖励记录，同一隐患只奖励一次")
    tip = first_report(session, case)
    if tip is None:
        raise RewardRefused("本案件没有受理的举报（如巡查发现），无奖励对象")
    problem = _tip_ineligible(tip)
    if problem:
        raise RewardRefused(f"首次举报（#{tip.id}）：{problem}")
    return Proposal(tip, found.band_for(case))


def propose(session: Session, case: Case, actor: User) -> Reward:
    """The moderator records the portal's proposal for a confirmed case."""
    _require(actor, Permission.REWARDS_MANAGE)
    proposal = proposal_for(session, case)
    reward = Reward(case_id=case.id, tip_id=proposal.tip.id, band=proposal.band.code,
                    amount_min=proposal.band.low, amount_max=proposal.band.high,
                    proposed_by_id=actor.id, proposed_at=utcnow())
    session.add(reward)
    session.flush()
    audit.record(session, "reward.propose", "reward", reward.id, actor=actor,
                 after={"case_id": case.id, "tip_id": proposal.tip.id,
                        "band": proposal.band.code, "amount_min": proposal.band.low,
                        "amount_max": proposal.band.high})
    return reward


def _expect(reward: Reward, *states: RewardStatus) -> None:
    if reward.status not in states:
        raise RewardRefused(f"该奖励目前为“{reward.status.label}”，不能进行此操作")


def approve(session: Session, reward: Reward, actor: User, amount: int, note: str = "",
            *, today: dt.date | None = None) -> Reward:
    """A supervisor approves the amount; the claim period starts today."""
    _require(actor, Permission.REWARDS_APPROVE)
    _expect(reward, RewardStatus.PROPOSED)
    if not reward.amount_min <= amount <= reward.amount_max:
        raise RewardRefused(f"奖励金额须在 {reward.amount_min}–{reward.amount_max} 元之间"
                            f"（{Severity(reward.band).label}的奖励标准）")
    problem = _tip_ineligible(reward.tip)
    if problem:
        raise RewardRefused(problem)
    found = rules(session)
    if found is None:
        raise RewardRefused("本辖区未设置举报奖励规则（辖区文件的 [rewards]）")
    # The calendar is read before the row changes (no half-approved row is flushed).
    claim_by = add_working_days(session, today or clock.local_today(),
                                found.claim_working_days)
    reward.status = RewardStatus.APPROVED
    reward.amount = amount
    reward.decided_by_id = actor.id
    reward.decided_at = utcnow()
    reward.decision_note = note.strip()[:NOTE_MAX]
    reward.claim_by = claim_by
    session.flush()
    audit.record(session, "reward.approve", "reward", reward.id, actor=actor,
                 before={"status": RewardStatus.PROPOSED.value},
                 after={"status": reward.status.value, "amount": amount,
                        "claim_by": reward.claim_by.isoformat(), "note": reward.decision_note})
    return reward


def refuse(session: Session, reward: Reward, actor: User, note: str) -> Reward:
    """A supervisor refuses the proposal, with the reason."""
    _require(actor, Permission.REWARDS_APPROVE)
    _expect(reward, RewardStatus.PROPOSED)
    if not note.strip():
        raise RewardRefused("请写明不予奖励的理由")
    reward.status = RewardStatus.REFUSED
    reward.decided_by_id = actor.id
    reward.decided_at = utcnow()
    reward.decision_note = note.strip()[:NOTE_MAX]
    session.flush()
    audit.record(session, "reward.refuse", "reward", reward.id, actor=actor,
                 before={"status": RewardStatus.PROPOSED.value},
                 after={"status": reward.status.value, "note": reward.decision_note})
    return reward


def record_claim(session: Session, reward: Reward, actor: User, identity_checked: bool,
                 not_staff_declared: bool, *, today: dt.date | None = None) -> Reward:
    """The reporter came in person within the claim period: staff checked an identity
    document (only that it was done is kept) and the declaration of not being staff of a
    member department."""
    _require(actor, Permission.REWARDS_MANAGE)
    _expect(reward, RewardStatus.APPROVED)
    if not identity_checked:
        raise RewardRefused("请先当面核验举报人的身份证件（系统只记录已核验，不记录证件号码）")
    if not not_staff_declared:
        raise RewardRefused("举报人须声明本人不是成员单位工作人员，并经工作人员核实")
    if reward.tip.identity_withdrawn_at is not None:
        raise RewardRefused("举报人已撤回姓名和电话，不再符合奖励条件")
    today = today or clock.local_today()
    if reward.claim_by is None or today > reward.claim_by:
        raise RewardRefused(f"已超过领取期限（截至 {reward.claim_by:%Y-%m-%d}）")
    reward.status = RewardStatus.CLAIMED
    reward.identity_checked_by_id = actor.id
    reward.identity_checked_at = utcnow()
    reward.staff_declared = True
    session.flush()
    audit.record(session, "reward.claim", "reward", reward.id, actor=actor,
                 before={"status": RewardStatus.APPROVED.value},
                 after={"status": reward.status.value, "identity_checked": True,
                        "staff_declared": True})
    return reward


def record_payment(session: Session, reward: Reward, actor: User, paid_on: dt.date,
                   method: str, *, today: dt.date | None = None) -> Reward:
    _require(actor, Permission.REWARDS_MANAGE)
    _expect(reward, RewardStatus.CLAIMED)
    if method not in PAYMENT_METHODS:
        raise RewardRefused(f"发放方式须为 {'、'.join(PAYMENT_METHODS)} 之一")
    today = today or clock.local_today()
    if paid_on > today:
        raise RewardRefused("发放日期不能晚于今天")
    if reward.identity_checked_at and paid_on < clock.local_today(reward.identity_checked_at):
        raise RewardRefused("发放日期不能早于领取登记日期")
    reward.status = RewardStatus.PAID
    reward.paid_on = paid_on
    reward.payment_method = method
    reward.paid_by_id = actor.id
    reward.paid_at = utcnow()
    session.flush()
    audit.record(session, "reward.pay", "reward", reward.id, actor=actor,
                 before={"status": RewardStatus.CLAIMED.value},
                 after={"status": reward.status.value, "paid_on": paid_on.isoformat(),
                        "payment_method": method})
    return reward


def expire(session: Session, *, today: dt.date | None = None) -> int:
    """Approved rewards not claimed within the period expire (a cron calls this daily);
    returns how many did."""
    today = today or clock.local_today()
    due = session.scalars(select(Reward).where(Reward.status == RewardStatus.APPROVED,
                                               Reward.claim_by < today)).all()
    for reward in due:
        reward.status = RewardStatus.EXPIRED
        reward.expired_at = utcnow()
        session.flush()
        audit.record(session, "reward.expire", "reward", reward.id,
                     before={"status": RewardStatus.APPROVED.value},
                     after={"status": reward.status.value,
                            "claim_by": reward.claim_by.isoformat() if reward.claim_by else ""})
    return len(due)


def _claim_office(session: Session, case: Case) -> str:
    return (case.village.township.contact
            or settings.jurisdiction(session).get("contact") or DEFAULT_CLAIM_OFFICE)


def reward_notice(session: Session, tip: Tip) -> str | None:
    """What the reporter's page says about a reward for ``tip`` (None: nothing). A proposal
    or a refusal is not said: the reporter hears of a reward once it is awarded."""
    reward = reward_of_tip(session, tip)
    if reward is None or reward.amount is None or reward.claim_by is None:
        return None
    if reward.status is RewardStatus.APPROVED:
        if tip.identity_withdrawn_at is not None:
            return None
        return (f"您的举报经现场核查属实，获得举报奖励 {reward.amount} 元。"
                f"请于 {reward.claim_by:%Y年%m月%d日}（含当日）前，本人携带身份证件和本举报的"
                f"查询码，到{_claim_office(session, reward.case)}当面领取；领取时需声明本人"
                f"不是消防安全委员会成员单位的工作人员。逾期未领取的，视为放弃。")
    if reward.status is RewardStatus.CLAIMED:
        return f"您已办理举报奖励领取手续，奖励 {reward.amount} 元正在发放。"
    if reward.status is RewardStatus.PAID and reward.paid_on is not None:
        return f"举报奖励 {reward.amount} 元已于 {reward.paid_on:%Y年%m月%d日}发放。"
    if reward.status is RewardStatus.EXPIRED:
        return f"举报奖励的领取期限已于 {reward.claim_by:%Y年%m月%d日}届满，未领取。"
    return None


# ---------------------------------------------------------------- lists, ledger, payee


def rewards_list(session: Session, scope: ColumnElement[bool] | None = None,
                 status: RewardStatus | None = None) -> Sequence[Reward]:
    """Rewards, newest proposal first, of the cases in ``scope`` (a condition on Case)."""
    query = (select(Reward).join(Case, Reward.case_id == Case.id)
             .where(scope if scope is not None else true())
             .options(joinedload(Reward.case).joinedload(Case.unit))
             .order_by(Reward.proposed_at.desc(), Reward.id.desc()))
    if status is not None:
        query = query.where(Reward.status == status)
    return session.scalars(query).all()


def proposals_due(session: Session, scope: ColumnElement[bool] | None = None
                  ) -> list[tuple[Case, Proposal]]:
    """Confirmed cases without a reward whose first report is eligible: the portal's
    proposals waiting for a moderator to record them."""
    if rules(session) is None:
        return []
    rewarded = select(Reward.case_id)
    cases = session.scalars(
        select(Case).where(Case.confirmed_at.is_not(None), Case.id.not_in(rewarded),
                           Case.id.in_(select(Tip.case_id).where(
                               Tip.status == TipStatus.ACCEPTED,
                               Tip.reporter_name_enc.is_not(None),
                               Tip.identity_withdrawn_at.is_(None))),
                           scope if scope is not None else true())
        .order_by(Case.confirmed_at, Case.id)).all()
    due = []
    for case in cases:
        try:
            due.append((case, proposal_for(session, case)))
        except RewardRefused:
            continue
    return due


EXPORT_HEADERS = ("奖励编号", "工单编号", "隐患单位", "奖励标准", "金额（元）", "状态",
                  "提出日期", "审批日期", "领取截止", "领取登记日期", "发放日期", "发放方式")


def _day(value: dt.datetime | None) -> str:
    return clock.local_today(value).isoformat() if value else ""


def export_rows(session: Session, scope: ColumnElement[bool] | None = None
                ) -> Iterator[list[Any]]:
    """The reward ledger: case, amount, status and dates; never who was rewarded."""
    for r in rewards_list(session, scope):
        yield [r.id, r.case_id, r.case.unit.name,
               f"{Severity(r.band).label} {r.amount_min}–{r.amount_max}",
               r.amount if r.amount is not None else "", r.status.label,
               _day(r.proposed_at), _day(r.decided_at),
               r.claim_by.isoformat() if r.claim_by else "", _day(r.identity_checked_at),
               r.paid_on.isoformat() if r.paid_on else "", r.payment_method]


def reveal_payee(session: Session, reward: Reward, decrypt: Callable[[bytes], str], *,
                 actor: User, ip: str = "") -> str:
    """The rewarded reporter's name, for a moderator, and the audit row that they read it."""
    _require(actor, Permission.REWARDS_MANAGE)
    _require(actor, Permission.IDENTITY_READ)
    tip = reward.tip
    name = decrypt(tip.reporter_name_enc) if tip.reporter_name_enc else ""
    audit.record(session, "reward.reveal_payee", "reward", reward.id, actor=actor, ip=ip,
                 after={"tip_id": tip.id, "had_name": bool(name)})
    return name
