"""What the Open311 API says about a hazard: disclosed cases in full, a partner's own tips in
two fields. Reporter details and the tip's own text never appear here.

A disclosed case is told from its ``PublicCase`` (portal/domain/disclosure/publication.py),
the one definition of what the public may read: masked text, the public address and rounded
coordinates. The API only spells it in GeoReport's fields.

No request objects: the caller passes the time zone and how to make a photo's public URL.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from portal.domain.administration import townships
from portal.domain.casework import leads
from portal.domain.clock import end_of_local_day, local_today, to_local, utcnow
from portal.domain.disclosure import publication
from portal.domain.enums import CaseStatus, TipStatus
from portal.domain.models import Case, Category, Tip
from portal.domain.reporting import tracking

# GeoReport v2 lets the server choose how many requests one call returns (at most 1000 by
# default); past a page, clients follow the ``Link: rel="next"`` cursor (docs/open311.md).
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
DEFAULT_WINDOW = dt.timedelta(days=90)
# Lead assignments that still name the department answering for the case.
_TIP_ID_RE = re.compile(r"^T([0-9]{1,10})\Z")
_CASE_ID_RE = re.compile(r"^[0-9]{1,10}\Z")
_TOKEN_RE = re.compile(r"^([0-9]{1,10})-([0-9a-f]{24})\Z")
_INT_MAX = 2**31 - 1
_CURSOR_RE = re.compile(r"^([0-9]{1,19})\.([0-9]{1,10})\Z")


@dataclass(frozen=True)
class RequestId:
    """A service_request_id: a disclosed case (``12``) or a partner's own tip (``T34``)."""

    number: int
    is_tip: bool

    def __str__(self) -> str:
        return f"T{self.number}" if self.is_tip else str(self.number)


def parse_request_id(raw: str) -> RequestId | None:
    raw = raw.strip()
    match = _TIP_ID_RE.match(raw)
    number = match.group(1) if match else raw if _CASE_ID_RE.match(raw) else None
    if number is None or not 0 < int(number) <= _INT_MAX:
        return None
    return RequestId(int(number), is_tip=match is not None)


def tip_token(tip_id: int, key: str) -> str:
    """The token returned with a new request: it names the tip and cannot be guessed."""
    mac = hmac.new(key.encode(), f"open311-token:{tip_id}".encode(), hashlib.sha256)
    return f"{tip_id}-{mac.hexdigest()[:24]}"


def tip_for_token(session: Session, token: str, key: str) -> Tip | None:
    match = _TOKEN_RE.match(token.strip())
    if match is None or int(match.group(1)) > _INT_MAX:
        return None
    if not hmac.compare_digest(tip_token(int(match.group(1)), key), match.group(0)):
        return None
    tip = session.get(Tip, int(match.group(1)))
    return tip if tip is not None and tip.api_key_id is not None else None


def public_id_of_tip(session: Session, tip: Tip) -> RequestId:
    """The case id once the tip's case is disclosed; until then the tip's own id."""
    if tip.case_id is not None:
        case = session.get(Case, tip.case_id)
        if case is not None and case.disclosed:
            return RequestId(case.id, is_tip=False)
    return RequestId(tip.id, is_tip=True)


class Clock:
    """ISO 8601 in the jurisdiction's zone (+08:00 for China)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone

    def iso(self, value: dt.datetime | None) -> str | None:
        return None if value is None else to_local(value, self.zone).isoformat(timespec="seconds")

    def end_of_day(self, value: dt.date | None) -> str | None:
        """A deadline date is met until the end of that day, local time."""
        if value is None:
            return None
        return to_local(end_of_local_day(value, self.zone), self.zone).isoformat()

    def today(self) -> dt.date:
        return local_today(utcnow(), self.zone)


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last case's requested time and id, the listing's order.

    Sent as ``after``, an opaque token: clients copy it from the ``Link`` header, never build
    it. It is a position, not a permission, so it needs no signature; the rows after it are
    public anyway."""

    requested_at: dt.datetime
    case_id: int

    def token(self) -> str:
        micros = round(self.requested_at.astimezone(dt.UTC).timestamp() * 1_000_000)
        raw = f"{micros}.{self.case_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(token: str) -> Cursor | None:
    """The cursor an ``after`` token names, or None for anything this server did not issue."""
    token = token.strip()
    if not token or len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = _CURSOR_RE.match(raw)
    if match is None or not 0 < int(match.group(2)) <= _INT_MAX:
        return None
    micros = int(match.group(1))
    try:
        at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
    except OverflowError:
        return None
    return Cursor(at, int(match.group(2)))


@dataclass
class Query:
    ids: list[RequestId] | None = None
    service_codes: list[str] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: list[str] | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    after: Cursor | None = None
    # The township ``jurisdiction_id`` named: its villages' cases only; None: the county's.
    township_id: int | None = None


@dataclass
class CasePage:
    ids: list[int]  # the disclosed cases of the page, in the listing's order
    next: Cursor | None  # None on the last page


def window(start: dt.datetime | None, end: dt.datetime | None, *, now: dt.datetime
           ) -> tuple[dt.datetime, dt.datetime]:
    """The requested-time range searched: 90 days unless both ends are given.

    Raises OverflowError for a range that leaves the calendar (year 1 or 9999).
    """
    end = end or ((start + DEFAULT_WINDOW) if start else now)
    return start or (end - DEFAULT_WINDOW), end


# The listing's order, the one the specification's window is on (``requested_datetime``).
_NEWEST_FIRST = (Case.created_at.desc(), Case.id.desc())


def _disclosed(township_id: int | None, *columns: Any) -> Select[Any]:
    """``columns`` of the disclosed cases (of the township, when one is given)."""
    places = None if township_id is None else {township_id}
    return select(*columns).where(
        publication.public_condition(), townships.of_village(Case.village_id, places))


