"""Finding tips and open cases that are probably about the same hazard as a tip.

Three signals, each cheap on an index: the same unit by normalised name; the same village and
category in the last 90 days; coordinates within 100 m (a bounding box in SQL, then haversine
in Python on the few rows left). Only tips and cases of the tip's own township are proposed:
a tip is never merged into another township's case, however alike the names.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from portal.domain.administration.townships import of_village
from portal.domain.clock import utcnow
from portal.domain.enums import CaseStatus, TipStatus
from portal.domain.models import Case, Tip, Unit

RECENT_DAYS = 90
NEAR_METRES = 100.0
EARTH_RADIUS_M = 6_371_000.0
LIMIT = 20

_NOISE_RE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalize_name(name: str) -> str:
    """Full-width to half-width, lower case, no spaces or punctuation: "张三 小卖部（东）" and
    "张三小卖部(东)" are the same unit."""
    return _NOISE_RE.sub("", unicodedata.normalize("NFKC", name)).lower()[:100]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


@dataclass
class Match:
    reasons: list[str] = field(default_factory=list)
    distance_m: float | None = None


@dataclass
class Duplicates:
    cases: list[tuple[Case, Match]]
    tips: list[tuple[Tip, Match]]

    def __bool__(self) -> bool:
        return bool(self.cases or self.tips)


SAME_UNIT = "同一单位名称"
SAME_VILLAGE_CATEGORY = "同村同类别（90天内）"
NEARBY = "位置相距100米以内"


def find_duplicates(session: Session, tip: Tip, *, now: dt.datetime | None = None) -> Duplicates:
    now = now or utcnow()
    since = now - dt.timedelta(days=RECENT_DAYS)
    cases: dict[int, tuple[Case, Match]] = {}
    tips: dict[int, tuple[Tip, Match]] = {}

    def add_case(case: Case, reason: str, distance: float | None = None) -> None:
        match = cases.setdefault(case.id, (case, Match()))[1]
        if reason not in match.reasons:
            match.reasons.append(reason)
        if distance is not None:
            match.distance_m = distance

    def add_tip(other: Tip, reason: str, distance: float | None = None) -> None:
        if other.id == tip.id:
            return
        match = tips.setdefault(other.id, (other, Match()))[1]
        if reason not in match.reasons:
            match.reasons.append(reason)
        if distance is not None:
            match.distance_m = distance

    township = {tip.village.township_id}
    open_case = Case.status != CaseStatus.CLOSED
    case_query = (select(Case).options(joinedload(Case.unit))
                  .where(open_case, of_village(Case.village_id, township)))
    pending = Tip.status == TipStatus.PENDING

    name = normalize_name(tip.unit_name)
    if name:
        for case in session.scalars(
            case_query.join(Case.unit).where(Unit.normalized_name == name).limit(LIMIT)
        ):
            add_case(case, SAME_UNIT)
        # Tips carry the name as typed, so compare within the village in Python.
        for other in session.scalars(
            select(Tip).where(pending, Tip.village_id == tip.village_id)
            .order_by(Tip.created_at.desc()).limit(200)
        ):
            if normalize_name(other.unit_name) == name:
                add_tip(other, SAME_UNIT)

    for case in session.scalars(
        case_query.where(Case.village_id == tip.village_id, Case.category_id == tip.category_id,
                         Case.created_at >= since).order_by(Case.id.desc()).limit(LIMIT)
    ):
        add_case(case, SAME_VILLAGE_CATEGORY)
    for other in session.scalars(
        select(Tip).where(pending, Tip.village_id == tip.village_id,
                          Tip.category_id == tip.category_id, Tip.created_at >= since)
        .order_by(Tip.created_at.desc()).limit(LIMIT)
    ):
        add_tip(other, SAME_VILLAGE_CATEGORY)

    if tip.lat is not None and tip.lon is not None:
        lat_min, lat_max, lon_min, lon_max = _box(tip.lat, tip.lon, NEAR_METRES)
        for case in session.scalars(
            case_query.join(Case.unit).where(
                Unit.lat.between(lat_min, lat_max), Unit.lon.between(lon_min, lon_max)
            ).limit(200)
        ):
            d = haversine_m(tip.lat, tip.lon, case.unit.lat, case.unit.lon)  # type: ignore[arg-type]
            if d <= NEAR_METRES:
                add_case(case, NEARBY, d)
        for other in session.scalars(
            select(Tip).where(pending, of_village(Tip.village_id, township),
                              Tip.lat.between(lat_min, lat_max),
                              Tip.lon.between(lon_min, lon_max)).limit(200)
        ):
            d = haversine_m(tip.lat, tip.lon, other.lat, other.lon)  # type: ignore[arg-type]
            if d <= NEAR_METRES:
                add_tip(other, NEARBY, d)

    return Duplicates(
        cases=sorted(cases.values(), key=lambda cm: (-len(cm[1].reasons), -cm[0].id)),
        tips=sorted(tips.values(), key=lambda tm: (-len(tm[1].reasons), tm[0].created_at)),
    )
