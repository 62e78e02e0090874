"""Rewards for verified reports (举报奖励, issue 21): one row per rewarded tip, from the
portal's proposal to the payment. Nothing here is ever public."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import LabeledEnum
from portal.domain.models._types import enum_column
from portal.domain.models.accounts import User
from portal.domain.models.base import Base
from portal.domain.models.cases import Case
from portal.domain.models.tips import Tip


class RewardStatus(LabeledEnum):
    PROPOSED = "proposed", "待审批"
    APPROVED = "approved", "已批准，待领取"
    REFUSED = "refused", "不予奖励"
    CLAIMED = "claimed", "已核验，待发放"
    PAID = "paid", "已发放"
    EXPIRED = "expired", "逾期未领取"


class Reward(Base):
    """A reward for one tip: proposed by the portal and recorded by a moderator, approved (or
    refused) by a supervisor with the amount, claimed in person within the claim period, and
    paid. The band's limits are copied at proposal, so a later change of the rules does not
    move a proposal already made."""

    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint(
            "(status IN ('approved', 'claimed', 'paid', 'expired')) "
            "= (amount IS NOT NULL AND claim_by IS NOT NULL)",
            name="approved_has_amount",
        ),
        CheckConstraint("amount IS NULL OR amount BETWEEN amount_min AND amount_max",
                        name="amount_in_band"),
        CheckConstraint("(status = 'proposed') = (decided_at IS NULL)",
                        name="decided_has_time"),
        CheckConstraint(
            "(status IN ('claimed', 'paid')) = (identity_checked_at IS NOT NULL)",
            name="claimed_was_checked",
        ),
        CheckConstraint("identity_checked_at IS NULL OR staff_declared",
                        name="claim_declared_not_staff"),
        CheckConstraint("(status = 'paid') = (paid_on IS NOT NULL AND payment_method <> '')",
                        name="paid_has_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id"), unique=True)
    # The band's code (the seriousness: "general" or "major") and its limits, in whole yuan.
    band: Mapped[str] = mapped_column(String(32))
    amount_min: Mapped[int] = mapped_column(Integer)
    amount_max: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[RewardStatus] = mapped_column(enum_column(RewardStatus, "reward_status"),
                                                 default=RewardStatus.PROPOSED)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The supervisor's decision, approval or refusal, and its note.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    # The last day of the claim period (working days from the approval).
    claim_by: Mapped[dt.date | None] = mapped_column(Date)
    # That staff saw an identity document in person: who and when, never the document's number.
    identity_checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    identity_checked_at: Mapped[dt.datetime | None]
    # The reporter declared at the claim that they are not staff of a member department, and
    # staff checked it.
    staff_declared: Mapped[bool] = mapped_column(default=False)
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    payment_method: Mapped[str] = mapped_column(String(16), default="")
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    paid_at: Mapped[dt.datetime | None]
    expired_at: Mapped[dt.datetime | None]

    case: Mapped[Case] = relationship()
    tip: Mapped[Tip] = relationship()
    proposed_by: Mapped[User] = relationship(foreign_keys=[proposed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    identity_checked_by: Mapped[User | None] = relationship(foreign_keys=[identity_checked_by_id])
    paid_by: Mapped[User | None] = relationship(foreign_keys=[paid_by_id])
