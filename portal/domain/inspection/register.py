"""The register of places (底数): every place the portal knows is one unit.

``match_unit`` is the one rule for "is this the same place": reports, field filings, census
and ledger imports all find their unit through it, so that the register has no duplicate a
rule could have avoided (the ones it has, staff merge, ``merging``).

Around it, the register as staff use it: the units a user may see (``in_scope``), a paged and
filtered list, a unit's history (its reports, cases, listings, inspections and self-checks,
those of the duplicates merged into it included) and the edit of a unit, audited, with the
responsible person and contact encrypted (business data, never public, never in an audit row).
The census import is ``census``, the coverage ``coverage``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from portal.domain.access import audit
from portal.domain.access.permissions import townships_of
from portal.domain.administration.townships import of_village
from portal.domain.clock import utcnow
from portal.domain.models import (
    Case,
    InspectionTask,
    Listing,
    SelfCheck,
    Tip,
    Unit,
    User,
    VenueType,
    Village,
)
from portal.domain.paging import Page, paginate
from portal.domain.reporting.identity import IdentityCipher, normalize_phone
from portal.domain.vetting.duplicates import normalize_name


def normalize_address(address: str) -> str:
    """Addresses compare as names do: "东街 1号" and "东街1号" are the same."""
    return normalize_name(address)


def live() -> ColumnElement[bool]:
    """SQL condition on ``Unit``: not merged into another unit."""
    return Unit.merged_into_id.is_(None)


def match_unit(session: Session, *, village_id: int, name: str, address: str = "") -> Unit | None:
    """The village's unit of that (normalised) name, not merged away: the one at the same
    address if the names repeat; one with no address, or any, when either address is
    unknown. Two units of one name at two known, different addresses are two places."""
    candidates = list(session.scalars(
        select(Unit).where(Unit.village_id == village_id,
                           Unit.normalized_name == normalize_name(name), live())
        .order_by(Unit.id)))
    if not candidates:
        return None
    wanted = normalize_address(address)
    if wanted:
        same = [u for u in candidates if normalize_address(u.address) == wanted]
        if same:
            return same[0]
        unknown = [u for u in candidates if not u.address.strip()]
        return unknown[0] if unknown else None
    return candidates[0]


def unit_for(session: Session, *, village_id: int, name: str, address: str = "",
             venue_type_id: int | None = None, lat: float | None = None,
             lon: float | None = None, source: str = "report") -> Unit:
    """The matching unit, completed with what it lacked, or a new unit of the register."""
    unit = match_unit(session, village_id=village_id, name=name, address=address)
    if unit is None:
        unit = Unit(name=name.strip(), normalized_name=normalize_name(name),
                    village_id=village_id, source=source)
        session.add(unit)
    if venue_type_id is not None:
        unit.venue_type_id = venue_type_id
    if address.strip() and not unit.address:
        unit.address = address.strip()
    if lat is not None and unit.lat is None:
        unit.lat, unit.lon = lat, lon
    session.flush()
    return unit


# ------------------------------------------------------------------ the register as staff read it

RISK_LEVELS: dict[str, str] = {"low": "低", "normal": "一般", "high": "高"}
PAGE_SIZE = 50


class RegisterError(ValueError):
    """A change to the register refused; the message says why, in Chinese."""


def in_scope(user: User) -> ColumnElement[bool]:
    """SQL condition on ``Unit``: the units of the villages the user may see."""
    return of_village(Unit.village_id, townships_of(user))


def unit_in_scope(session: Session, user: User, unit_id: int) -> Unit | None:
    """The unit (merged or not) if it lies in the user's townships; None otherwise, so that
    another township's unit answers as if it did not exist."""
    return session.scalar(select(Unit).where(Unit.id == unit_id, in_scope(user))
                          .options(joinedload(Unit.village), joinedload(Unit.venue_type)))


def kept_unit(session: Session, unit: Unit) -> Unit:
    """Where a merged unit lives on (itself if it was never merged)."""
    seen = {unit.id}
    while unit.merged_into_id is not None:
        target = session.get(Unit, unit.merged_into_id)
        if target is None or target.id in seen:
            break
        seen.add(target.id)
        unit = target
    return unit


