"""Hazards filed from the field (现场上报) by grid inspectors and officers.

A filing is a tip of channel ``grid`` entered through the one intake (``intake.submit_tip``),
with the filer as its author and, when the filer picked the place from the register, the
register's unit on it. It enters the moderation queue like every tip.

"Directly to the filer's own desk where the routing rules allow": when the rules make the
filer's department the lead (``moderation.own_desk_lead``) and the filer works cases,
``moderation.accept_own_filing`` opens the case and routes it there without the queue;
otherwise the filing waits for a moderator, who is told which department the rules name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from portal.domain.access import audit
from portal.domain.access.permissions import Permission, has_permission, townships_of
from portal.domain.administration.townships import of_village
from portal.domain.enums import Channel
from portal.domain.inspection import register
from portal.domain.models import Attachment, Tip, Unit, User
from portal.domain.reporting import intake
from portal.domain.reporting.identity import IdentityCipher
from portal.domain.vetting import places

UNIT_OUTSIDE_MESSAGE = "所选场所不在本乡镇的场所底数中，请重新选择或填写新场所"
NOT_PERMITTED_MESSAGE = "您没有现场上报隐患的权限"
REGISTER_SHOWN = 200  # the select lists at most this many units; a search narrows it


@dataclass
class Filing:
    """What the field form sends. ``unit_id``: the register's unit picked; otherwise
    ``unit_name`` (and the village) name a place new to the register."""

    village_id: int | None
    category_id: int | None
    description: str
    unit_id: int | None = None
    unit_name: str = ""
    venue_type_id: int | None = None
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    photos: list[Attachment] = field(default_factory=list)
    submission_key: str | None = None


@dataclass(frozen=True)
class Checked:
    """A filing found valid (``check``), ready to be filed (``file_hazard``)."""

    data: intake.TipInput
    unit: Unit | None


def register_units(session: Session, filer: User, search: str = "") -> list[Unit]:
    """The live units of the register in the villages the filer files under, by village and
    name; ``search`` narrows them by name or address."""
    query = (select(Unit).join(Unit.village).options(joinedload(Unit.village))
             .where(register.live(), of_village(Unit.village_id, townships_of(filer))))
    needle = " ".join(search.split())
    if needle:
        pattern = f"%{needle}%"
        query = query.where(or_(Unit.name.like(pattern), Unit.address.like(pattern)))
    return list(session.scalars(query.order_by(Unit.village_id, Unit.name, Unit.id)
                                .limit(REGISTER_SHOWN)))


def unit_label(unit: Unit, filer: User) -> str:
    where = places.village_label(unit.village, filer)
    return f"{unit.name}（{where}{'，' + unit.address if unit.address else ''}）"


def _chosen_unit(session: Session, unit_id: int, filer: User) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or unit.merged_into_id is not None or not places.may_file_in(
            filer, unit.village):
        raise intake.IntakeError({"unit": UNIT_OUTSIDE_MESSAGE})
    return unit


def check(session: Session, filing: Filing, *, filer: User) -> Checked:
    """Validate a filing as the intake validates every tip; a unit picked from the register
    gives the place's name and village (and its address and venue type when left blank).
    Raises ``intake.IntakeError`` naming each bad field."""
    if not has_permission(filer.role, Permission.FIELD_FILE):
        raise intake.IntakeError({"filer": NOT_PERMITTED_MESSAGE})
    unit = _chosen_unit(session, filing.unit_id, filer) if filing.unit_id else None
    data = intake.TipInput(
        channel=Channel.GRID,
        village_id=unit.village_id if unit else filing.village_id,
        category_id=filing.category_id,
        unit_name=unit.name if unit else filing.unit_name,
        description=filing.description,
        venue_type_id=filing.venue_type_id or (unit.venue_type_id if unit else None),
        address=filing.address or (unit.address if unit else ""),
        lat=filing.lat,
        lon=filing.lon,
        submission_key=filing.submission_key,
        created_by=filer,
    )
    intake.validate(session, data)
    return Checked(data, unit)


def file_hazard(session: Session, checked: Checked, *, photos: list[Attachment],
                cipher: IdentityCipher, receipt_key: str, ip: str = "") -> Tip:
    """File the checked hazard with its photos: a pending tip in the moderation queue, the
    register's unit on it. Audited (the intake's ``tip.create``, and the filing's unit)."""
    data = checked.data
    filer = data.created_by
    assert filer is not None
    for photo in photos:
        photo.uploaded_by_id = filer.id
    data.photos = photos
    result = intake.submit_tip(session, data, cipher=cipher, receipt_key=receipt_key)
    tip = result.tip
    if result.duplicate_submission:
        return tip  # the same form sent twice from a slow connection: the first filing
    tip.unit_id = checked.unit.id if checked.unit is not None else None
    session.flush()
    audit.record(session, "tip.field_file", "tip", tip.id, actor=filer, ip=ip,
                 after={"unit_id": tip.unit_id, "photos": len(photos),
                        "located": tip.lat is not None})
    return tip


def filings(session: Session, filer: User, *, limit: int = 200) -> list[Tip]:
    """The filer's own field filings, newest first (never anybody else's)."""
    return list(session.scalars(
        select(Tip).options(joinedload(Tip.village), joinedload(Tip.category))
        .where(Tip.created_by_id == filer.id, Tip.channel == Channel.GRID)
        .order_by(Tip.created_at.desc(), Tip.id.desc()).limit(limit)))
