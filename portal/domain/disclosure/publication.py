"""Public disclosure (公示) of confirmed hazards: the moderator's steps and the public queries.

Only a case that a department confirmed (``confirmed_at``) and a moderator marked disclosed is
public. Everything the public reads about a case is built here as a ``PublicCase`` whose free
text has been through ``mask_personal_data``, so pages, feeds, exports and the Open311 API
cannot show anything else: no tip text, no reporter, no internal notes. Where a unit is, is
public as DESIGN.md's disclosure rules say (``public_location``): a business's address as
approved, masked, and its coordinates rounded to about 100 m; for a home (residential venue
types) only the village and the village's position.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal_column, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from portal.domain import paging
from portal.domain.administration import townships
from portal.domain.casework import sla
from portal.domain.casework.events import WorkflowError, flush, log_event, require_role
from portal.domain.clock import utcnow
from portal.domain.disclosure import search
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.enums import CaseEventKind, CaseStatus, Role, Severity, SupervisionLevel
from portal.domain.models import (
    Attachment,
    Case,
    CaseEvent,
    Category,
    Tip,
    Township,
    Unit,
    User,
    VenueType,
    Village,
)
from portal.domain.paging import Page
from portal.domain.reporting import evidence
from portal.domain.supervision import tallies

SUMMARY_MAX = 1000
REASON_MAX = 500
DISCLOSED_PUBLIC_TEXT = "经部门核查属实，向社会公示。"

# The stages a disclosed case moves through, as the progress bar shows them.
# Venue types where people live: their address and position would point at a household, so
# only the village is public. Matched by code and by name, so that a jurisdiction that renames
# one (or builds its vocabulary with other codes) keeps the rule.
RESIDENTIAL_VENUE_TYPES = frozenset({
    "self_built_business", "family_workshop", "old_residential",
    "经营性自建房", "家庭作坊", "老旧住宅",
})
# Three decimal places of a degree: about 111 m of latitude, less of longitude in China.
COORDINATE_DECIMALS = 3

STAGES: tuple[str, ...] = ("受理派单", "核查属实", "整改中", "整改完成待验收", "销案办结")
_STAGE_OF_STATUS = {
    CaseStatus.TRIAGE: 0,
    CaseStatus.ROUTED: 0,
    CaseStatus.CHECKING: 0,
    CaseStatus.RECTIFYING: 2,
    CaseStatus.RECTIFIED: 3,
    # Never disclosed (not confirmed); listed so that every status has its stage.
    CaseStatus.UNFOUNDED: 0,
    CaseStatus.CLOSED: 4,
}


class DisclosureError(WorkflowError):
    """A disclosure step that is not allowed; the message is Chinese."""


# ------------------------------------------------------------------ what the public sees


@dataclass(frozen=True)
class PublicPhoto:
    stored_name: str
    thumbnail_name: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class PublicEvent:
    at: dt.datetime
    label: str
    text: str
    photos: tuple[PublicPhoto, ...] = ()


@dataclass(frozen=True)
class PublicCase:
    id: int
    unit_id: int
    unit_name: str
    village: str
    venue_type: str
    category: str
    severity: Severity
    status: CaseStatus
    summary: str
    rectify_by: dt.date | None
    supervision_level: SupervisionLevel
    disclosed_at: dt.datetime
    updated_at: dt.datetime
    overdue: bool
    timeline: tuple[PublicEvent, ...] = field(default=())
    photos: tuple[PublicPhoto, ...] = field(default=())
    # Where: the village and, for a business, its approved address (masked); coordinates
    # rounded, None for a home or when the unit has none.
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    # The village's township: county-wide pages name it, since village names repeat.
    township: str = ""

    @property
    def stage(self) -> int:
        """Index into ``STAGES`` of the furthest stage reached."""
        return _STAGE_OF_STATUS[self.status]

    @property
    def supervised(self) -> bool:
        return self.supervision_level != SupervisionLevel.NONE

    @property
    def status_label(self) -> str:
        return self.status.label


def _photo(attachment: Attachment) -> PublicPhoto:
    return PublicPhoto(attachment.stored_name, attachment.thumbnail_name,
                       attachment.width, attachment.height)


def _shown(attachment: Attachment) -> bool:
    return attachment.public and not attachment.withheld


@dataclass(frozen=True)
class PublicLocation:
    address: str
    lat: float | None
    lon: float | None


def is_residential(unit: Unit) -> bool:
    venue = unit.venue_type
    return venue is not None and _residential(venue.code, venue.name)


def _residential(venue_code: str | None, venue_name: str | None) -> bool:
    return bool({venue_code, venue_name} & RESIDENTIAL_VENUE_TYPES)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, COORDINATE_DECIMALS)


def public_location(unit: Unit) -> PublicLocation:
    """What the public may know of where a unit is (``_location``)."""
    village = unit.village
    return _location(village.name if village else "",
                     village.latitude if village else None,
                     village.longitude if village else None,
                     residential=is_residential(unit),
                     address=unit.address, lat=unit.lat, lon=unit.lon)


def _location(village: str, village_lat: float | None, village_lon: float | None, *,
              residential: bool, address: str, lat: float | None,
              lon: float | None) -> PublicLocation:
    """For a home the public gets the village's name and the village's own position (its
    committee's office), never the home's point; for a business its masked address and its
    rounded point."""
    if residential:
        if village_lat is None or village_lon is None:
            return PublicLocation(village, None, None)
        return PublicLocation(village, _rounded(village_lat), _rounded(village_lon))
    masked = mask_personal_data(address)
    if (lat is None) != (lon is None):
        lat = lon = None
    else:
        lat, lon = _rounded(lat), _rounded(lon)
    return PublicLocation(" ".join(p for p in (village, masked) if p), lat, lon)


def public_case(case: Case, today: dt.date, *, timeline: Sequence[PublicEvent] = (),
                photos: Sequence[PublicPhoto] = ()) -> PublicCase:
    if not is_public(case):
        raise ValueError("case is not disclosed")
    return _as_public(case, today, summary=case.public_summary,
                      disclosed_at=case.disclosed_at,  # type: ignore[arg-type]
                      timeline=timeline, photos=photos)


def _as_public(case: Case, today: dt.date, *, summary: str, disclosed_at: dt.datetime,
               timeline: Sequence[PublicEvent], photos: Sequence[PublicPhoto]) -> PublicCase:
    unit = case.unit
    return _public(
        case.id, unit.id, unit.name, public_location(unit),
        village=case.village.name, township=case.village.township.name,
        venue_type=unit.venue_type.name if unit.venue_type else "",
        category=case.category.name, severity=case.severity, status=case.status,
        summary=summary, rectify_by=case.rectify_by, level=case.supervision_level,
        disclosed_at=disclosed_at, updated_at=case.updated_at, today=today,
        timeline=tuple(timeline), photos=tuple(photos))


def _public(case_id: int, unit_id: int, unit_name: str, where: PublicLocation, *,
            village: str, township: str, venue_type: str, category: str, severity: Severity,
            status: CaseStatus, summary: str, rectify_by: dt.date | None,
            level: SupervisionLevel,
            disclosed_at: dt.datetime, updated_at: dt.datetime | None, today: dt.date,
            timeline: tuple[PublicEvent, ...] = (),
            photos: tuple[PublicPhoto, ...] = ()) -> PublicCase:
    """The one place a ``PublicCase`` is made: the masking of the unit's name and the summary,
    the overdue flag and the update time no earlier than the disclosure."""
    return PublicCase(
        id=case_id, unit_id=unit_id, unit_name=mask_personal_data(unit_name),
        village=village, venue_type=venue_type, category=category, severity=severity,
        status=status, summary=mask_personal_data(summary), rectify_by=rectify_by,
        supervision_level=level, disclosed_at=disclosed_at,
        updated_at=max(updated_at or disclosed_at, disclosed_at),
        overdue=sla.rectification_overdue(status, rectify_by, today),
        timeline=timeline, photos=photos, address=where.address, lat=where.lat,
        lon=where.lon, township=township)


@functools.cache
def _cards() -> Select:
    """What a card of a public list shows, as plain columns: the case, its unit and the names
    of its village, township, category and venue type, joined on primary keys. A list page of
    twenty cards read as entities with their six relations cost more Python than everything
    else on the page (issue 19); rows of columns are built straight into ``PublicCase``. The
    condition is ``is_public``'s, so a case withdrawn after its id was paged is left out."""
    unit_village, case_village = aliased(Village), aliased(Village)
    return (
        select(Case.id, Case.unit_id, Case.severity, Case.status, Case.public_summary,
               Case.rectify_by, Case.supervision_level, Case.disclosed_at, Case.updated_at,
               Unit.name, Unit.address, Unit.lat, Unit.lon, VenueType.code, VenueType.name,
               unit_village.name, unit_village.latitude, unit_village.longitude,
               case_village.name, Township.name, Category.name)
        .select_from(Case)
        .join(Unit, Unit.id == Case.unit_id)
        .outerjoin(VenueType, VenueType.id == Unit.venue_type_id)
        .join(unit_village, unit_village.id == Unit.village_id)
        .join(case_village, case_village.id == Case.village_id)
        .join(Township, Township.id == case_village.township_id)
        .join(Category, Category.id == Case.category_id)
        .where(public_condition(), Case.disclosed_at.is_not(None),
               Case.confirmed_at.is_not(None)))


def _card(row: Any, today: dt.date) -> PublicCase:
    """``_as_public`` for a row of ``_cards`` (a card has no timeline and no photos)."""
    (case_id, unit_id, severity, status, summary, rectify_by, level, disclosed_at,
     updated_at, unit_name, address, lat, lon, venue_code, venue_name, unit_village,
     village_lat, village_lon, village, township, category) = row
    where = _location(unit_village, village_lat, village_lon,
                      residential=_residential(venue_code, venue_name),
                      address=address, lat=lat, lon=lon)
    return _public(case_id, unit_id, unit_name, where, village=village, township=township,
                   venue_type=venue_name or "", category=category, severity=severity,
                   status=status, summary=summary, rectify_by=rectify_by, level=level,
                   disclosed_at=disclosed_at, updated_at=updated_at, today=today)


def public_cards(session: Session, query: Select, today: dt.date) -> list[PublicCase]:
    """The cards of ``query``, a ``_cards()`` select with its conditions and order."""
    return [_card(row, today) for row in session.execute(query)]


def cards_of(session: Session, ids: Page[int], today: dt.date) -> Page[PublicCase]:
    """The cards of a page of case ids, in the page's order."""
    return ids.filled({card.id: card for card, _ in cards_with(session, ids.items, today)})


def cards_with(session: Session, ids: Sequence[int], today: dt.date, *extra: Any
               ) -> list[tuple[PublicCase, tuple[Any, ...]]]:
    """The cards of ``ids`` in that order, each with the values of the ``extra`` columns of
    the case (or of what ``_cards`` joins) that a caller spells out besides, such as the
    Open311 fields a card has no place for. An id that is not public is left out."""
    if not ids:
        return []
    width = len(_cards().selected_columns)
    found = {row[0]: (_card(row[:width], today), tuple(row[width:]))
             for row in session.execute(_cards().add_columns(*extra).where(
                 paging.among(session, Case.id, ids)))}
    return paging.in_order(ids, found)


@dataclass(frozen=True)
class PublicLine:
    """A disclosed case told on one line (the Open311 listing): its card, its latest public
    progress text (masked), the stored name of the newest public photo of its timeline, and
    the values of the caller's ``extra`` columns."""

    card: PublicCase
    latest_text: str | None
    photo: str | None
    extra: tuple[Any, ...]


@functools.cache
def _line_columns() -> tuple[Any, Any]:
    """SQL on ``Case``: the latest public progress text and the newest shown photo of its
    timeline (``_shown``), each one indexed lookup a row (``case_events (case_id,
    created_at)``, ``attachments (case_event_id)``). Built once: no parameters."""
    text = (select(CaseEvent.public_text)
            .where(CaseEvent.case_id == Case.id, CaseEvent.public_text != "")
            .order_by(CaseEvent.created_at.desc(), CaseEvent.id.desc())
            .limit(1).scalar_subquery())
    photo = (select(Attachment.stored_name)
             .join(CaseEvent, CaseEvent.id == Attachment.case_event_id)
             .where(CaseEvent.case_id == Case.id, Attachment.public.is_(True),
                    Attachment.withheld.is_(False))
             .order_by(Attachment.id.desc()).limit(1).scalar_subquery())
    return text, photo


def public_lines(session: Session, ids: Sequence[int], today: dt.date, *extra: Any
                 ) -> list[PublicLine]:
    """``cards_with`` and, in the same statement, what a one-line listing adds: a page of
    fifty in one round trip, not four (issue 19)."""
    return [PublicLine(card, mask_personal_data(text) if text else None, photo, tuple(rest))
            for card, (text, photo, *rest) in cards_with(session, ids, today, *_line_columns(),
                                                         *extra)]


def is_public(case: Case) -> bool:
    return bool(case.disclosed and case.disclosed_at and case.confirmed_at)


def public_condition() -> ColumnElement[bool]:
    """SQL condition on ``Case``: disclosed. The CHECK constraint ``disclosed_is_confirmed``
    guarantees a disclosed case was confirmed, so the condition stays on the (disclosed,
    disclosed_at) index; ``public_case`` checks both again before anything is shown."""
    return Case.disclosed.is_(True)


def public_timeline(session: Session, case: Case) -> list[PublicEvent]:
    """The events carrying public text, oldest first, with their public photos."""
    return public_timelines(session, [case.id]).get(case.id, [])


def public_timelines(session: Session, case_ids: Sequence[int]
                     ) -> dict[int, list[PublicEvent]]:
    """``public_timeline`` of several cases in one statement: each event with its photos
    joined (a unit page showed its cases' timelines with two queries a case)."""
    if not case_ids:
        return {}
    rows = session.execute(
        select(CaseEvent.case_id, CaseEvent.id, CaseEvent.created_at, CaseEvent.kind,
               CaseEvent.public_text, Attachment)
        .outerjoin(Attachment, Attachment.case_event_id == CaseEvent.id)
        .where(CaseEvent.case_id.in_(list(case_ids)), CaseEvent.public_text != "")
        .order_by(CaseEvent.created_at, CaseEvent.id, Attachment.id))
    events: dict[int, tuple[int, dt.datetime, CaseEventKind, str, list[PublicPhoto]]] = {}
    for case_id, event_id, at, kind, text, attachment in rows:
        event = events.setdefault(event_id, (case_id, at, kind, text, []))
        if attachment is not None and _shown(attachment):
            event[4].append(_photo(attachment))
    timelines: dict[int, list[PublicEvent]] = {}
    for case_id, at, kind, text, photos in events.values():  # in the statement's order
        timelines.setdefault(case_id, []).append(PublicEvent(
            at=at, label=kind.label, text=mask_personal_data(text), photos=tuple(photos)))
    return timelines


def _event_photos(session: Session, case: Case) -> list[Attachment]:
    return list(session.scalars(
        select(Attachment).join(CaseEvent, Attachment.case_event_id == CaseEvent.id)
        .where(CaseEvent.case_id == case.id).order_by(Attachment.id)
    ))


def candidate_photos(session: Session, case: Case) -> list[Attachment]:
    """Every photo a moderator may choose to publish: the tips' and the timeline's, not
    withheld and not the originals of a redacted copy."""
    photos = evidence.tip_photos(session, case) + _event_photos(session, case)
    originals = {p.derived_from_id for p in photos if p.derived_from_id}
    return [p for p in photos if not p.withheld and p.id not in originals]


def is_public_photo(session: Session, attachment: Attachment) -> bool:
    """Whether an anonymous visitor may load this file: a photo a moderator marked public,
    not withheld, on a disclosed case: either on one of its timeline events, or one of its
    tips' usable photos (``evidence``: never the original of a blurred copy). Marked on a case
    that is later withdrawn, or never disclosed, it stays inside. The unit page shows exactly
    these (``full_public_case``), so every photo it links loads."""
    if not _shown(attachment):
        return False
    if attachment.case_event_id is not None:
        case = session.scalar(
            select(Case).join(CaseEvent, CaseEvent.case_id == Case.id)
            .where(CaseEvent.id == attachment.case_event_id))
        return case is not None and is_public(case)
    if attachment.tip_id is not None:
        tip = session.get(Tip, attachment.tip_id)
        if tip is None or tip.case_id is None:
            return False
        case = session.get(Case, tip.case_id)
        return (case is not None and is_public(case)
                and evidence.is_tip_photo(session, case, attachment))
    return False


def full_public_case(session: Session, case: Case, today: dt.date) -> PublicCase:
    """A case with its timeline and the tips' public photos, for the unit page."""
    return full_public_cases(session, [case], today)[0]


def full_public_cases(session: Session, cases: Sequence[Case], today: dt.date
                      ) -> list[PublicCase]:
    """``full_public_case`` of several cases with two statements in all: every timeline in
    one, every tip photo in the other."""
    ids = [case.id for case in cases]
    timelines = public_timelines(session, ids)
    photos = evidence.tip_photos_of(session, ids)
    return [public_case(case, today, timeline=timelines.get(case.id, ()),
                        photos=[_photo(a) for a in photos.get(case.id, ()) if _shown(a)])
            for case in cases]


def preview(session: Session, case: Case, today: dt.date, *, summary: str | None = None,
            photo_ids: Sequence[int] | None = None) -> PublicCase:
    """Exactly what the public would see if the case were disclosed as given, without
    changing anything: the moderator checks the masked text before publishing."""
    chosen = None if photo_ids is None else set(photo_ids)

    def shown(a: Attachment) -> bool:
        return (a.public if chosen is None else a.id in chosen) and not a.withheld

    photos = [_photo(a) for a in candidate_photos(session, case) if shown(a)]
    return _as_public(case, today,
                      summary=case.public_summary if summary is None else summary,
                      disclosed_at=case.disclosed_at or utcnow(),
                      timeline=public_timeline(session, case), photos=photos)


# ------------------------------------------------------------------ the moderator's steps


def _clean_summary(summary: str) -> str:
    text = mask_personal_data(summary.strip())
    if not text:
        raise DisclosureError("请填写公示内容（隐患的具体问题）")
    if len(text) > SUMMARY_MAX:
        raise DisclosureError(f"公示内容不能超过 {SUMMARY_MAX} 个字")
    return text


def disclose_case(
    session: Session,
    case: Case,
    *,
    actor: User,
    public_summary: str | None = None,
    now: dt.datetime | None = None,
) -> CaseEvent:
    """Publish a confirmed case: masked public summary, disclosed flag and time, a DISCLOSED
    event on the timeline and an audit row."""
    require_role(actor, Role.MODERATOR, action="公开隐患信息")
    if case.confirmed_at is None:
        raise DisclosureError("只有经部门核查属实的隐患才能公开")
    if case.disclosed:
        raise DisclosureError("该隐患已经公开")
    now = now or utcnow()
    summary = _clean_summary(case.public_summary if public_summary is None else public_summary)
    case.public_summary = summary
    case.disclosed = True
    case.disclosed_at = now
    flush(session)
    return log_event(session, case, CaseEventKind.DISCLOSED, actor=actor,
                     public_text=DISCLOSED_PUBLIC_TEXT, now=now,
                     audit_after={"disclosed": True, "public_summary": summary})


def withdraw_disclosure(
    session: Session, case: Case, *, actor: User, reason: str, now: dt.datetime | None = None
) -> CaseEvent:
    """Take a case off every public page, feed and export; its photos stop being served."""
    require_role(actor, Role.MODERATOR, action="撤回公开")
    reason = reason.strip()
    if not reason:
        raise DisclosureError("请填写撤回公开的理由")
    if len(reason) > REASON_MAX:
        raise DisclosureError(f"撤回理由不能超过 {REASON_MAX} 个字")
    if not case.disclosed:
        raise DisclosureError("该隐患尚未公开")
    unpublished = [a.id for a in candidate_photos(session, case) if a.public]
    for attachment in candidate_photos(session, case):
        attachment.public = False
    before = {"disclosed": True, "disclosed_at": case.disclosed_at}
    case.disclosed = False
    case.disclosed_at = None
    flush(session)
    return log_event(session, case, CaseEventKind.DISCLOSURE_WITHDRAWN, actor=actor,
                     internal_text=reason, now=now, audit_before=before,
                     audit_after={"disclosed": False, "reason": reason,
                                  "photos_unpublished": unpublished})


def edit_public_summary(session: Session, case: Case, summary: str, *, actor: User) -> CaseEvent:
    """Change the public summary (masked); a note on the timeline keeps the old text."""
    require_role(actor, Role.MODERATOR, action="修改公示内容")
    text = _clean_summary(summary)
    before = case.public_summary
    case.public_summary = text
    flush(session)
    return log_event(session, case, CaseEventKind.NOTE, actor=actor,
                     internal_text="修改公示内容", data={"field": "public_summary"},
                     audit_before={"public_summary": before},
                     audit_after={"public_summary": text})


def set_public_photos(
    session: Session, case: Case, photo_ids: Sequence[int], *, actor: User
) -> CaseEvent:
    """Publish exactly the chosen photos of this case; the others stop being public."""
    require_role(actor, Role.MODERATOR, action="选择公开照片")
    candidates = candidate_photos(session, case)
    chosen = set(photo_ids)
    unknown = chosen - {a.id for a in candidates}
    if unknown:
        raise DisclosureError("所选照片不属于该隐患或已被屏蔽")
    before = sorted(a.id for a in candidates if a.public)
    for attachment in candidates:
        attachment.public = attachment.id in chosen
    flush(session)
    return log_event(session, case, CaseEventKind.NOTE, actor=actor,
                     internal_text="调整公开照片", data={"public_photos": sorted(chosen)},
                     audit_before={"public_photos": before},
                     audit_after={"public_photos": sorted(chosen)})


# ------------------------------------------------------------------ public queries


@dataclass(frozen=True)
class DisclosureFilters:
    village_id: int | None = None
    venue_type_id: int | None = None
    category_id: int | None = None
    status: CaseStatus | None = None
    severity: Severity | None = None
    supervised: bool = False
    # The words searched for (``?q=``): in the unit's name, its public address and the public
    # summary, through ``search`` (issue 19).
    unit_name: str = ""
    # The township whose pages these are (its villages' cases); None: the whole county.
    township_id: int | None = None


def _in_township(township_id: int | None) -> ColumnElement[bool]:
    return townships.of_village(Case.village_id, None if township_id is None else {township_id})


def _filtered(query: Select, filters: DisclosureFilters) -> Select:
    if filters.township_id is not None:
        query = query.where(_in_township(filters.township_id))
    if filters.village_id is not None:
        query = query.where(Case.village_id == filters.village_id)
    if filters.category_id is not None:
        query = query.where(Case.category_id == filters.category_id)
    if filters.status is not None:
        query = query.where(Case.status == filters.status)
    if filters.severity is not None:
        query = query.where(Case.severity == filters.severity)
    if filters.supervised:
        # Written out, not bound: a partial index (ix_cases_public_listed) serves only a
        # condition the planner can match before it sees the parameters.
        query = query.where(Case.supervision_level != literal_column(
            f"'{SupervisionLevel.NONE.value}'"))
    if filters.venue_type_id is not None:  # the case's copy of its unit's, on its own index
        query = query.where(Case.venue_type_id == filters.venue_type_id)
    return query


@functools.cache
def _public_relations() -> tuple[Any, ...]:
    # Built once: loader options are immutable, and every public list asks for them.
    return (joinedload(Case.unit).joinedload(Unit.venue_type),
            joinedload(Case.unit).joinedload(Unit.village),
            joinedload(Case.village).joinedload(Village.township),
            joinedload(Case.category))


def with_public_relations(query: Select) -> Select:
    """``query`` on ``Case`` loading what ``public_case`` reads, in the same query: every
    relation it reads is many-to-one, so joining them costs no rows and saves a round trip
    per relation."""
    return query.options(*_public_relations())


_NEWEST_FIRST = (Case.disclosed_at.desc(), Case.id.desc())


def search_disclosed(
    session: Session,
    filters: DisclosureFilters,
    *,
    today: dt.date,
    page: str | int | None = 1,
    per_page: int = 20,
) -> Page[PublicCase]:
    """One page of disclosed cases, newest disclosure first, or of those whose public text
    contains the search words (``search``); the total is exact where ``counted_exactly``,
    else it may stop past ``search.COUNT_CAP``."""
    newest_first = _NEWEST_FIRST
    # The page's ids first, from the (disclosed, disclosed_at, id) index alone, then those
    # twenty rows: a deep page skips index entries, not half a million table rows.
    chosen = _filtered(select(Case.id).where(public_condition()), filters)
    if search.normalize(filters.unit_name):
        # The index holds the public cases and no other: without a filter, no case is read.
        unfiltered = replace(filters, unit_name="") == DisclosureFilters()
        ids = search.page_of_matches(session, None if unfiltered else chosen,
                                     filters.unit_name, page=page, size=per_page)
    elif counted_exactly(filters):
        ids = paging.paginate(session, chosen.order_by(*newest_first), page=page,
                              size=per_page, total=_tallied_total(session, filters))
    else:
        ids = search.capped_page(session, chosen.order_by(*newest_first), page=page,
                                 size=per_page)
    return cards_of(session, ids, today)


def moderator_list(session: Session, *, disclosed: bool, page: str | int | None = 1,
                   size: int = 30, scope: ColumnElement[bool] | None = None) -> Page[Case]:
    """The moderators' disclosure screen: confirmed cases not yet public, newest confirmation
    first, or the public ones, newest disclosure first; ``scope``: the cases the moderator
    may see (``permissions.case_scope``)."""
    condition = (public_condition() if disclosed
                 else Case.confirmed_at.is_not(None) & Case.disclosed.is_(False))
    if scope is not None:
        condition = condition & scope
    newest = Case.disclosed_at if disclosed else Case.confirmed_at
    query = (select(Case).where(condition)
             .options(selectinload(Case.unit).selectinload(Unit.village),
                      selectinload(Case.category))
             .order_by(newest.desc(), Case.id.desc()))
    total = session.scalar(select(func.count()).select_from(Case).where(condition)) or 0
    return paging.paginate(session, query, page=page, size=size, total=total)


def counted_exactly(filters: DisclosureFilters) -> bool:
    """Whether the list's total is exact: it is, from the case tallies, when there are no
    search words and every filter is one of their dimensions (village, status, severity,
    supervised); else it is counted only so far (``search.capped_page``: "200+")."""
    return (not search.normalize(filters.unit_name) and filters.venue_type_id is None
            and filters.category_id is None)


def _tallied_total(session: Session, filters: DisclosureFilters) -> int:
    """The exact total of a list ``counted_exactly``, from the case tallies."""
    statuses = [filters.status] if filters.status is not None else list(CaseStatus)
    return tallies.sums(session, statuses, village_id=filters.village_id,
                        severity=filters.severity, listed=filters.supervised,
                        disclosed=True, township_id=filters.township_id)[None]


def latest_disclosed(session: Session, *, today: dt.date, limit: int = 5,
                     township_id: int | None = None) -> list[PublicCase]:
    """The newest disclosures: their ids from the disclosure index, then their cards. Ordered
    and limited, the seven-table join of ``_cards`` took the planner 10 ms on PostgreSQL for
    half a millisecond of work; the ids alone are planned in a tenth of that."""
    chosen = _filtered(select(Case.id).where(public_condition()),
                       DisclosureFilters(township_id=township_id))
    ids = list(session.scalars(chosen.order_by(*_NEWEST_FIRST).limit(limit)))
    return cards_of(session, Page(ids, len(ids), 1, limit), today).items


def unit_disclosures(
    session: Session, unit_id: int, *, today: dt.date, township_id: int | None = None
) -> tuple[Unit, list[PublicCase]] | None:
    """A unit and its disclosed cases with timelines; None when nothing of it is public (in
    the township, when one is given)."""
    cases = session.scalars(
        with_public_relations(select(Case).where(public_condition(), Case.unit_id == unit_id,
                                                 _in_township(township_id)))
        .order_by(Case.disclosed_at.desc(), Case.id.desc())
    ).all()
    if not cases:
        return None
    return cases[0].unit, full_public_cases(session, cases, today)


def iter_disclosed(session: Session, *, today: dt.date, batch: int = 500,
                   township_id: int | None = None) -> Iterator[PublicCase]:
    """Every disclosed case by id (of a township, when one is given), fetched in keyset
    batches (exports never load a table)."""
    last_id = 0
    while True:
        cards = public_cards(session, _cards().where(Case.id > last_id,
                                                     _in_township(township_id))
                             .order_by(Case.id).limit(batch), today)
        if not cards:
            return
        yield from cards
        last_id = cards[-1].id
