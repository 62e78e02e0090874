"""Inspections and the register of places (issue 22): rounds (排查) and their tasks, random
checks (双随机) and their draws, self-checks with public commitments (自查、承诺), and risk
warnings (风险预警提示).

The register itself is the ``units`` table (``portal.domain.models.cases.Unit``): every place
the portal knows, from reports, inspections and imports, is one unit there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.clock import utcnow
from portal.domain.enums import LabeledEnum
from portal.domain.models._types import enum_column
from portal.domain.models.accounts import User
from portal.domain.models.base import Base
from portal.domain.models.cases import Case, Unit
from portal.domain.models.places import Department, Township


class RoundKind(LabeledEnum):
    ROUND = "round", "排查"
    RANDOM = "random", "双随机抽查"


class TaskStatus(LabeledEnum):
    OPEN = "open", "待检查"
    DONE = "done", "已检查"
    CANCELLED = "cancelled", "已取消"


class TaskResult(LabeledEnum):
    PASSED = "passed", "合格"
    CORRECTED = "corrected", "发现问题已当场改正"
    FINDING = "finding", "发现问题已责令整改"
    NOT_FOUND = "not_found", "场所已停业或不存在"


class Publication(LabeledEnum):
    """Whether a random check's result is on the public site (双随机、一公开)."""

    NONE = "none", "不公开"
    PENDING = "pending", "待审核公开"
    APPROVED = "approved", "已公开"
    REFUSED = "refused", "不予公开"


class InspectionRound(Base):
    """A round of inspections planned by a supervisor (排查), or the round a random check's
    draw (双随机) created: the venue types and villages in scope, the departments and
    inspectors taking part, the period."""

    __tablename__ = "inspection_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    kind: Mapped[RoundKind] = mapped_column(enum_column(RoundKind, "round_kind"),
                                            default=RoundKind.ROUND)
    name: Mapped[str] = mapped_column(String(100))
    # The department a random check belongs to (the round's own, for a plain round: none).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # Scope: lists of ids; empty means every one of the township.
    venue_type_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    village_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    department_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    inspector_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    township: Mapped[Township] = relationship()
    department: Mapped[Department | None] = relationship()
    created_by: Mapped[User] = relationship()
    tasks: Mapped[list[InspectionTask]] = relationship(back_populates="round",
                                                       order_by="InspectionTask.id")


class InspectionTask(Base):
    """One unit to inspect in a round, by one inspector: the checklist's answers, the result,
    where it was recorded, and the case a finding opened."""

    __tablename__ = "inspection_tasks"
    __table_args__ = (
        UniqueConstraint("round_id", "unit_id"),
        Index(None, "inspector_id", "status"),
        CheckConstraint("(status = 'done') = (completed_at IS NOT NULL AND result IS NOT NULL)",
                        name="done_has_result"),
        CheckConstraint("result IS NULL OR result <> 'finding' OR case_id IS NOT NULL",
                        name="finding_has_case"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("inspection_rounds.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[TaskStatus] = mapped_column(enum_column(TaskStatus, "task_status"),
                                               default=TaskStatus.OPEN)
    result: Mapped[TaskResult | None] = mapped_column(enum_column(TaskResult, "task_result"))
    # The checklist used (code and version of portal/data/checklists.toml) and its answers:
    # item code -> "ok" | "problem" | "corrected" | "na".
    checklist_code: Mapped[str] = mapped_column(String(32), default="")
    checklist_version: Mapped[int] = mapped_column(default=0)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Where the result was recorded, for staff only: the browser's position where the
    # inspector allowed it ("device"), else the unit's address ("address").
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str] = mapped_column(String(16), default="")
    completed_at: Mapped[dt.datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # Random checks only: the result's publication, approved by a moderator one by one.
    publication: Mapped[Publication] = mapped_column(enum_column(Publication, "publication"),
                                                     default=Publication.NONE)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    round: Mapped[InspectionRound] = relationship(back_populates="tasks")
    unit: Mapped[Unit] = relationship()
    inspector: Mapped[User | None] = relationship(foreign_keys=[inspector_id])
    case: Mapped[Case | None] = relationship()


class RandomDraw(Base):
    """One random check's draw (双随机): the recorded seed and weights reproduce it, and every
    draw is kept, so that a draw cannot be repeated quietly until a preferred result appears."""

    __tablename__ = "random_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    seed: Mapped[str] = mapped_column(String(64))
    # The weights used (the data's, copied), the scope, and what was asked and drawn.
    weights: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    unit_count: Mapped[int]
    inspector_count: Mapped[int]
    unit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    inspector_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_rounds.id"))
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    drawn_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    department: Mapped[Department] = relationship()
    round: Mapped[InspectionRound | None] = relationship()
    drawn_by: Mapped[User] = relationship()


class SelfCheckCode(Base):
    """A unit's access code for one self-check cycle: one submission, expiring, revocable.
    Only a keyed hash of the code is stored."""

    __tablename__ = "self_check_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    cycle: Mapped[int]
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    used_at: Mapped[dt.datetime | None]

    unit: Mapped[Unit] = relationship()


class SelfCheck(Base):
    """A unit's self-check (自查) and signed commitment (承诺书). The signer's name is kept
    encrypted and never public; the public page shows the commitment text, that the
    responsible person signed, and the date."""

    __tablename__ = "self_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    code_id: Mapped[int] = mapped_column(ForeignKey("self_check_codes.id"), unique=True)
    checklist_code: Mapped[str] = mapped_column(String(32), default="")
    checklist_version: Mapped[int] = mapped_column(default=0)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The problems the unit reported and the date it set itself to fix them by.
    problems: Mapped[str] = mapped_column(Text, default="")
    fix_by: Mapped[dt.date | None] = mapped_column(Date)
    fixed_at: Mapped[dt.datetime | None]
    signer_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    commitment_version: Mapped[int] = mapped_column(default=0)
    commitment_text: Mapped[str] = mapped_column(Text, default="")
    signed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The case opened when a reported problem was not fixed by its own date.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))

    unit: Mapped[Unit] = relationship()
    code: Mapped[SelfCheckCode] = relationship()


class RiskWarning(Base):
    """A risk warning (风险预警提示) before holidays, in the fire season or after a notable
    fire: published on the public site and in the feed, and sent by SMS to the responsible
    persons of the units in scope (a template with the period and kind, never the text)."""

    __tablename__ = "risk_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL: the whole county's.
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    venue_type_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    village_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None]
    withdrawn_at: Mapped[dt.datetime | None]
    sms_count: Mapped[int] = mapped_column(default=0)

    township: Mapped[Township | None] = relationship()
