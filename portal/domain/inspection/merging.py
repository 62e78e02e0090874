"""Merging duplicate units of the register (issue 22): the duplicate's cases, reports,
inspection tasks, self-check codes and self-checks move to the unit kept; the duplicate stays,
marked ``merged_into_id``, so that old links and the trail resolve, and drops out of the lists
and of ``register.match_unit``.

Cases take the kept unit's village with them (a case carries its unit's village for its lists;
both villages lie in one township, so no one's scope changes, and the tallies follow through
the flush). A task of the duplicate on a round where the kept unit has its own stays with the
duplicate (the round has one task per unit), cancelled if it was still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, contains_eager

from portal.domain.access import audit
from portal.domain.clock import utcnow
from portal.domain.inspection.register import RISK_LEVELS, RegisterError, live
from portal.domain.models import (
    Case,
    InspectionTask,
    SelfCheck,
    SelfCheckCode,
    Tip,
    Unit,
    User,
    Village,
)
from portal.domain.models.inspections import TaskStatus

_RISK_ORDER = tuple(RISK_LEVELS)  # low, normal, high


@dataclass(frozen=True)
class Merged:
    cases: list[int]
    tips: list[int]
    tasks: list[int]
    tasks_cancelled: list[int]
    codes: list[int]
    self_checks: list[int]


def check_merge(duplicate: Unit, kept: Unit) -> None:
    """Why ``duplicate`` may not be merged into ``kept``, raised as a RegisterError."""
    if duplicate.id == kept.id:
        raise RegisterError("不能把场所合并到它自己")
    if duplicate.merged_into_id is not None:
        raise RegisterError("该场所已合并过")
    if kept.merged_into_id is not None:
        raise RegisterError("目标场所已合并到另一场所，请合并到最终保留的场所")
    if duplicate.village.township_id != kept.village.township_id:
        raise RegisterError("只能合并同一乡镇的场所")


def moving(session: Session, duplicate: Unit) -> dict[str, int]:
    """What a merge of ``duplicate`` would move (for the confirmation page)."""
    def number(model: Any) -> int:
        return session.scalar(select(func.count(model.id)).where(
            model.unit_id == duplicate.id)) or 0
    return {"工单": number(Case), "举报": number(Tip), "检查任务": number(InspectionTask),
            "自查码": number(SelfCheckCode), "自查记录": number(SelfCheck)}


def possible_duplicates(session: Session, unit: Unit, limit: int = 10) -> list[Unit]:
    """Live units of the township that may be the same place: the same normalised name, or
    the same address (for staff to merge; ``match_unit`` decides nothing here)."""
    same = [Unit.normalized_name == unit.normalized_name]
    if unit.address.strip():
        same.append(Unit.address == unit.address)
    return list(session.scalars(
        select(Unit).join(Unit.village).options(contains_eager(Unit.village))
        .where(live(), Unit.id != unit.id, Village.township_id == unit.village.township_id,
               or_(*same))
        .order_by(Unit.id).limit(limit)))


def merge_units(session: Session, duplicate: Unit, kept: Unit, *, actor: User,
                ip: str = "") -> Merged:
    """Merge ``duplicate`` into ``kept`` (same township): its cases (moved to the kept unit's
    village), reports, inspection tasks, self-check codes and self-checks move over; the kept
    unit's blanks are filled from it; it stays, marked merged, so old links resolve."""
    # Two people merging the same units at once: the second waits for the first, then sees
    # its result (PostgreSQL; SQLite writes one transaction at a time anyway).
    session.execute(select(Unit.id).where(Unit.id.in_([duplicate.id, kept.id]))
                    .with_for_update())
    session.refresh(duplicate)
    session.refresh(kept)
    check_merge(duplicate, kept)
    cases = list(session.scalars(select(Case).where(Case.unit_id == duplicate.id)))
    for case in cases:
        case.unit_id, case.village_id = kept.id, kept.village_id
    tips = list(session.scalars(select(Tip).where(Tip.unit_id == duplicate.id)))
    for tip in tips:
        tip.unit_id = kept.id
    kept_rounds = set(session.scalars(select(InspectionTask.round_id)
                                      .where(InspectionTask.unit_id == kept.id)))
    moved, cancelled = [], []
    for task in session.scalars(select(InspectionTask).where(
            InspectionTask.unit_id == duplicate.id)):
        if task.round_id in kept_rounds:
            # The kept unit has its own task on that round: this one stays with the merged
            # unit (its history still shows), and is no longer to be done.
            if task.status is TaskStatus.OPEN:
                task.status = TaskStatus.CANCELLED
                cancelled.append(task.id)
            continue
        task.unit_id = kept.id
        moved.append(task.id)
    codes = list(session.scalars(select(SelfCheckCode).where(
        SelfCheckCode.unit_id == duplicate.id)))
    for code in codes:
        code.unit_id = kept.id
    checks = list(session.scalars(select(SelfCheck).where(SelfCheck.unit_id == duplicate.id)))
    for check in checks:
        check.unit_id = kept.id
    filled = _fill_blanks(kept, duplicate)
    # One level of merging: what was merged into the duplicate now points at the kept unit.
    for earlier in session.scalars(select(Unit).where(Unit.merged_into_id == duplicate.id)):
        earlier.merged_into_id = kept.id
    duplicate.merged_into_id = kept.id
    duplicate.updated_at = kept.updated_at = utcnow()
    session.flush()
    result = Merged([c.id for c in cases], [t.id for t in tips], moved, cancelled,
                    [c.id for c in codes], [c.id for c in checks])
    audit.record(session, "unit.merge", "unit", duplicate.id, actor=actor, ip=ip,
                 before={"name": duplicate.name, "village_id": duplicate.village_id},
                 after={"merged_into_id": kept.id, "cases": result.cases, "tips": result.tips,
                        "inspection_tasks": result.tasks,
                        "tasks_cancelled": result.tasks_cancelled,
                        "self_check_codes": result.codes, "self_checks": result.self_checks,
                        "filled": filled})
    return result


def _fill_blanks(kept: Unit, duplicate: Unit) -> list[str]:
    """Complete the kept unit with what only the duplicate knew; the higher risk level wins."""
    filled = []
    if not kept.address.strip() and duplicate.address.strip():
        kept.address = duplicate.address
        filled.append("地址")
    if kept.venue_type_id is None and duplicate.venue_type_id is not None:
        kept.venue_type_id = duplicate.venue_type_id
        filled.append("场所类型")
    if kept.lat is None and duplicate.lat is not None:
        kept.lat, kept.lon = duplicate.lat, duplicate.lon
        filled.append("经纬度")
    if kept.responsible_enc is None and duplicate.responsible_enc is not None:
        kept.responsible_enc = duplicate.responsible_enc
        filled.append("负责人")
    if kept.contact_enc is None and duplicate.contact_enc is not None:
        kept.contact_enc = duplicate.contact_enc
        filled.append("联系电话")
    if not kept.census_ref and duplicate.census_ref:
        kept.census_ref = duplicate.census_ref
        filled.append("普查编号")
    if _rank(duplicate.risk_level) > _rank(kept.risk_level):
        kept.risk_level = duplicate.risk_level
        filled.append("风险等级")
    return filled


def _rank(risk_level: str) -> int:
    return _RISK_ORDER.index(risk_level if risk_level in _RISK_ORDER else "normal")
