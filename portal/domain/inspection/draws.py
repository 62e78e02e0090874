"""Random checks (双随机): drawing units and inspectors, reproducibly, every draw kept.

A draw takes the township's live units in its scope, ordered by id, each with its weight
(``portal/data/random_checks.toml``: fire-prone venue types, high risk, a past major hazard or
a listing weigh more), and samples them without replacement from ``random.Random(seed)``;
then the inspectors, from the department's active staff who work tasks. The seed, the
weights and the candidates are recorded on the ``RandomDraw`` row and in the audit trail
before the round is planned, so ``reproduce`` gives the same result from the record alone,
and a draw done again until a preferred result appears shows as several draws, each with
its reason.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import tomllib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access import audit
from portal.domain.access.permissions import townships_of
from portal.domain.administration import townships
from portal.domain.clock import local_today
from portal.domain.enums import Severity
from portal.domain.inspection import rounds
from portal.domain.inspection.rounds import InspectionError
from portal.domain.models import Case, Department, Listing, RandomDraw, Township, Unit, User
from portal.domain.models.inspections import RoundKind, TaskStatus

PATH = Path(__file__).resolve().parent.parent.parent / "data" / "random_checks.toml"
SEED_MAX = 64
REASON_MAX = 200


@cache
def weights() -> dict[str, Any]:
    """The weights as data (copied onto every draw)."""
    data = tomllib.loads(PATH.read_text(encoding="utf-8"))
    return {"version": int(data["version"]), "default": float(data["default"]),
            "risk_high": float(data["risk_high"]), "major_hazard": float(data["major_hazard"]),
            "listed": float(data["listed"]),
            "venue_types": {str(k): float(v) for k, v in data["venue_types"].items()}}


def unit_weight(table: dict[str, Any], venue_code: str | None, *, high_risk: bool,
                major: bool, listed: bool) -> float:
    weight = float(table["venue_types"].get(venue_code or "", table["default"]))
    if high_risk:
        weight *= table["risk_high"]
    if major:
        weight *= table["major_hazard"]
    if listed:
        weight *= table["listed"]
    return weight


def sample(candidates: Sequence[tuple[int, float]], count: int, rng: random.Random) -> list[int]:
    """``count`` ids drawn without replacement, each with probability proportional to its
    weight among those left (Efraimidis–Spirakis: one key per candidate, in the given order,
    the largest keys win), so the same candidates and generator give the same ids."""
    keyed = [(rng.random() ** (1.0 / weight), key) for key, weight in candidates if weight > 0]
    keyed.sort(key=lambda pair: (-pair[0], pair[1]))
    return [key for _, key in keyed[:count]]


def weighted_candidates(session: Session, township: Township, *, table: dict[str, Any],
                        venue_type_ids: Sequence[int] = (),
                        village_ids: Sequence[int] = ()) -> list[tuple[int, float]]:
    units = rounds.units_in_scope(session, township.id, venue_type_ids=venue_type_ids,
                                  village_ids=village_ids)
    ids = [u.id for u in units]
    major = set(session.scalars(select(Case.unit_id).where(
        Case.unit_id.in_(ids), Case.severity == Severity.MAJOR))) if ids else set()
    listed = set(session.scalars(select(Case.unit_id).join(Listing, Listing.case_id == Case.id)
                                 .where(Case.unit_id.in_(ids)))) if ids else set()
    return [(u.id, unit_weight(table, u.venue_type.code if u.venue_type else None,
                               high_risk=u.risk_level == "high", major=u.id in major,
                               listed=u.id in listed)) for u in units]


def inspector_candidates(session: Session, department: Department,
                         township: Township) -> list[User]:
    """The department's active officers who work tasks in the township, by id."""
    staff = session.scalars(select(User).where(User.department_id == department.id,
                                               User.active.is_(True)).order_by(User.id))
    return [u for u in staff if rounds.may_inspect(u, township.id)]


def _result(candidates: Sequence[tuple[int, float]], inspectors: Sequence[int], seed: str,
            unit_count: int, inspector_count: int) -> tuple[list[int], list[int]]:
    # Reproducible on purpose: the seed is recorded and anyone may redo the draw from it;
    # the seed itself comes from ``secrets``.
    rng = random.Random(seed)  # noqa: S311  # nosec B311 - reproducible by design, see above
    units = sample(candidates, unit_count, rng)
    drawn = rng.sample(list(inspectors), inspector_count)
    return units, drawn


def reproduce(draw: RandomDraw) -> tuple[list[int], list[int]]:
    """The draw done again from its record alone (seed, candidates with their weights, the
    inspectors it drew from): the same units and inspectors, or the record was altered."""
    candidates = [(int(i), float(w)) for i, w in draw.scope.get("candidates", [])]
    return _result(candidates, draw.scope.get("inspector_pool", []), draw.seed,
                   draw.unit_count, draw.inspector_count)


