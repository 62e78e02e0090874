"""The follow-up rating (回访/评价): who may rate, the links, the supervisor's handling of a
不满意, and the satisfaction figures."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.clock import utcnow
from portal.domain.enums import (
    CaseOutcome,
    CaseStatus,
    MessageDirection,
    RatingAnswer,
    RatingSource,
    TipStatus,
)
from portal.domain.models import Case, Message, Tip
from portal.domain.reporting import rating, reporter, tracking
from portal.domain.supervision import review
from tests import factories
from tests.domain.linkage_helpers import moderator, officer, supervisor
from tests.domain.supervision_helpers import case_at

pytestmark = pytest.mark.usefixtures("app")

KEY = "test-receipt-key-long-enough-0123456789abcdef"
S, BASIC, NO = RatingAnswer.SATISFIED, RatingAnswer.BASICALLY, RatingAnswer.DISSATISFIED


def tip_of(session: Session, case: Case, status: TipStatus = TipStatus.ACCEPTED) -> Tip:
    return factories.make_tip(session, case_id=case.id, status=status,
                              decided_at=case.created_at, village=case.village)


def closed(session: Session, stage: str = "closed") -> tuple[Case, Tip]:
    """A case taken to closure (``unfounded``: closed as unfounded) and a tip on it."""
    case = case_at(session, stage)
    return case, tip_of(session, case)


def test_only_a_closed_case_s_tips_may_rate_and_each_once(db_session: Session) -> None:
    case = case_at(db_session, "rectifying")
    tip = tip_of(db_session, case)
    with pytest.raises(rating.RatingRefused, match="办结后"):
        rating.rate(db_session, tip, S, "", RatingSource.TRACK)
    case, tip = closed(db_session)
    merged = tip_of(db_session, case, TipStatus.MERGED)
    assert rating.may_rate(db_session, tip)
    rating.rate(db_session, tip, BASIC, "  还行 ", RatingSource.TRACK)
    # Merged reports each rate; the same tip never twice.
    rating.rate(db_session, merged, S, "", RatingSource.TRACK)
    with pytest.raises(rating.RatingRefused, match="已评价"):
        rating.rate(db_session, tip, NO, "", RatingSource.TRACK)
    assert rating.rating_of(db_session, tip).comment == "还行"
    assert not rating.may_rate(db_session, tip)


def test_an_anonymous_tip_rates_with_no_identity(db_session: Session) -> None:
    case, tip = closed(db_session)
    assert tip.reporter_name_enc is None and tip.reporter_phone_enc is None
    given = rating.rate(db_session, tip, S, "", RatingSource.TRACK)
    assert given.case_id == case.id and given.recorded_by_id is None


def test_a_link_rates_once_and_a_used_an_expired_and_a_wrong_link_are_refused_alike(
        db_session: Session) -> None:
    _, tip = closed(db_session)
    _, other = closed(db_session)
    token = rating.issue_token(db_session, tip, key=KEY)
    rating.rate_by_link(db_session, token, S, "", key=KEY)
    assert rating.rating_of(db_session, tip).source is RatingSource.SMS_LINK
    old = rating.issue_token(db_session, other, key=KEY,
                             now=utcnow() - dt.timedelta(days=rating.LINK_DAYS + 1))
    messages = set()
    for bad in (token, old, "not-a-token"):
        with pytest.raises(rating.RatingRefused) as exc:
            rating.rate_by_link(db_session, bad, S, "", key=KEY)
        messages.add(str(exc.value))
    assert messages == {rating.LINK_REFUSED}
    assert rating.rating_of(db_session, other) is None


def test_staff_record_a_phone_follow_up_with_who_called(db_session: Session) -> None:
    case, tip = closed(db_session)
    with pytest.raises(rating.RatingRefused, match="电话回访"):
        rating.record_phone_follow_up(db_session, tip, S, "", actor=officer(db_session, "FIRE"))
    assert rating.phone_follow_up_tips(db_session, case) == [tip]
    mod = moderator(db_session)
    given = rating.record_phone_follow_up(db_session, tip, NO, "还在堆放", actor=mod)
    assert (given.source, given.recorded_by_id) == (RatingSource.PHONE, mod.id)
    assert rating.phone_follow_up_tips(db_session, case) == []


def test_a_dissatisfied_rating_reaches_the_supervisor_and_reopening_puts_the_case_back(
        db_session: Session) -> None:
    case, tip = closed(db_session)
    given = rating.rate(db_session, tip, NO, "隐患还在", RatingSource.TRACK)
    assert rating.awaiting_supervisor(db_session) == [given]
    deadline = clock.local_today() + dt.timedelta(days=10)
    with pytest.raises(rating.RatingRefused, match="督办人员"):
        rating.reopen(db_session, given, actor=moderator(db_session), reason="x",
                      new_deadline=deadline)
    boss = supervisor(db_session)
    with pytest.raises(rating.RatingRefused, match="整改期限"):
        rating.reopen(db_session, given, actor=boss, reason="复核属实", new_deadline=None)
    rating.reopen(db_session, given, actor=boss, reason="复核属实", new_deadline=deadline)
    assert case.status is CaseStatus.RECTIFYING and case.rectify_by == deadline
    assert case.closed_at is None and case.outcome is None
    assert rating.awaiting_supervisor(db_session) == []
    # The reporter reads it: a message, the headline, the timeline, what happens next.
    told = db_session.scalars(select(Message).where(
        Message.tip_id == tip.id, Message.direction == MessageDirection.TO_REPORTER)).all()
    assert any("重新整改" in m.body and f"{deadline.day}日" in m.body for m in told)
    assert tracking.status_summary(db_session, tip)[0] == "正在整改"
    assert [t for _, t in rating.reporter_entries(db_session, tip)] == [
        "您对办理结果的评价：不满意", "根据您的评价，案件重新办理"]
    assert "重新办理" in (rating.next_step(db_session, tip) or "")
    with pytest.raises(rating.RatingRefused, match="已处理"):
        rating.answer(db_session, given, actor=boss, reason="x")


def test_a_case_closed_as_unfounded_goes_back_to_checking(db_session: Session) -> None:
    case, tip = closed(db_session, "unfounded")
    assert case.outcome is CaseOutcome.UNFOUNDED
    given = rating.rate(db_session, tip, NO, "明明有", RatingSource.TRACK)
    rating.reopen(db_session, given, actor=supervisor(db_session), reason="再看看",
                  new_deadline=None)
    assert case.status is CaseStatus.CHECKING and case.checked_at is None
    assert case.check_by is not None and case.check_by > utcnow()
    assert tracking.status_summary(db_session, tip)[0] == "正在核查"
    # The timeline says what happened: checked again, not "the hazard came back".
    progress = [text for _, text in reporter.reporter_progress(db_session, tip)]
    assert "根据您的评价，重新核查" in progress and "回头看发现隐患反弹，重新整改" not in progress


def test_the_supervisor_answers_with_a_reason_the_reporter_reads(db_session: Session) -> None:
    case, tip = closed(db_session)
    given = rating.rate(db_session, tip, NO, "", RatingSource.TRACK)
    boss = supervisor(db_session)
    with pytest.raises(rating.RatingRefused, match="理由"):
        rating.answer(db_session, given, actor=boss, reason=" ")
    rating.answer(db_session, given, actor=boss, reason="复查照片显示已清理")
    assert case.status is CaseStatus.CLOSED
    assert given.handling == rating.ANSWERED
    bodies = [m.body for m in db_session.scalars(select(Message).where(
        Message.tip_id == tip.id))]
    assert any("复查照片显示已清理" in b for b in bodies)
    assert "答复" in (rating.next_step(db_session, tip) or "")


def test_satisfaction_and_follow_up_rates(db_session: Session) -> None:
    _, a = closed(db_session)
    case_b, b = closed(db_session)
    c = tip_of(db_session, case_b, TipStatus.MERGED)
    rating.rate(db_session, a, S, "", RatingSource.TRACK)
    rating.rate(db_session, b, NO, "", RatingSource.TRACK)
    today = clock.local_today()
    since = dt.datetime.combine(today, dt.time(0), tzinfo=dt.UTC) - dt.timedelta(days=1)
    until = since + dt.timedelta(days=3)
    figures = rating.period_figures(db_session, since, until)
    assert (figures.rated, figures.satisfied, figures.dissatisfied) == (2, 1, 1)
    assert figures.satisfaction_pct == 50.0
    assert (figures.closed_tips, figures.followed_up) == (3, 2)
    assert figures.follow_up_pct == 66.7
    assert c.id  # the merged tip counts as closed, not rated yet
    # The department review counts the 不满意 for the department that led the case.
    rows = {r.department.code: r for r in review.review(
        db_session, today - dt.timedelta(days=1), today + dt.timedelta(days=1))}
    assert (rows["FIRE"].rated, rows["FIRE"].satisfaction_pct) == (2, 50.0)
    assert rows["FIRE"].follow_up_pct == 66.7


def test_stats_and_bulletins_carry_the_figures(db_session: Session) -> None:
    from zoneinfo import ZoneInfo

    from portal.domain.disclosure import statistics
    from portal.domain.supervision import bulletins

    _, a = closed(db_session)
    _, b = closed(db_session)
    rating.rate(db_session, a, BASIC, "", RatingSource.TRACK)
    rating.rate(db_session, b, NO, "", RatingSource.PHONE, recorded_by=moderator(db_session))
    today = clock.local_today()
    shown = statistics.satisfaction(db_session, today, ZoneInfo("Asia/Shanghai"))
    assert (shown.satisfaction_pct, shown.follow_up_pct) == (50.0, 100.0)
    figures = bulletins.period_figures(db_session, today.replace(day=1), today)
    assert (figures["rated"], figures["satisfaction_pct"], figures["follow_up_pct"]) == (
        2, 50.0, 100.0)
    assert "满意率 50.0%" in bulletins.draft_text(figures, "阳高乡")