@dataclass(frozen=True)
class Filters:
    """What the register's list is narrowed to (from the query string, parsed leniently)."""

    q: str = ""
    village_id: int | None = None
    venue_type_id: int | None = None
    risk_level: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        def number(key: str) -> int | None:
            raw = (args.get(key) or "").strip()
            return int(raw) if raw.isdigit() else None
        risk = (args.get("risk") or "").strip()
        return cls(q=(args.get("q") or "").strip()[:100], village_id=number("village"),
                   venue_type_id=number("venue_type"),
                   risk_level=risk if risk in RISK_LEVELS else "")

    def args(self) -> dict[str, Any]:
        """The filters as query-string arguments (for the pager's links)."""
        found = {"q": self.q, "village": self.village_id, "venue_type": self.venue_type_id,
                 "risk": self.risk_level}
        return {key: value for key, value in found.items() if value}


@dataclass(frozen=True)
class Row:
    unit: Unit
    cases: int
    inspections: int


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def units(session: Session, user: User, filters: Filters, *, page: str | int | None,
          size: int = PAGE_SIZE) -> Page[Row]:
    """A page of the live units of the user's townships, by village and name, each with its
    number of cases and of inspection tasks."""
    cases = (select(func.count(Case.id)).where(Case.unit_id == Unit.id)
             .correlate(Unit).scalar_subquery())
    tasks = (select(func.count(InspectionTask.id)).where(InspectionTask.unit_id == Unit.id)
             .correlate(Unit).scalar_subquery())
    query = (select(Unit, cases, tasks).join(Unit.village)
             .options(contains_eager(Unit.village), joinedload(Unit.venue_type))
             .where(live(), in_scope(user)))
    if filters.q:
        query = query.where(or_(
            Unit.normalized_name.like(_like(normalize_name(filters.q)), escape="\\"),
            Unit.address.like(_like(filters.q), escape="\\")))
    if filters.village_id is not None:
        query = query.where(Unit.village_id == filters.village_id)
    if filters.venue_type_id is not None:
        query = query.where(Unit.venue_type_id == filters.venue_type_id)
    if filters.risk_level:
        query = query.where(Unit.risk_level == filters.risk_level)
    query = query.order_by(Village.sort_order, Village.id, Unit.normalized_name, Unit.id)
    found = paginate(session, query, page=page, size=size, scalars=False)
    return found.map(lambda row: Row(row[0], row[1] or 0, row[2] or 0))


def family(session: Session, unit: Unit) -> list[int]:
    """The unit and the units merged into it: its history is theirs too."""
    return [unit.id, *session.scalars(select(Unit.id).where(Unit.merged_into_id == unit.id)
                                      .order_by(Unit.id))]


@dataclass(frozen=True)
class Event:
    """One line of a unit's history."""

    at: dt.datetime
    kind: str  # "tip" | "case" | "inspection" | "listing" | "self_check"
    object_id: int
    text: str


def history(session: Session, unit: Unit) -> list[Event]:
    """Everything the portal knows happened at the place, newest first: its reports, cases,
    listings, inspection tasks and self-checks, those of the units merged into it included."""
    ids = family(session, unit)
    case_ids = list(session.scalars(select(Case.id).where(Case.unit_id.in_(ids))))
    events: list[Event] = []
    for tip in session.scalars(select(Tip).where(or_(
            Tip.unit_id.in_(ids), Tip.case_id.in_(case_ids) if case_ids else false()))):
        events.append(Event(tip.created_at, "tip", tip.id, f"举报（{tip.status.label}）"))
    for case in session.scalars(select(Case).where(Case.id.in_(case_ids))
                                .options(joinedload(Case.category))):
        events.append(Event(case.created_at, "case", case.id,
                            f"工单：{case.category.name}（{case.status.label}）"))
    for listing in session.scalars(select(Listing).where(Listing.case_id.in_(case_ids))):
        events.append(Event(listing.listed_at, "listing", listing.id,
                            f"挂牌督办（工单 {listing.case_id}，"
                            f"{'已摘牌' if listing.delisted_at else '督办中'}）"))
    for task in session.scalars(select(InspectionTask).where(InspectionTask.unit_id.in_(ids))
                                .options(joinedload(InspectionTask.round))):
        outcome = task.result.label if task.result else task.status.label
        events.append(Event(task.completed_at or task.created_at, "inspection", task.id,
                            f"{task.round.kind.label}：{task.round.name}（{outcome}）"))
    for check in session.scalars(select(SelfCheck).where(SelfCheck.unit_id.in_(ids))):
        events.append(Event(check.signed_at, "self_check", check.id,
                            "单位自查并签署承诺" + ("（报告了问题）" if check.problems else "")))
    return sorted(events, key=lambda e: (_aware(e.at), e.kind, e.object_id), reverse=True)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------ editing

