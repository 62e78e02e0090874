"""The follow-up rating (回访/评价, issue 21): the one-time links an SMS carries.

A link allows the rating of one tip only, shows nothing of the report, is used once and
expires after ``LINK_DAYS``. The token itself is never stored: its keyed hash is (the same
key as the receipt codes, with its own label, so that a token can never pass for a code).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.access import audit
from portal.domain.administration.townships import of_village
from portal.domain.casework import leads, notifications, workflow
from portal.domain.casework.events import WorkflowError
from portal.domain.clock import utcnow
from portal.domain.enums import (
    CaseOutcome,
    CaseStatus,
    MessageDirection,
    RatingAnswer,
    RatingSource,
    Role,
    TipStatus,
)
from portal.domain.figures import pct
from portal.domain.models import Assignment, Case, Message, Rating, RatingToken, Tip, User
from portal.domain.reporting import reporter

LINK_DAYS = 30
_LABEL = b"rating-link\x00"
_MESSAGE_LABEL = b"rating-link-of-message\x00"


def link_path(token: str) -> str:
    """The path an SMS carries (after the portal's public address): ``/rate/<token>``."""
    return f"/rate/{token}"


def token_hash(key: str, token: str) -> str:
    return hmac.new(key.encode(), _LABEL + token.encode(), hashlib.sha256).hexdigest()


def issue_token(session: Session, tip: Tip, *, key: str, now: dt.datetime | None = None,
                message_id: int | None = None) -> str:
    """A one-time rating link's token for ``tip``: 12 URL-safe characters (72 bits), short
    enough for every provider's template parameter.

    For the SMS ``message_id`` the token is derived from the key and the message, so that a
    retried send (the provider may have delivered a try it answered with an error) carries the
    same link, and the tip has one link per message, not one per try.
    """
    now = now or utcnow()
    if message_id is None:
        token = secrets.token_urlsafe(9)
    else:
        digest = hmac.new(key.encode(), _MESSAGE_LABEL + f"{tip.id}:{message_id}".encode(),
                          hashlib.sha256).digest()
        token = base64.urlsafe_b64encode(digest[:9]).decode()
        if session.scalar(select(RatingToken.id).where(
                RatingToken.token_hash == token_hash(key, token))) is not None:
            return token
    session.add(RatingToken(tip_id=tip.id, token_hash=token_hash(key, token), created_at=now,
                            expires_at=now + dt.timedelta(days=LINK_DAYS)))
    session.flush()
    return token


def token_for(session: Session, token: str, *, key: str,
              now: dt.datetime | None = None) -> RatingToken | None:
    """The unused, unexpired link ``token`` names, or None (wrong, used or expired alike)."""
    now = now or utcnow()
    found = session.scalar(select(RatingToken).where(
        RatingToken.token_hash == token_hash(key, token)))
    if found is None or found.used_at is not None or found.expires_at <= now:
        return None
    return found


# ---------------------------------------------------------------- who may rate, and rating

COMMENT_MAX = 500
# One message for a wrong, used or expired link alike, so that a token cannot be probed.
LINK_REFUSED = "该评价链接无效或已过期。如需评价，请凭查询码在“查询进度”页面评价。"
ALREADY_RATED = "您已评价过本次办理结果，感谢您的反馈。"
REOPENED = "reopened"
ANSWERED = "answered"

_RATEABLE = (TipStatus.ACCEPTED, TipStatus.MERGED)


class RatingRefused(Exception):
    """A rating or its handling that the rules do not allow; the message is Chinese."""


def rating_of(session: Session, tip: Tip) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.tip_id == tip.id))


def refusal(session: Session, tip: Tip) -> str | None:
    """Why ``tip`` cannot be rated now, or None: a tip accepted into (or merged into) a case
    that is closed, not rated yet. Anyone holding the receipt may rate: no identity needed."""
    if tip.status not in _RATEABLE or tip.case_id is None:
        return "举报办结后才能评价"
    case = session.get(Case, tip.case_id)
    if case is None or case.status is not CaseStatus.CLOSED:
        return "举报办结后才能评价"
    if rating_of(session, tip) is not None:
        return ALREADY_RATED
    return None


