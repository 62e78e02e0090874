"""Bulletins (通报): the supervisor's periodic report, drafted from the period's figures.

The figures are frozen into the bulletin when it is drafted (and may be refreshed while it
is a draft), so a published bulletin says what it said on the day. Publishing makes it
readable on the public site; after that it is not edited. Its title and text are public text:
publishing masks them, and the public site reads them as a ``PublicBulletin``, masked again
(bulletins published before masking was applied to them included).

A bulletin belongs to its issuing office: the township of the supervisor who drafted it
(``Bulletin.township_id``), whose figures it reports, or the county's (NULL), over every
township. A township's staff read their own office's bulletins and the county's published
ones (``readable``); another township's bulletin does not exist for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session

from portal.domain import paging
from portal.domain.access import audit
from portal.domain.administration.townships import of_village
from portal.domain.casework.events import WorkflowError, require_role
from portal.domain.clock import utcnow
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.enums import Role, Severity
from portal.domain.models import Bulletin, Case, Department, Listing, Tip, User
from portal.domain.paging import Page
from portal.domain.reporting import rating
from portal.domain.supervision import ledger

PAGE_SIZE = 20
# The wording names the departments with most overdue cases; the table lists them all.
TEXT_DEPARTMENTS = 10


def period_end(end: dt.date, now: dt.datetime | None = None,
               tz: str | ZoneInfo | None = None) -> dt.datetime:
    """The moment a bulletin's standing figures are taken at: the end of the period's last
    local day, or now while the period is still running. Never later: a bulletin drafted
    on 1 December about November says how November ended, not how December began."""
    now = now or utcnow()
    return min(now, ledger.start_of_local_day(end + dt.timedelta(days=1), tz))


def readable(townships: Collection[int] | None) -> ColumnElement[bool]:
    """SQL on ``Bulletin``: those a reader of ``townships`` (``permissions.townships_of``;
    None: the county's staff, who read every one) may open in the back office."""
    if townships is None:
        return true()
    return or_(Bulletin.township_id.in_(sorted(townships)),
               and_(Bulletin.township_id.is_(None), Bulletin.published_at.is_not(None)))


def period_figures(session: Session, start: dt.date, end: dt.date,
                   now: dt.datetime | None = None,
                   tz: str | ZoneInfo | None = None,
                   township_id: int | None = None) -> dict[str, Any]:
    """What a bulletin reports, every figure from the bulletin's own period: the period's
    new tips, cases opened and closed and listings; and, at the period's end
    (``period_end``), the cases open then that were overdue then, by lead department, and
    the hazards under supervision then. Nothing opened after the period counts or is named.
    (Overdue at the period's end is judged on each case's deadlines and status as they are
    now: a case handled after the period no longer counts as overdue then.) ``township_id``
    narrows every figure to the township's villages (None: the county)."""
    as_of = period_end(end, now, tz)
    since = ledger.start_of_local_day(start, tz)
    until = ledger.start_of_local_day(end + dt.timedelta(days=1), tz)
    place = ledger.LedgerFilter(township_id=township_id)
    places = None if township_id is None else {township_id}
    opened = place.with_(created_from=start, created_to=end)
    closed = place.with_(closed_from=start, closed_to=end)
    overdue = place.with_(overdue=ledger.Overdue.ANY, open_on=end)
    by_department = ledger.counts_by(session, overdue, "department", as_of, tz)
    rated = rating.period_figures(session, since, until, places)
    names = dict(session.execute(select(Department.id, Department.name)
                                 .where(Department.id.in_(list(by_department)))).all())
    return {
        "period": [start.isoformat(), end.isoformat()],
        "as_of": as_of.isoformat(),
        "new_tips": session.scalar(select(func.count()).select_from(Tip).where(
            Tip.created_at >= since, Tip.created_at < until,
            of_village(Tip.village_id, places))) or 0,
        "cases_opened": ledger.count(session, opened, as_of, tz),
        "major_opened": ledger.count(session, opened.with_(severity=Severity.MAJOR), as_of, tz),
        "cases_closed": ledger.count(session, closed, as_of, tz),
        "overdue": ledger.count(session, overdue, as_of, tz),
        "overdue_by_department": sorted(
            ({"department": names.get(d, str(d)), "count": n} for d, n in by_department.items()),
            key=lambda row: (-row["count"], row["department"])),
        # Under supervision among the cases open at the period's end (the ledger's "listed").
        "listed": ledger.count(session, place.with_(listed=True, open_on=end), as_of, tz),
        "listed_in_period": session.scalar(
            select(func.count()).select_from(Listing).join(Case, Case.id == Listing.case_id)
            .where(Listing.listed_at >= since, Listing.listed_at < until,
                   of_village(Case.village_id, places))) or 0,
        # The reporters' follow-up ratings (回访评价): given in the period, and of the tips
        # whose case closed in the period, those rated.
        "rated": rated.rated,
        "rated_content": rated.content,
        "satisfaction_pct": rated.satisfaction_pct,
        "closed_tips": rated.closed_tips,
        "followed_up": rated.followed_up,
        "follow_up_pct": rated.follow_up_pct,
    }


def draft_text(figures: dict[str, Any], township: str) -> str:
    start, end = figures["period"]
    lines = [
        f"{start} 至 {end}，{township}共收到群众举报火灾隐患 {figures['new_tips']} 条，"
        f"新立案 {figures['cases_opened']} 件（其中重大火灾隐患 {figures['major_opened']} 件），"
        f"整改销案 {figures['cases_closed']} 件。",
        f"截至 {end}，挂牌督办重大火灾隐患 {figures['listed']} 处"
        f"（本期新挂牌 {figures['listed_in_period']} 处），"
        f"超期未办结工单 {figures['overdue']} 件。",
    ]
    if figures.get("rated"):
        lines.append(f"本期回访评价 {figures['rated']} 件，满意（含基本满意）"
                     f"{figures['rated_content']} 件，满意率 {figures['satisfaction_pct']}%"
                     + (f"；办结举报回访率 {figures['follow_up_pct']}%。"
                        if figures.get("follow_up_pct") is not None else "。"))
    if figures["overdue_by_department"]:
        rows = figures["overdue_by_department"]
        parts = "、".join(f"{row['department']} {row['count']} 件"
                          for row in rows[:TEXT_DEPARTMENTS])
        more = f"等 {len(rows)} 个单位" if len(rows) > TEXT_DEPARTMENTS else ""
        lines.append(f"超期工单较多的单位：{parts}{more}。"
                     "请上述单位抓紧办理，逾期不改的将发督促函并约谈。")
    return "\n\n".join(lines)


def draft(session: Session, start: dt.date, end: dt.date, *, actor: User, township: str,
          now: dt.datetime | None = None, tz: str | ZoneInfo | None = None) -> Bulletin:
    """A draft of the actor's office (their township's, or the county's), with its figures;
    ``township`` is the office's place as the title names it."""
    require_role(actor, Role.SUPERVISOR, action="起草通报")
    if end < start:
        raise WorkflowError("通报期间的结束日期不能早于开始日期")
    figures = period_figures(session, start, end, now, tz, actor.township_id)
    bulletin = Bulletin(
        township_id=actor.township_id, period_start=start, period_end=end, figures=figures,
        title=f"{township}火灾隐患举报处置情况通报（{start.isoformat()} 至 {end.isoformat()}）",
        text=draft_text(figures, township), created_by_id=actor.id)
    session.add(bulletin)
    session.flush()
    audit.record(session, "bulletin.draft", "bulletin", bulletin.id, actor=actor,
                 after={"period": figures["period"]})
    return bulletin


def edit(session: Session, bulletin: Bulletin, *, actor: User, title: str, text: str) -> None:
    require_role(actor, Role.SUPERVISOR, action="修改通报")
    if bulletin.published_at is not None:
        raise WorkflowError("通报已发布，不能再修改")
    if not title.strip() or not text.strip():
        raise WorkflowError("通报标题和正文不能为空")
    before = {"title": bulletin.title, "text": bulletin.text}
    bulletin.title, bulletin.text = title.strip()[:200], text.strip()
    session.flush()
    audit.record(session, "bulletin.edit", "bulletin", bulletin.id, actor=actor, before=before,
                 after={"title": bulletin.title, "text": bulletin.text})


def publish(session: Session, bulletin: Bulletin, *, actor: User,
            now: dt.datetime | None = None) -> None:
    require_role(actor, Role.SUPERVISOR, action="发布通报")
    if bulletin.published_at is not None:
        raise WorkflowError("通报已发布")
    # What is published is public text: masked as every public output is.
    title, text = mask_personal_data(bulletin.title), mask_personal_data(bulletin.text)
    masked = (title, text) != (bulletin.title, bulletin.text)
    bulletin.title, bulletin.text = title, text
    bulletin.published_at = now or utcnow()
    bulletin.published_by_id = actor.id
    session.flush()
    row = audit.record(session, "bulletin.publish", "bulletin", bulletin.id, actor=actor,
                       after={"title": bulletin.title, "masked": masked})
    # The public page prints the audit chain's head as it stood: an anchor for the log that
    # the database's owner cannot take back once readers have seen it.
    bulletin.figures = {**bulletin.figures, "audit_head": {"row_id": row.id, "hash": row.hash}}
    session.flush()


def published(session: Session, page: str | int | None = 1,
              size: int = PAGE_SIZE) -> Page[Bulletin]:
    """One page of published bulletins, newest first."""
    return paging.paginate(session, select(Bulletin).where(Bulletin.published_at.is_not(None))
                           .order_by(Bulletin.published_at.desc(), Bulletin.id.desc()),
                           page=page, size=size)


@dataclass(frozen=True)
class PublicBulletin:
    """What the public reads of a published bulletin."""

    id: int
    title: str
    text: str
    figures: dict[str, Any]
    period_start: dt.date
    period_end: dt.date
    published_at: dt.datetime


def public_bulletin(bulletin: Bulletin) -> PublicBulletin:
    if bulletin.published_at is None:
        raise ValueError("bulletin is not published")
    return PublicBulletin(
        id=bulletin.id, title=mask_personal_data(bulletin.title),
        text=mask_personal_data(bulletin.text), figures=bulletin.figures or {},
        period_start=bulletin.period_start, period_end=bulletin.period_end,
        published_at=bulletin.published_at)


def _shown_on(township_id: int | None) -> ColumnElement[bool]:
    """The county's pages show the county's bulletins; a township's, its own and the county's."""
    county = Bulletin.township_id.is_(None)
    return county if township_id is None else or_(county, Bulletin.township_id == township_id)


def published_public(session: Session, page: str | int | None = 1,
                     size: int = PAGE_SIZE, *, township_id: int | None = None
                     ) -> Page[PublicBulletin]:
    """``published`` as the public site shows it (``_shown_on`` the township's pages)."""
    return paging.paginate(session, select(Bulletin).where(
        Bulletin.published_at.is_not(None), _shown_on(township_id))
        .order_by(Bulletin.published_at.desc(), Bulletin.id.desc()),
        page=page, size=size).map(public_bulletin)


def published_bulletin(session: Session, bulletin_id: int, *, township_id: int | None = None
                       ) -> PublicBulletin | None:
    """One published bulletin as the public reads it; None for a draft, no such bulletin or
    one not shown on these pages."""
    found = session.scalar(select(Bulletin).where(
        Bulletin.id == bulletin_id, Bulletin.published_at.is_not(None),
        _shown_on(township_id)))
    return None if found is None else public_bulletin(found)
