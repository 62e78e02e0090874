"""The register of places (底数): every place the portal knows is one unit.

``match_unit`` is the one rule for "is this the same place": reports, field filings, census
and ledger imports all find their unit through it, so that the register has no duplicate a
rule could have avoided (the ones it has, staff merge).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from portal.domain.models import Unit
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