def may_rate(session: Session, tip: Tip) -> bool:
    return refusal(session, tip) is None


def rate(session: Session, tip: Tip, answer: RatingAnswer, comment: str,
         source: RatingSource, recorded_by: User | None = None,
         now: dt.datetime | None = None) -> Rating:
    """Record the answer for ``tip`` (once per tip; merged reports each rate). A 不满意 waits
    for the supervisor (``awaiting_supervisor``), who is told by the outbox."""
    why = refusal(session, tip)
    if why is not None:
        raise RatingRefused(why)
    assert tip.case_id is not None
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise RatingRefused(f"意见不能超过 {COMMENT_MAX} 个字")
    rating = Rating(tip_id=tip.id, case_id=tip.case_id, answer=answer, comment=comment,
                    source=source, recorded_by_id=recorded_by.id if recorded_by else None,
                    created_at=now or utcnow())
    try:
        with session.begin_nested():  # two submissions at once: the second is refused here
            session.add(rating)
    except IntegrityError:
        raise RatingRefused(ALREADY_RATED) from None
    audit.record(session, "rating.record", "tip", tip.id, actor=recorded_by,
                 after={"case_id": tip.case_id, "rating": answer.value, "source": source.value})
    if answer is RatingAnswer.DISSATISFIED:
        case = session.get(Case, tip.case_id)
        assert case is not None
        notifications.notify_office(
            session, case, "rating_dissatisfied",
            f"举报人对办理结果不满意：案件 #{case.id} {case.unit.name}",
            f"举报 #{tip.id} 的举报人评价“不满意”，请督办人员处理。",
            payload={"case_id": case.id, "rating_id": rating.id})
    return rating


def rate_by_link(session: Session, token: str, answer: RatingAnswer, comment: str, *,
                 key: str, now: dt.datetime | None = None) -> Rating:
    """Rate through an SMS link: the link is used up with the rating."""
    now = now or utcnow()
    link = token_for(session, token, key=key, now=now)
    if link is None:
        raise RatingRefused(LINK_REFUSED)
    rating = rate(session, link.tip, answer, comment, RatingSource.SMS_LINK, now=now)
    link.used_at = now
    session.flush()
    return rating


def record_phone_follow_up(session: Session, tip: Tip, answer: RatingAnswer, comment: str, *,
                           actor: User) -> Rating:
    """Staff record the answer a reporter gave on the telephone (电话回访), with who called."""
    if actor.role not in (Role.MODERATOR, Role.SUPERVISOR):
        raise RatingRefused("只有审核员和督办人员可以登记电话回访")
    return rate(session, tip, answer, comment, RatingSource.PHONE, recorded_by=actor)


def phone_follow_up_tips(session: Session, case: Case) -> list[Tip]:
    """The tips of a closed case still waiting for their follow-up."""
    if case.status is not CaseStatus.CLOSED:
        return []
    return [t for t in reporter.linked_tips(session, case) if rating_of(session, t) is None]


# ---------------------------------------------------------------- the supervisor's handling


def awaiting_supervisor(session: Session,
                        townships: Collection[int] | None = None) -> list[Rating]:
    """The 不满意 ratings not handled yet, oldest first (``townships``: None for all)."""
    return list(session.scalars(
        select(Rating).join(Case, Case.id == Rating.case_id)
        .where(Rating.answer == RatingAnswer.DISSATISFIED, Rating.handled_at.is_(None),
               of_village(Case.village_id, townships))
        .order_by(Rating.created_at, Rating.id)))