def disclosed_ids(session: Session, numbers: Sequence[int], township_id: int | None = None
                  ) -> list[int]:
    """Which of ``numbers`` are disclosed cases (of the township), newest request first."""
    if not numbers:
        return []
    return list(session.scalars(_disclosed(township_id, Case.id)
                                .where(Case.id.in_(list(numbers))).order_by(*_NEWEST_FIRST)))


def find_cases(session: Session, query: Query, *, now: dt.datetime) -> CasePage:
    """One page of the disclosed cases matching the filters, newest request first,
    ``query.page_size`` of them after ``query.after``: their ids, which ``case_rows`` spells.

    The order is the one the specification's window is on (``requested_datetime``, the case's
    ``created_at``), so every page of any window is one range of the ``created_at`` index,
    however old the window: ordered by disclosure time, a window two years back would first
    pass over every case disclosed since. A page starts after a cursor rather than at an
    OFFSET, so the thousandth page costs what the first does, and a case opened meanwhile
    neither repeats a row nor hides one. ``ids`` overrides every other filter, paging
    included, as the specification says.
    """
    if query.ids is not None:
        return CasePage(disclosed_ids(session, [i.number for i in query.ids if not i.is_tip],
                                      query.township_id), None)
    stmt = _disclosed(query.township_id, Case.id, Case.created_at)
    start, end = window(query.start, query.end, now=now)
    stmt = stmt.where(Case.created_at >= start, Case.created_at <= end)
    if query.service_codes:
        stmt = stmt.join(Case.category).where(Category.code.in_(query.service_codes))
    statuses = set(query.statuses or ())
    if len(statuses) == 1:  # both, or neither, is every case
        closed = Case.status == CaseStatus.CLOSED
        stmt = stmt.where(closed if statuses == {"closed"} else ~closed)
    if query.after is not None:
        at, last_id = query.after.requested_at, query.after.case_id
        # The first condition alone is an index range; the second settles ties on the time.
        stmt = stmt.where(Case.created_at <= at, or_(Case.created_at < at, Case.id < last_id))
    rows = session.execute(stmt.order_by(*_NEWEST_FIRST).limit(query.page_size + 1)).all()
    walked = rows[:query.page_size]
    last = walked[-1] if len(rows) > query.page_size else None
    return CasePage([case_id for case_id, _ in walked],
                    Cursor(last.created_at, last.id) if last is not None else None)


OVERDUE_NOTE = "已超过整改期限，仍在整改"


def _notes(latest: str | None, *, overdue: bool) -> str | None:
    """The latest public progress note; for an overdue case, said first that it is."""
    if not overdue:
        return latest
    return f"{OVERDUE_NOTE}。{latest}" if latest else OVERDUE_NOTE


def case_rows(
    session: Session, ids: Sequence[int], *, clock: Clock, media_url: Callable[[str], str]
) -> list[dict[str, Any]]:
    """The specification's fields for each disclosed case of ``ids``, in that order, in the
    specification's order. Each case is its public card (``publication.public_lines``: the
    masking, the public address and the overdue flag are the public pages' own), with the
    values GeoReport has a field for and a card has not, in one statement; a page of fifty
    read as entities with their relations built 350 ORM objects in five (issue 19). An id
    that is not disclosed (withdrawn since it was paged) is left out."""
    lines = publication.public_lines(session, ids, clock.today(), Category.code,
                                     Case.created_at, Case.updated_at,
                                     leads.lead_department_column())
    agencies = leads.department_names(session, (line.extra[-1] for line in lines))
    rows = []
    for line in lines:
        public, (code, requested_at, updated_at, lead) = line.card, line.extra
        rows.append({
            "service_request_id": str(public.id),
            "status": "closed" if public.status is CaseStatus.CLOSED else "open",
            # A disclosed case was confirmed, so it is past its check: late, for a partner,
            # is late for the rectification (``sla.is_overdue(..., clocks=False)``), the
            # card's own flag.
            "status_notes": _notes(line.latest_text, overdue=public.overdue),
            "service_name": public.category,
            "service_code": code,
            "description": public.summary,
            "agency_responsible": agencies.get(lead),
            "service_notice": None,
            "requested_datetime": clock.iso(requested_at),
            "updated_datetime": clock.iso(updated_at),
            "expected_datetime": clock.end_of_day(public.rectify_by),
            "address": public.address,
            "address_id": None,
            "zipcode": None,
            "lat": public.lat,
            "long": public.lon,
            "media_url": media_url(line.photo) if line.photo else None,
        })
    return rows


def partner_tips(session: Session, numbers: Sequence[int], api_key_id: int,
                 township_id: int | None = None) -> list[Tip]:
    """The partner's own tips among ``numbers``, in the township when one is given (a key of
    one township follows only that township's tips, wherever a moderator moved them)."""
    if not numbers:
        return []
    places = None if township_id is None else {township_id}
    return list(session.scalars(
        select(Tip).where(Tip.id.in_(numbers), Tip.api_key_id == api_key_id,
                          townships.of_village(Tip.village_id, places)).order_by(Tip.id)
    ))


def tip_row(session: Session, tip: Tip) -> dict[str, Any]:
    """A partner's own tip: whether it is still open, and the sentence its reporter would read.
    Nothing about the unit, the text or the reporter."""
    closed = tip.status is TipStatus.REJECTED or (
        tip.case_id is not None
        and session.scalar(select(Case.status).where(Case.id == tip.case_id)) is CaseStatus.CLOSED
    )
    _heading, sentence = tracking.status_summary(session, tip)
    return {
        "service_request_id": f"T{tip.id}",
        "status": "closed" if closed else "open",
        "status_notes": sentence,
    }
