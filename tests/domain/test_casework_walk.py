"""Issue 17's walk, at the domain: the steps that broke in a real walk through the casework.

A published tip photo is public; the department reads the moderator's summary, pre-filled from
the redacted, masked description; a resident's reply marks the tip in the queue; departments
sign for and answer urging notices; a bulletin's figures are all from its own period; a
department that checked on time has an on-time rate.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.casework import routing, workflow
from portal.domain.casework.events import WorkflowError
from portal.domain.clock import utcnow
from portal.domain.disclosure import publication
from portal.domain.enums import (
    AttachmentKind,
    CaseStatus,
    MessageDirection,
    TipStatus,
)
from portal.domain.models import Attachment, AuditLog, Case, Message, Tip
from portal.domain.supervision import bulletins, review, urging
from portal.domain.vetting import moderation
from portal.domain.vetting.queue import QueueFilter, pending_tips
from tests import factories
from tests.domain.linkage_helpers import moderator, new_case, officer, supervisor
from tests.domain.supervision_helpers import case_at

pytestmark = pytest.mark.usefixtures("app")


def _tip_for(session: Session, case: Case, **values) -> Tip:
    return factories.make_tip(session, status=TipStatus.ACCEPTED, case_id=case.id,
                              decided_at=utcnow(), **values)


def _photo(session: Session, name: str, **values) -> Attachment:
    photo = Attachment(stored_name=name * 32, kind=AttachmentKind.PHOTO,
                       content_type="image/jpeg", size_bytes=1, sha256=name * 64, **values)
    session.add(photo)
    session.flush()
    return photo


# ------------------------------------------------------------ 1. a published tip photo


def test_a_tip_photo_published_on_a_disclosed_case_is_public(db_session: Session) -> None:
    case = case_at(db_session, "rectifying", unit_name="照片公开饭店")
    tip = _tip_for(db_session, case)
    shown = _photo(db_session, "a", tip_id=tip.id)
    kept_inside = _photo(db_session, "b", tip_id=tip.id)
    publication.set_public_photos(db_session, case, [shown.id], actor=moderator(db_session))
    assert not publication.is_public_photo(db_session, shown), "not before disclosure"
    publication.disclose_case(db_session, case, actor=moderator(db_session),
                              public_summary="后厨堆放杂物")
    assert publication.is_public_photo(db_session, shown)
    assert not publication.is_public_photo(db_session, kept_inside), "not ticked"
    # The unit page links exactly the photos the rule serves.
    page = publication.full_public_case(db_session, case, clock.local_today())
    assert [p.stored_name for p in page.photos] == [shown.stored_name]


def test_a_withheld_or_blurred_original_tip_photo_is_never_public(db_session: Session) -> None:
    case = case_at(db_session, "rectifying", unit_name="照片屏蔽饭店")
    tip = _tip_for(db_session, case)
    withheld = _photo(db_session, "c", tip_id=tip.id, public=True, withheld=True)
    original = _photo(db_session, "d", tip_id=tip.id, public=True)
    _photo(db_session, "e", tip_id=tip.id, derived_from_id=original.id)
    publication.disclose_case(db_session, case, actor=moderator(db_session),
                              public_summary="后厨堆放杂物")
    assert not publication.is_public_photo(db_session, withheld)
    assert not publication.is_public_photo(db_session, original)


def test_a_tip_photo_stops_being_public_when_the_disclosure_is_withdrawn(
    db_session: Session,
) -> None:
    case = case_at(db_session, "rectifying", unit_name="撤回公开饭店")
    photo = _photo(db_session, "f", tip_id=_tip_for(db_session, case).id)
    mod = moderator(db_session)
    publication.set_public_photos(db_session, case, [photo.id], actor=mod)
    publication.disclose_case(db_session, case, actor=mod, public_summary="后厨堆放杂物")
    publication.withdraw_disclosure(db_session, case, actor=mod, reason="核实有误")
    assert not publication.is_public_photo(db_session, photo)


# ------------------------------------------------------------ 2. what the department reads


def test_the_draft_summary_is_the_redacted_masked_description(db_session: Session) -> None:
    case = new_case(db_session, unit_name="摘要饭店")
    tip = _tip_for(db_session, case,
                   description="老板王五电话13812345678，后门被堵，车牌晋D·54321。")
    moderation.redact_description(db_session, tip, "老板电话13812345678，后门被堵，车牌晋D·54321。",
                                  "删去人名", actor=moderator(db_session))
    draft = routing.draft_department_summary(db_session, case)
    assert "后门被堵" in draft
    assert "王五" not in draft, "the moderator's redaction holds"
    assert "13812345678" not in draft and "138********" in draft
    assert "54321" not in draft


def test_a_summary_the_moderator_wrote_is_the_draft(db_session: Session) -> None:
    case = new_case(db_session, internal_summary="后门出口堵塞（审核员摘要）")
    _tip_for(db_session, case, description="举报原文")
    assert routing.draft_department_summary(db_session, case) == "后门出口堵塞（审核员摘要）"


def test_routing_stores_the_summary_the_moderator_submitted(db_session: Session) -> None:
    case = new_case(db_session)
    _tip_for(db_session, case, description="原文：后门被堵")
    routing.route_case(db_session, case, lead=factories.department(db_session, "FIRE"),
                       actor=moderator(db_session), override_reason="测试指定",
                       summary="  请核查后门安全出口是否堵塞。 ")
    assert case.internal_summary == "请核查后门安全出口是否堵塞。"
    assert case.status is CaseStatus.ROUTED


def test_routing_refuses_an_empty_summary(db_session: Session) -> None:
    case = new_case(db_session)
    with pytest.raises(WorkflowError, match="情况摘要"):
        routing.route_case(db_session, case, lead=factories.department(db_session, "FIRE"),
                           actor=moderator(db_session), override_reason="测试指定",
                           summary="   ")
    assert case.status is CaseStatus.TRIAGE


# ------------------------------------------------------------ 3. the resident's reply


def _message(session: Session, tip: Tip, direction: MessageDirection, minutes: int) -> None:
    session.add(Message(tip_id=tip.id, direction=direction, body="……",
                        created_at=utcnow() - dt.timedelta(minutes=minutes)))
    session.flush()


def test_a_reply_marks_the_tip_and_sorts_it_up(db_session: Session) -> None:
    older = factories.make_tip(db_session, unit_name="先到的商店",
                               created_at=utcnow() - dt.timedelta(hours=5))
    asked = factories.make_tip(db_session, unit_name="已回复的商店",
                               created_at=utcnow() - dt.timedelta(hours=3))
    answered = factories.make_tip(db_session, unit_name="已答复居民的商店",
                                  created_at=utcnow() - dt.timedelta(hours=4))
    _message(db_session, asked, MessageDirection.TO_REPORTER, 60)
    _message(db_session, asked, MessageDirection.FROM_REPORTER, 30)
    # Replied, then the office wrote back: nothing waits for the office any more.
    _message(db_session, answered, MessageDirection.FROM_REPORTER, 50)
    _message(db_session, answered, MessageDirection.TO_REPORTER, 20)
    rows = [r for r in pending_tips(db_session, QueueFilter()).items
            if r.tip.id in {older.id, asked.id, answered.id}]
    assert [r.tip.id for r in rows] == [asked.id, older.id, answered.id]
    assert [r.replied for r in rows] == [True, False, False]


# ------------------------------------------------------------ 4. urging notices


@pytest.fixture
def notice(db_session: Session):
    late = case_at(db_session, "routed", routed_days_ago=10, unit_name="督促超市")
    return urging.issue_notice(db_session, factories.department(db_session, "FIRE"), [late],
                               actor=supervisor(db_session), text="请三日内办结。")


def _audit(session: Session, action: str) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_the_department_signs_for_a_notice_once(db_session: Session, notice) -> None:
    fire = officer(db_session, "FIRE")
    assert urging.notice_actions(notice, fire) == urging.NoticeActions(True, True)
    urging.acknowledge_notice(db_session, notice, actor=fire)
    assert notice.acknowledged_at is not None and notice.acknowledged_by_id == fire.id
    assert len(_audit(db_session, "urging.acknowledge")) == 1
    assert urging.notice_actions(notice, fire) == urging.NoticeActions(False, True)
    with pytest.raises(WorkflowError, match="已于"):
        urging.acknowledge_notice(db_session, notice, actor=fire)


def test_answering_signs_for_the_notice_and_happens_once(db_session: Session, notice) -> None:
    fire = officer(db_session, "FIRE")
    with pytest.raises(WorkflowError, match="回复内容"):
        urging.answer_notice(db_session, notice, "  ", actor=fire)
    urging.answer_notice(db_session, notice, "已于今日完成核查。", actor=fire)
    assert notice.answer == "已于今日完成核查。" and notice.answered_by_id == fire.id
    assert notice.acknowledged_at == notice.answered_at, "answering signs for it"
    [row] = _audit(db_session, "urging.answer")
    assert row.after["answer"] == "已于今日完成核查。"
    with pytest.raises(WorkflowError, match="已于"):
        urging.answer_notice(db_session, notice, "再说一遍", actor=fire)
    assert notice.answer == "已于今日完成核查。"


@pytest.mark.parametrize("who", ["police officer", "supervisor", "moderator"])
def test_only_an_officer_of_the_notices_department_signs_and_answers(
    db_session: Session, notice, who: str,
) -> None:
    actor = {"police officer": lambda: officer(db_session, "POLICE"),
             "supervisor": lambda: supervisor(db_session),
             "moderator": lambda: moderator(db_session)}[who]()
    assert urging.notice_actions(notice, actor) == urging.NoticeActions(False, False)
    with pytest.raises(WorkflowError):
        urging.acknowledge_notice(db_session, notice, actor=actor)
    with pytest.raises(WorkflowError):
        urging.answer_notice(db_session, notice, "回复", actor=actor)
    assert notice.acknowledged_at is None and notice.answer == ""


# ------------------------------------------------------------ 5. one period per bulletin


def test_a_bulletin_names_only_cases_of_its_own_period(db_session: Session) -> None:
    """Drafted on 1 December about November: a case opened on 1 December and overdue that
    day is not November's, and its department is not named."""
    tz = "Asia/Shanghai"
    december_first = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)  # 14:00 local
    november = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    urgent = new_case(db_session, "blocked_escape", unit_name="十二月饭店",
                      created_at=dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC))  # 1 Dec local
    routing.route_case(db_session, urgent, lead=factories.department(db_session, "POLICE"),
                       actor=moderator(db_session), override_reason="测试指定",
                       now=dt.datetime(2026, 11, 30, 17, 0, tzinfo=dt.UTC), tz=tz)
    urgent.check_by = december_first - dt.timedelta(hours=2)  # overdue on 1 December
    db_session.flush()
    figures = bulletins.period_figures(db_session, *november, december_first, tz)
    police = factories.department(db_session, "POLICE").name
    assert all(row["department"] != police for row in figures["overdue_by_department"])
    assert figures["overdue"] == 0 and figures["cases_opened"] == 0
    assert police not in bulletins.draft_text(figures, "阳高乡")
    assert figures["as_of"] == dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.UTC).isoformat()