def _check_handling(rating: Rating, actor: User) -> None:
    if actor.role is not Role.SUPERVISOR:
        raise RatingRefused("只有督办人员可以处理不满意评价")
    if rating.answer is not RatingAnswer.DISSATISFIED:
        raise RatingRefused("只有不满意的评价需要处理")
    if rating.handled_at is not None:
        raise RatingRefused("该评价已处理")


def _handled(session: Session, rating: Rating, actor: User, handling: str, text: str,
             message: str) -> None:
    rating.handled_at = utcnow()
    rating.handled_by_id = actor.id
    rating.handling = handling
    rating.handling_text = text
    session.add(Message(tip_id=rating.tip_id, direction=MessageDirection.TO_REPORTER,
                        body=message, author_id=actor.id))
    session.flush()


def reopen(session: Session, rating: Rating, *, actor: User, reason: str,
           new_deadline: dt.date | None) -> Rating:
    """Reopen the case on the 不满意: back to rectification with ``new_deadline``, or back to
    checking for a case closed as unfounded. The reporter is told on their page."""
    _check_handling(rating, actor)
    reason = reason.strip()
    unfounded = rating.case.outcome is CaseOutcome.UNFOUNDED
    try:
        workflow.reopen_on_rating(session, rating.case, actor=actor, reason=reason,
                                  new_deadline=None if unfounded else new_deadline,
                                  rating_id=rating.id)
    except WorkflowError as exc:
        raise RatingRefused(str(exc)) from None
    if unfounded:
        told = "根据您的评价，乡消安办已要求责任部门重新现场核查，核查结果将在本页告知。"
    else:
        assert new_deadline is not None
        told = ("根据您的评价，乡消安办已要求责任部门重新整改，整改期限至"
                f"{new_deadline.year}年{new_deadline.month}月{new_deadline.day}日，"
                "办理结果将在本页告知。")
    _handled(session, rating, actor, REOPENED, reason, told)
    audit.record(session, "rating.reopen", "rating", rating.id, actor=actor,
                 after={"case_id": rating.case_id, "reason": reason})
    return rating


def answer(session: Session, rating: Rating, *, actor: User, reason: str) -> Rating:
    """Keep the case closed and tell the reporter why (the reason is shown to them)."""
    _check_handling(rating, actor)
    reason = reason.strip()
    if not reason:
        raise RatingRefused("请填写答复举报人的理由")
    _handled(session, rating, actor, ANSWERED, reason,
             f"乡消安办已收到您的评价，经复核，维持办理结果。说明：{reason}")
    audit.record(session, "rating.answer", "rating", rating.id, actor=actor,
                 after={"case_id": rating.case_id, "reason": reason})
    return rating


# ---------------------------------------------------------------- what the reporter reads


def next_step(session: Session, tip: Tip) -> str | None:
    """What happens next about the rating, in plain words, for the tracking page."""
    rating = rating_of(session, tip)
    if rating is None:
        if may_rate(session, tip):
            return ("举报已办结。请告诉我们隐患是否真正消除：满意、基本满意或不满意。"
                    "如不满意，乡消安办督办人员将复核，重新办理或向您说明理由。")
        return None
    if rating.answer is not RatingAnswer.DISSATISFIED:
        return "您已评价：" + rating.answer.label + "。感谢您的反馈！"
    if rating.handling == REOPENED:
        return "您评价不满意，案件已重新办理，办理结果将在本页告知。"
    if rating.handling == ANSWERED:
        return "您评价不满意，乡消安办已复核并答复，请查看下方留言。"
    return "您评价不满意，乡消安办督办人员正在复核，将重新办理或向您说明理由。"


def reporter_entries(session: Session, tip: Tip, *,
                     tz: str | ZoneInfo | None = None) -> list[tuple[dt.date, str]]:
    """The rating and its handling, for the tip's timeline."""
    rating = rating_of(session, tip)
    if rating is None:
        return []
    zone = clock.local_zone(tz)
    lines = [(rating.created_at.astimezone(zone).date(),
              f"您对办理结果的评价：{rating.answer.label}")]
    if rating.handled_at is not None:
        words = ("根据您的评价，案件重新办理" if rating.handling == REOPENED
                 else "乡消安办复核后答复您的评价，维持办理结果")
        lines.append((rating.handled_at.astimezone(zone).date(), words))
    return lines