@dataclass(frozen=True)
class UnitChange:
    """A unit as the edit form submits it (responsible person and contact in clear)."""

    name: str
    village_id: int
    address: str = ""
    venue_type_id: int | None = None
    responsible: str = ""
    contact: str = ""
    lat: float | None = None
    lon: float | None = None
    risk_level: str = "normal"


def _snapshot(unit: Unit) -> dict[str, Any]:
    """What an audit row records of a unit (never the responsible person or contact)."""
    return {"name": unit.name, "village_id": unit.village_id, "address": unit.address,
            "venue_type_id": unit.venue_type_id, "latitude": unit.lat, "longitude": unit.lon,
            "risk_level": unit.risk_level}


def check_place(session: Session, unit: Unit, change: UnitChange) -> None:
    """Why ``change`` cannot be written to ``unit``, raised as a RegisterError."""
    if unit.merged_into_id is not None:
        raise RegisterError("该场所已合并到另一场所，请修改合并后的场所")
    if not change.name.strip():
        raise RegisterError("请填写场所名称")
    if len(change.name.strip()) > 100 or len(change.address.strip()) > 200:
        raise RegisterError("名称不超过 100 字，地址不超过 200 字")
    village = session.get(Village, change.village_id)
    if village is None or not village.active or village.township_id != unit.village.township_id:
        raise RegisterError("只能选择本乡镇的村")
    if change.venue_type_id is not None:
        venue = session.get(VenueType, change.venue_type_id)
        if venue is None or not venue.active:
            raise RegisterError("场所类型不存在或已停用")
    if change.risk_level not in RISK_LEVELS:
        raise RegisterError("风险等级只能是低、一般或高")
    if (change.lat is None) != (change.lon is None):
        raise RegisterError("经度和纬度须同时填写")
    if change.lat is not None and change.lon is not None and not (
            -90 <= change.lat <= 90 and -180 <= change.lon <= 180):
        raise RegisterError("经纬度超出范围")
    if len(change.responsible) > 100:
        raise RegisterError("负责人不超过 100 字")
    if change.contact.strip() and normalize_phone(change.contact) is None:
        raise RegisterError("联系电话不是有效的手机或固定电话号码")


def edit_unit(session: Session, unit: Unit, change: UnitChange, *, cipher: IdentityCipher,
              actor: User, ip: str = "") -> bool:
    """Write the edit and audit it (before and after of what changed; of the responsible
    person and contact only that they changed). False: nothing changed, nothing recorded."""
    check_place(session, unit, change)
    before = _snapshot(unit)
    unit.name = change.name.strip()
    unit.normalized_name = normalize_name(unit.name)
    unit.village_id = change.village_id
    unit.address = change.address.strip()
    unit.venue_type_id = change.venue_type_id
    unit.lat, unit.lon = change.lat, change.lon
    unit.risk_level = change.risk_level
    after = _snapshot(unit)
    changed = [key for key in after if after[key] != before[key]]
    secrets = {"responsible_changed": _set_secret(unit, "responsible_enc",
                                                  change.responsible.strip(), cipher),
               "contact_changed": _set_secret(unit, "contact_enc",
                                              normalize_phone(change.contact) or "", cipher)}
    if not changed and not any(secrets.values()):
        return False
    if "village_id" in changed:
        _follow_village(session, unit)
    unit.updated_at = utcnow()
    session.flush()
    audit.record(session, "unit.edit", "unit", unit.id, actor=actor, ip=ip,
                 before={key: before[key] for key in changed},
                 after={**{key: after[key] for key in changed},
                        **{key: True for key, value in secrets.items() if value}})
    return True


def _set_secret(unit: Unit, column: str, value: str, cipher: IdentityCipher) -> bool:
    """Encrypt ``value`` into ``column`` if it differs from what is stored; whether it did."""
    if cipher.decrypt(getattr(unit, column)) == value:
        return False
    setattr(unit, column, cipher.encrypt(value))
    return True


def _follow_village(session: Session, unit: Unit) -> None:
    """A unit's cases carry its village (their lists filter on it): a unit moved to another
    village of its township takes its cases along (the tallies follow through the flush)."""
    for case in session.scalars(select(Case).where(Case.unit_id == unit.id)):
        case.village_id = unit.village_id


def responsible_of(unit: Unit, cipher: IdentityCipher) -> tuple[str, str]:
    """The responsible person and contact in clear (for REGISTER_MANAGE holders only)."""
    return cipher.decrypt(unit.responsible_enc), cipher.decrypt(unit.contact_enc)
