"""The register's coverage (issue 22): per village and per venue type of a user's townships,
the units known (live units of the register) and those inspected at least once (a done
inspection task on the unit, or on a duplicate merged into it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy import case as case_when
from sqlalchemy.orm import Session

from portal.domain.access.permissions import townships_of
from portal.domain.administration.townships import village_label, villages_in
from portal.domain.inspection.register import in_scope, live
from portal.domain.models import InspectionTask, Unit, User, VenueType, Village
from portal.domain.models.inspections import TaskStatus


@dataclass(frozen=True)
class CoverageRow:
    label: str
    known: int
    inspected: int

    @property
    def share(self) -> float:
        return self.inspected / self.known if self.known else 0.0


@dataclass(frozen=True)
class Coverage:
    by_village: list[CoverageRow]
    by_venue_type: list[CoverageRow]
    total: CoverageRow


def inspected_units() -> Select[Any]:
    """SQL: the ids of the live units inspected at least once (a done task on them or on a
    unit merged into them)."""
    return (select(func.coalesce(Unit.merged_into_id, Unit.id))
            .join(InspectionTask, InspectionTask.unit_id == Unit.id)
            .where(InspectionTask.status == TaskStatus.DONE))


def coverage(session: Session, user: User) -> Coverage:
    """Units known and inspected per village and per venue type of the user's townships."""
    inspected = case_when((Unit.id.in_(inspected_units()), 1), else_=0)
    counts = (func.count(Unit.id), func.coalesce(func.sum(inspected), 0))
    where = (live(), in_scope(user))
    per_village = {village_id: (known, done) for village_id, known, done in session.execute(
        select(Unit.village_id, *counts).where(*where).group_by(Unit.village_id))}
    per_venue = {venue_id: (known, done) for venue_id, known, done in session.execute(
        select(Unit.venue_type_id, *counts).where(*where).group_by(Unit.venue_type_id))}
    townships = townships_of(user)
    several = townships is None or len(townships) > 1
    villages = [CoverageRow(village_label(v.name, v.township.name) if several else v.name,
                            *per_village.pop(v.id, (0, 0)))
                for v in villages_in(session, townships)]
    for village_id, figures in per_village.items():  # units of a village since switched off
        village = session.get(Village, village_id)
        villages.append(CoverageRow(village.name if village else str(village_id), *figures))
    venues = [CoverageRow(v.name, *per_venue.pop(v.id, (0, 0))) for v in session.scalars(
        select(VenueType).order_by(VenueType.sort_order, VenueType.id))
        if v.active or v.id in per_venue]
    if None in per_venue:
        venues.append(CoverageRow("未分类", *per_venue.pop(None)))
    total = CoverageRow("合计", sum(r.known for r in villages), sum(r.inspected for r in villages))
    return Coverage(villages, venues, total)