# ---------------------------------------------------------------- satisfaction figures


@dataclass
class Figures:
    """Satisfaction (满意率: 满意 and 基本满意 of the ratings given in the period) and
    follow-up (回访率: of the tips whose case closed in the period, those rated)."""

    rated: int = 0
    satisfied: int = 0
    basically: int = 0
    dissatisfied: int = 0
    closed_tips: int = 0
    followed_up: int = 0

    @property
    def content(self) -> int:
        """满意 and 基本满意: the ratings the satisfaction rate counts."""
        return self.satisfied + self.basically

    @property
    def satisfaction_pct(self) -> float | None:
        return pct(self.content, self.rated)

    @property
    def follow_up_pct(self) -> float | None:
        return pct(self.followed_up, self.closed_tips)


def _count(figures: Figures, answer: RatingAnswer, n: int = 1) -> None:
    figures.rated += n
    if answer is RatingAnswer.SATISFIED:
        figures.satisfied += n
    elif answer is RatingAnswer.BASICALLY:
        figures.basically += n
    else:
        figures.dissatisfied += n


def _closed_tips(since: dt.datetime, until: dt.datetime,
                 townships: Collection[int] | None) -> Any:
    rated = select(Rating.id).where(Rating.tip_id == Tip.id).exists()
    return (select(Tip.id, Case.id, rated)
            .join(Case, Case.id == Tip.case_id)
            .where(Tip.status.in_(_RATEABLE), Case.status == CaseStatus.CLOSED,
                   Case.closed_at >= since, Case.closed_at < until,
                   of_village(Case.village_id, townships)))


def period_figures(session: Session, since: dt.datetime, until: dt.datetime,
                   townships: Collection[int] | None = None) -> Figures:
    """The figures for ``[since, until)`` in ``townships`` (None: everywhere), counted by
    the database: a year of a county's ratings and closed tips, fetched row by row, cost the
    statistics page 20 ms (issue 19)."""
    figures = Figures()
    for answer_, n in session.execute(
            select(Rating.answer, func.count()).join(Case, Case.id == Rating.case_id)
            .where(Rating.created_at >= since, Rating.created_at < until,
                   of_village(Case.village_id, townships))
            .group_by(Rating.answer)):
        _count(figures, answer_, n)
    closed = _closed_tips(since, until, townships).subquery()
    tips, rated = session.execute(select(
        func.count(), func.coalesce(func.sum(case((closed.c[2], 1), else_=0)), 0))).one()
    figures.closed_tips, figures.followed_up = int(tips), int(rated)
    return figures


def department_figures(session: Session, since: dt.datetime, until: dt.datetime,
                       townships: Collection[int] | None = None) -> dict[int, Figures]:
    """The figures per department leading the rated case (as the review counts leads)."""
    rows: dict[int, Figures] = defaultdict(Figures)
    for _, department_id, answer_ in session.execute(
            select(Rating.id, Assignment.department_id, Rating.answer).distinct()
            .join(Case, Case.id == Rating.case_id)
            .join(Assignment, Assignment.case_id == Case.id)
            .where(leads.is_lead(Assignment), Rating.created_at >= since,
                   Rating.created_at < until, of_village(Case.village_id, townships))):
        _count(rows[department_id], answer_)
    closed = _closed_tips(since, until, townships).subquery()
    for _, department_id, was_rated in session.execute(
            select(closed.c[0], Assignment.department_id, closed.c[2]).distinct()
            .join(Assignment, Assignment.case_id == closed.c[1])
            .where(leads.is_lead(Assignment))):
        rows[department_id].closed_tips += 1
        rows[department_id].followed_up += bool(was_rated)
    return dict(rows)