def test_a_bulletin_counts_a_case_overdue_at_the_periods_end(db_session: Session) -> None:
    tz = "Asia/Shanghai"
    late = new_case(db_session, unit_name="十一月超期商店",
                    created_at=dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC))
    routing.route_case(db_session, late, lead=factories.department(db_session, "FIRE"),
                       actor=moderator(db_session), override_reason="测试指定",
                       now=dt.datetime(2026, 11, 10, 2, 0, tzinfo=dt.UTC), tz=tz)
    figures = bulletins.period_figures(db_session, dt.date(2026, 11, 1),
                                       dt.date(2026, 11, 30),
                                       dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC), tz)
    fire = factories.department(db_session, "FIRE").name
    assert figures["overdue_by_department"] == [{"department": fire, "count": 1}]


# ------------------------------------------------------------ 6. on time is a figure


def test_a_department_that_checked_on_time_has_an_on_time_rate(db_session: Session) -> None:
    """Routed and checked today; the check was due in three working days, after the period
    (which ends today): the check was done, on time, in this period."""
    case = case_at(db_session, "checking", unit_name="按时核查商店")
    fire = officer(db_session, "FIRE")
    workflow.record_check(db_session, case, actor=fire, confirmed=True, findings="属实")
    assert case.check_by is not None and case.check_by > utcnow()
    today = clock.local_today()
    rows = {r.department.code: r for r in review.review(db_session, today.replace(day=1),
                                                         today)}
    entry = rows["FIRE"]
    assert (entry.checked_on_time, entry.checks_due) == (1, 1)
    assert entry.checked_on_time_pct == 100.0


def test_a_rectification_done_early_counts_in_its_period(db_session: Session) -> None:
    case = case_at(db_session, "rectifying", unit_name="提前整改商店")
    assert case.rectify_by is not None and case.rectify_by > clock.local_today()
    workflow.report_rectified(db_session, case, actor=officer(db_session, "FIRE"),
                              report="已整改")
    today = clock.local_today()
    entry = {r.department.code: r for r in review.review(
        db_session, today.replace(day=1), today)}["FIRE"]
    assert (entry.rectified_on_time, entry.rectifications_due) == (1, 1)
    assert entry.rectified_on_time_pct == 100.0