def draw(
    session: Session,
    *,
    township: Township,
    department: Department,
    unit_count: int,
    inspector_count: int,
    scope: dict[str, Any] | None = None,
    seed: str | None = None,
    actor: User,
    ip: str = "",
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
    name: str = "",
    redraw_of: RandomDraw | None = None,
    reason: str = "",
) -> RandomDraw:
    """Draw, record and audit, then plan the round of the drawn units for the drawn
    inspectors. ``scope``: ``venue_type_ids`` and ``village_ids`` (empty: all)."""
    if not rounds.may_manage(actor, township.id):
        raise InspectionError("您没有部署本乡镇双随机抽查的权限")
    if not department.active or not townships.serves(department, township.id):
        raise InspectionError("所选部门不负责本乡镇")
    scope = dict(scope or {})
    venue_type_ids = [int(i) for i in scope.get("venue_type_ids", [])]
    village_ids = [int(i) for i in scope.get("village_ids", [])]
    seed = (seed or "").strip() or secrets.token_hex(16)
    if len(seed) > SEED_MAX:
        raise InspectionError(f"随机种子不能超过 {SEED_MAX} 个字符")
    table = weights()
    candidates = weighted_candidates(session, township, table=table,
                                     venue_type_ids=venue_type_ids, village_ids=village_ids)
    pool = [u.id for u in inspector_candidates(session, department, township)]
    if unit_count < 1 or unit_count > len(candidates):
        raise InspectionError(f"抽取的场所数须在 1 到 {len(candidates)} 之间（范围内共 "
                              f"{len(candidates)} 个场所）")
    if inspector_count < 1 or inspector_count > len(pool):
        raise InspectionError(f"抽取的检查人员数须在 1 到 {len(pool)} 之间（{department.name}"
                              f"共有 {len(pool)} 名检查人员）")
    today = starts_on or local_today()
    ends_on = ends_on or today + dt.timedelta(days=30)
    if ends_on < today:
        raise InspectionError("结束日期不能早于开始日期")
    unit_ids, inspector_ids = _result(candidates, pool, seed, unit_count, inspector_count)
    recorded = {"venue_type_ids": venue_type_ids, "village_ids": village_ids,
                "candidates": [[i, w] for i, w in candidates], "inspector_pool": pool}
    if redraw_of is not None:
        recorded |= {"redraw_of": redraw_of.id, "reason": reason}
    row = RandomDraw(township_id=township.id, department_id=department.id, seed=seed,
                     weights=table, scope=recorded, unit_count=unit_count,
                     inspector_count=inspector_count, unit_ids=unit_ids,
                     inspector_ids=inspector_ids, drawn_by_id=actor.id)
    session.add(row)
    session.flush()
    # Recorded before it is used: the round below cannot exist without this row.
    audit.record(session, "draw.make", "random_draw", row.id, actor=actor, ip=ip,
                 after={"seed": seed, "department_id": department.id,
                        "unit_ids": unit_ids, "inspector_ids": inspector_ids,
                        "candidates": len(candidates), "weights_version": table["version"],
                        "redraw_of": redraw_of.id if redraw_of else None, "reason": reason})
    round_ = rounds.plan_round(
        session, township=township, name=name.strip() or f"{department.name}双随机抽查",
        venue_type_ids=venue_type_ids, village_ids=village_ids,
        department_ids=[department.id], inspector_ids=inspector_ids, starts_on=today,
        ends_on=ends_on, actor=actor, ip=ip, kind=RoundKind.RANDOM,
        department_id=department.id, unit_ids=unit_ids)
    row.round_id = round_.id
    session.flush()
    return row


def redraw(session: Session, previous: RandomDraw, *, reason: str, actor: User,
           ip: str = "", seed: str | None = None) -> RandomDraw:
    """Draw again, as a new recorded draw with its reason; the earlier draw stays listed and
    its round's open tasks are cancelled."""
    reason = reason.strip()
    if not reason:
        raise InspectionError("重新抽取须填写理由")
    if len(reason) > REASON_MAX:
        raise InspectionError(f"理由不能超过 {REASON_MAX} 个字")
    township = session.get(Township, previous.township_id)
    assert township is not None
    if previous.round is not None:
        done = [t for t in previous.round.tasks if t.status is TaskStatus.DONE]
        if done:
            raise InspectionError("本次抽取的任务已有检查结果，不能重新抽取")
        for task in previous.round.tasks:
            task.status = TaskStatus.CANCELLED
    scope = {k: previous.scope.get(k, []) for k in ("venue_type_ids", "village_ids")}
    ends = previous.round.ends_on if previous.round else None
    return draw(session, township=township, department=previous.department,
                unit_count=previous.unit_count, inspector_count=previous.inspector_count,
                scope=scope, seed=seed, actor=actor, ip=ip, ends_on=ends,
                name=previous.round.name if previous.round else "",
                redraw_of=previous, reason=reason)


def draws_for(session: Session, user: User,
              department_id: int | None = None) -> list[RandomDraw]:
    """Every draw (used or not) of the townships the user may see, newest first."""
    query = select(RandomDraw).order_by(RandomDraw.id.desc())
    places = townships_of(user)
    if places is not None:
        query = query.where(RandomDraw.township_id.in_(sorted(places)))
    if department_id is not None:
        query = query.where(RandomDraw.department_id == department_id)
    return list(session.scalars(query))


def visible_draw(session: Session, user: User, draw_id: int) -> RandomDraw | None:
    found = session.get(RandomDraw, draw_id)
    places = townships_of(user)
    if found is None or (places is not None and found.township_id not in places):
        return None
    return found


def superseded_by(session: Session, previous: RandomDraw) -> list[RandomDraw]:
    return [d for d in session.scalars(select(RandomDraw).where(
        RandomDraw.township_id == previous.township_id).order_by(RandomDraw.id))
        if d.scope.get("redraw_of") == previous.id]


def departments_for(session: Session, township: Township) -> list[Department]:
    return [d for d in session.scalars(select(Department).where(Department.active.is_(True))
                                       .order_by(Department.id))
            if townships.serves(d, township.id)]


def units_by_id(session: Session, ids: Sequence[int]) -> dict[int, Unit]:
    return {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(list(ids))))}
