"""The case workflow: the allowed paths, the refused moves, the trail, department isolation."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import WRITE_OPTION, database
from portal.domain.casework import routing, workflow
from portal.domain.casework.workflow import WorkflowError
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    MessageDirection,
    Role,
    TipStatus,
)
from portal.domain.models import (
    Assignment,
    AuditLog,
    Case,
    CaseEvent,
    Message,
    Notification,
    User,
)
from portal.domain.reporting import reporter
from tests import factories
from tests.conftest import separate_database
from tests.domain.linkage_helpers import (
    assist,
    in_days,
    kinds,
    lead,
    moderator,
    new_case,
    officer,
    routed_case,
    supervisor,
)

pytestmark = pytest.mark.usefixtures("app")
K = CaseEventKind


def checking_case(session: Session, category: str = "blocked_escape"):
    case = routed_case(session, category)
    workflow.accept_assignment(session, lead(case), actor=officer(session, "FIRE"))
    return case


def rectifying_case(session: Session):
    case = checking_case(session)
    workflow.record_check(session, case, actor=officer(session, "FIRE"), confirmed=True,
                          findings="二楼安全出口堆放纸箱")
    return case


def test_the_full_path_from_routing_to_closure(db_session: Session) -> None:
    fire, police = officer(db_session, "FIRE"), officer(db_session, "POLICE")
    tip = factories.make_tip(db_session, category=factories.category(db_session,
                                                                      "blocked_escape"))
    case = routed_case(db_session, "blocked_escape")
    tip.case_id, tip.status, tip.decided_at = case.id, TipStatus.ACCEPTED, case.created_at
    db_session.flush()
    assert case.status is CaseStatus.ROUTED

    workflow.accept_assignment(db_session, lead(case), actor=fire)
    assert case.status is CaseStatus.CHECKING
    assert lead(case).state is AssignmentState.ACCEPTED and lead(case).accepted_by_id == fire.id
    workflow.accept_assignment(db_session, assist(case, "POLICE"), actor=police)
    assert case.status is CaseStatus.CHECKING

    workflow.record_check(db_session, case, actor=fire, confirmed=True,
                          findings="二楼安全出口堆放纸箱", public_text="安全出口被杂物堵塞")
    assert case.status is CaseStatus.RECTIFYING
    assert case.checked_at is not None and case.confirmed_at is not None

    workflow.set_rectification(db_session, case, actor=fire, deadline=in_days(5),
                               notice_no="阳消限字〔2026〕第12号")
    assert case.rectify_by == in_days(5) and case.rectify_notice_no.endswith("第12号")
    workflow.post_progress(db_session, case, actor=fire, internal_text="已约谈负责人",
                           public_text="已督促单位清理")
    workflow.post_progress(db_session, case, actor=police, internal_text="配合巡查")

    workflow.request_extension(db_session, case, actor=fire, new_date=in_days(10),
                               reason="需采购防火门")
    assert workflow.pending_extension(case) is not None
    workflow.decide_extension(db_session, case, actor=supervisor(db_session), approve=True)
    assert case.rectify_by == in_days(10) and workflow.pending_extension(case) is None

    workflow.report_rectified(db_session, case, actor=fire, report="纸箱已清走，出口畅通")
    assert case.status is CaseStatus.RECTIFIED and case.rectified_at is not None

    workflow.approve_closure(db_session, case, actor=moderator(db_session),
                             follow_up_by=in_days(30))
    assert case.status is CaseStatus.CLOSED and case.outcome is CaseOutcome.RECTIFIED
    assert case.closed_at is not None and case.follow_up_by == in_days(30)
    assert {a.state for a in case.assignments} == {AssignmentState.COMPLETED}

    assert kinds(case) == [
        K.ROUTED, K.ACCEPTED, K.ACCEPTED, K.CHECK_CONFIRMED, K.DEADLINE_SET, K.PROGRESS,
        K.PROGRESS, K.EXTENSION_REQUESTED, K.EXTENSION_DECIDED, K.RECTIFICATION_REPORTED,
        K.CLOSED,
    ]
    assert [e.department.code if e.department else None for e in case.events[5:7]] == [
        "FIRE", "POLICE"]
    # Every step is in the audit chain.
    actions = db_session.scalars(select(AuditLog.action).where(
        AuditLog.object_type == "case", AuditLog.object_id == str(case.id))
        .order_by(AuditLog.id)).all()
    assert actions == [f"case.{k.value}" for k in kinds(case)]
    # The reporter is told the outcome.
    [message] = db_session.scalars(select(Message).where(Message.tip_id == tip.id)).all()
    assert message.direction is MessageDirection.TO_REPORTER
    assert "已整改" in message.body and "消防" in message.body


def test_an_unfounded_check_waits_for_review_then_closes_telling_the_reason(
        db_session: Session) -> None:
    case = checking_case(db_session)
    tip = factories.make_tip(db_session, case_id=case.id, status=TipStatus.ACCEPTED,
                             decided_at=case.created_at)
    fire = officer(db_session, "FIRE")
    workflow.record_check(db_session, case, actor=fire, confirmed=False,
                          findings="现场出口畅通，未见堆物",
                          public_text="现场安全出口畅通，未发现堆放杂物")
    # Issue 20: an officer's "unfounded" no longer closes the case with no one looking.
    assert case.status is CaseStatus.UNFOUNDED and case.outcome is None
    assert case.confirmed_at is None and case.checked_at is not None
    assert kinds(case)[-1] is K.CHECK_UNFOUNDED
    assert tip.messages == []
    with pytest.raises(WorkflowError, match="审核核查不属实"):
        workflow.approve_unfounded(db_session, case, actor=fire)
    workflow.approve_unfounded(db_session, case, actor=supervisor(db_session))
    assert case.status is CaseStatus.CLOSED and case.outcome is CaseOutcome.UNFOUNDED
    assert kinds(case)[-1] is K.UNFOUNDED_APPROVED
    db_session.expire(tip, ["messages"])
    assert {a.state for a in case.assignments} <= {AssignmentState.COMPLETED,
                                                   AssignmentState.WITHDRAWN}
    assert "不属实" in tip.messages[-1].body
    assert "理由：现场安全出口畅通，未发现堆放杂物" in tip.messages[-1].body
    # An unfounded case has nothing to follow up.
    with pytest.raises(WorkflowError, match="回头看"):
        workflow.follow_up(db_session, case, actor=supervisor(db_session), still_ok=True,
                           findings="-")


def test_a_refused_unfounded_check_goes_back_to_the_lead_to_check_again(
        db_session: Session) -> None:
    case = checking_case(db_session)
    fire = officer(db_session, "FIRE")
    workflow.record_check(db_session, case, actor=fire, confirmed=False, findings="未见")
    with pytest.raises(WorkflowError, match="不予通过的理由"):
        workflow.refuse_unfounded(db_session, case, actor=supervisor(db_session), reason=" ")
    workflow.refuse_unfounded(db_session, case, actor=supervisor(db_session),
                              reason="照片显示二楼通道仍有堆物")
    assert case.status is CaseStatus.CHECKING and case.checked_at is None
    assert kinds(case)[-1] is K.UNFOUNDED_REFUSED
    again = db_session.scalar(select(Notification).where(Notification.kind == "sent_back"))
    assert again.recipient_department_id == lead(case).department_id
    workflow.record_check(db_session, case, actor=fire, confirmed=True, findings="属实")
    assert case.status is CaseStatus.RECTIFYING


def test_send_back_then_close(db_session: Session) -> None:
    case = rectifying_case(db_session)
    fire = officer(db_session, "FIRE")
    workflow.report_rectified(db_session, case, actor=fire, report="已清理")
    workflow.send_back(db_session, case, actor=supervisor(db_session), reason="仍有杂物")
    assert case.status is CaseStatus.RECTIFYING and case.rectified_at is None
    sent_back = db_session.scalar(select(Notification).where(Notification.kind == "sent_back"))
    assert sent_back.recipient_department_id == lead(case).department_id
    workflow.report_rectified(db_session, case, actor=fire, report="已彻底清理")
    workflow.approve_closure(db_session, case, actor=supervisor(db_session))
    assert kinds(case)[-4:] == [K.RECTIFICATION_REPORTED, K.SENT_BACK,
                                K.RECTIFICATION_REPORTED, K.CLOSED]


def test_follow_up_finds_it_still_rectified_or_reopens_it(db_session: Session) -> None:
    case = rectifying_case(db_session)
    fire = officer(db_session, "FIRE")
    workflow.report_rectified(db_session, case, actor=fire, report="已清理")
    workflow.approve_closure(db_session, case, actor=moderator(db_session),
                             follow_up_by=in_days(30))
    workflow.follow_up(db_session, case, actor=fire, still_ok=True, findings="出口保持畅通")
    assert case.status is CaseStatus.CLOSED and case.follow_up_by is None

    workflow.follow_up(db_session, case, actor=supervisor(db_session), still_ok=False,
                       findings="出口又被堵塞", new_deadline=in_days(3))
    assert case.status is CaseStatus.RECTIFYING
    assert case.closed_at is None and case.outcome is None and case.rectify_by == in_days(3)
    reopened = lead(case)
    assert reopened.department.code == "FIRE" and reopened.state is AssignmentState.PENDING
    assert len([a for a in case.assignments if a.role is AssignmentRole.LEAD]) == 2
    # The department signs for it again and takes it to closure a second time.
    workflow.accept_assignment(db_session, reopened, actor=fire)
    assert case.status is CaseStatus.RECTIFYING
    workflow.report_rectified(db_session, case, actor=fire, report="再次清理并加装监控")
    workflow.approve_closure(db_session, case, actor=moderator(db_session))
    assert kinds(case)[-6:] == [K.CLOSED, K.FOLLOW_UP_OK, K.REOPENED, K.ACCEPTED,
                                K.RECTIFICATION_REPORTED, K.CLOSED]
    tip = factories.make_tip(db_session, case_id=case.id, status=TipStatus.ACCEPTED,
                             decided_at=case.created_at)
    texts = [t for _, t in reporter.reporter_progress(db_session, tip)]
    assert texts[-6:] == ["已办结：隐患已整改到位", "回头看：整改保持",
                          "回头看发现隐患反弹，重新整改", "阳高乡靠前驻防消防队已签收，正在整改",
                          "单位已报告整改完成，等待验收", "已办结：隐患已整改到位"]


ALL_MOVES = [(frm, to) for frm, to in itertools.product(CaseStatus, CaseStatus)
             if (frm, to) not in workflow.MOVES]


@pytest.mark.parametrize(("frm", "to"), ALL_MOVES, ids=[f"{f}->{t}" for f, t in ALL_MOVES])
def test_every_move_outside_the_workflow_is_refused(db_session: Session, frm: CaseStatus,
                                                    to: CaseStatus) -> None:
    case, actor = new_case(db_session), moderator(db_session)
    # In memory only: the refusal must come before anything is written.
    with db_session.no_autoflush:
        case.status = frm
        with pytest.raises(WorkflowError) as exc:
            workflow.transition(db_session, case, to, actor=actor)
        assert case.events == []
        case.status = CaseStatus.TRIAGE
    assert f"案件当前为“{frm.label}”，不能改为“{to.label}”" in str(exc.value)


def test_the_allowed_moves_are_those_of_the_design() -> None:
    S = CaseStatus
    assert set(workflow.MOVES) == {
        (S.TRIAGE, S.ROUTED), (S.ROUTED, S.TRIAGE), (S.ROUTED, S.CHECKING),
        (S.CHECKING, S.RECTIFYING), (S.CHECKING, S.UNFOUNDED), (S.UNFOUNDED, S.CLOSED),
        (S.UNFOUNDED, S.CHECKING), (S.RECTIFYING, S.RECTIFIED),
        (S.RECTIFIED, S.RECTIFYING), (S.RECTIFIED, S.CLOSED), (S.CLOSED, S.RECTIFYING),
        (S.CLOSED, S.CHECKING),
    }


def test_named_steps_refuse_the_wrong_state(db_session: Session) -> None:
    fire, mod = officer(db_session, "FIRE"), moderator(db_session)
    case = routed_case(db_session, "blocked_escape")
    with pytest.raises(WorkflowError, match="已派单"):
        workflow.record_check(db_session, case, actor=fire, confirmed=True, findings="x")
    workflow.accept_assignment(db_session, lead(case), actor=fire)
    with pytest.raises(WorkflowError, match="核查中"):
        workflow.report_rectified(db_session, case, actor=fire, report="x")
    with pytest.raises(WorkflowError, match="核查中"):
        workflow.set_rectification(db_session, case, actor=fire, deadline=in_days(3))
    with pytest.raises(WorkflowError, match="核查中"):
        workflow.approve_closure(db_session, case, actor=mod)
    with pytest.raises(WorkflowError, match="核查中"):
        workflow.follow_up(db_session, case, actor=mod, still_ok=True, findings="x")
    workflow.record_check(db_session, case, actor=fire, confirmed=True, findings="属实")
    with pytest.raises(WorkflowError, match="整改中"):
        workflow.send_back(db_session, case, actor=mod, reason="x")
    with pytest.raises(WorkflowError, match="没有等待审批"):
        workflow.decide_extension(db_session, case, actor=mod, approve=True)
    with pytest.raises(WorkflowError, match="无需重复签收"):
        workflow.accept_assignment(db_session, lead(case), actor=fire)
    with pytest.raises(WorkflowError, match="整改期限"):
        workflow.set_rectification(db_session, case, actor=fire, deadline=in_days(-1))
    workflow.set_rectification(db_session, case, actor=fire, deadline=in_days(3))
    with pytest.raises(WorkflowError, match="延期"):
        workflow.set_rectification(db_session, case, actor=fire, deadline=in_days(9))
    with pytest.raises(WorkflowError, match="晚于"):
        workflow.request_extension(db_session, case, actor=fire, new_date=in_days(2),
                                   reason="x")
    with pytest.raises(WorkflowError, match="理由"):
        workflow.request_extension(db_session, case, actor=fire, new_date=in_days(9),
                                   reason=" ")


def test_a_refused_extension_keeps_the_deadline(db_session: Session) -> None:
    case = rectifying_case(db_session)
    fire = officer(db_session, "FIRE")
    workflow.set_rectification(db_session, case, actor=fire, deadline=in_days(3))
    workflow.request_extension(db_session, case, actor=fire, new_date=in_days(20),
                               reason="资金不足")
    with pytest.raises(WorkflowError, match="等待审批"):
        workflow.request_extension(db_session, case, actor=fire, new_date=in_days(30),
                                   reason="再延")
    with pytest.raises(WorkflowError, match="理由"):
        workflow.decide_extension(db_session, case, actor=supervisor(db_session),
                                  approve=False)
    event = workflow.decide_extension(db_session, case, actor=supervisor(db_session),
                                      approve=False, reason="隐患危险，不宜拖延")
    assert case.rectify_by == in_days(3)
    assert event.data["approved"] is False and event.public_text == ""


def test_officers_act_only_for_their_own_department(db_session: Session) -> None:
    case = routed_case(db_session, "blocked_escape")  # FIRE leads, POLICE assists
    police, market = officer(db_session, "POLICE"), officer(db_session, "SCJG")
    with pytest.raises(WorkflowError, match="本部门"):
        workflow.accept_assignment(db_session, lead(case), actor=police)
    with pytest.raises(WorkflowError, match="本部门"):
        workflow.accept_assignment(db_session, lead(case), actor=moderator(db_session))
    with pytest.raises(WorkflowError, match="本部门"):
        workflow.return_assignment(db_session, lead(case), actor=market, reason="不归我管")
    workflow.accept_assignment(db_session, lead(case), actor=officer(db_session, "FIRE"))
    workflow.accept_assignment(db_session, assist(case, "POLICE"), actor=police)
    # The assisting department may post progress but not record the check.
    with pytest.raises(WorkflowError, match="牵头部门"):
        workflow.record_check(db_session, case, actor=police, confirmed=True, findings="x")
    with pytest.raises(WorkflowError, match="承办本案件"):
        workflow.post_progress(db_session, case, actor=market, internal_text="x")
    workflow.post_progress(db_session, case, actor=police, internal_text="已到场配合")
    # Closure is not the department's to approve.
    workflow.record_check(db_session, case, actor=officer(db_session, "FIRE"),
                          confirmed=True, findings="属实")
    workflow.report_rectified(db_session, case, actor=officer(db_session, "FIRE"),
                              report="已整改")
    with pytest.raises(WorkflowError, match="批准销案"):
        workflow.approve_closure(db_session, case, actor=officer(db_session, "FIRE"))


def test_return_and_reroute_keep_the_whole_trail(db_session: Session) -> None:
    case = routed_case(db_session, "blocked_escape")
    first_lead, first_assist = lead(case), assist(case, "POLICE")
    with pytest.raises(WorkflowError, match="退回理由"):
        workflow.return_assignment(db_session, first_lead, actor=officer(db_session, "FIRE"),
                                   reason="")
    workflow.return_assignment(db_session, first_lead, actor=officer(db_session, "FIRE"),
                               reason="地址不在本队辖区")
    assert case.status is CaseStatus.TRIAGE and case.check_by is None
    assert first_lead.state is AssignmentState.RETURNED
    assert first_lead.end_reason == "地址不在本队辖区" and first_lead.ended_at is not None
    assert first_assist.state is AssignmentState.WITHDRAWN
    office_note = db_session.scalar(select(Notification).where(
        Notification.kind == "assignment_returned"))
    assert office_note.recipient_department_id == factories.department(db_session, "XAB").id

    routing.route_case(db_session, case, lead=factories.department(db_session, "POLICE"),
                       actor=moderator(db_session), override_reason="派出所辖区")
    assert case.status is CaseStatus.ROUTED and case.check_by is not None
    assert [(a.department.code, a.state) for a in case.assignments] == [
        ("FIRE", AssignmentState.RETURNED), ("POLICE", AssignmentState.WITHDRAWN),
        ("POLICE", AssignmentState.PENDING)]
    assert kinds(case) == [K.ROUTED, K.RETURNED, K.ROUTED]
    assert "地址不在本队辖区" in case.events[1].internal_text


def test_transfer_keeps_the_trail_and_the_new_department_signs(db_session: Session) -> None:
    case = checking_case(db_session)
    old = lead(case)
    with pytest.raises(WorkflowError, match="已在办理"):
        workflow.transfer_assignment(db_session, old, actor=officer(db_session, "FIRE"),
                                     to_department=factories.department(db_session, "POLICE"),
                                     reason="x")
    new = workflow.transfer_assignment(
        db_session, old, actor=officer(db_session, "FIRE"),
        to_department=factories.department(db_session, "ZFD"), reason="需行政处罚")
    assert old.state is AssignmentState.TRANSFERRED and old.transferred_to_id == new.id
    assert old.end_reason == "需行政处罚"
    assert new.role is AssignmentRole.LEAD and new.state is AssignmentState.PENDING
    assert lead(case) is new and case.status is CaseStatus.CHECKING
    # The case is under way: the receiving department may pass it on, not send it back.
    with pytest.raises(WorkflowError, match="不能退回；如不属本部门职责，请移交"):
        workflow.return_assignment(db_session, new, actor=officer(db_session, "ZFD"),
                                   reason="不归我们")
    # The old department can no longer act; the new one must sign first.
    with pytest.raises(WorkflowError, match="牵头部门"):
        workflow.record_check(db_session, case, actor=officer(db_session, "FIRE"),
                              confirmed=True, findings="x")
    zfd = officer(db_session, "ZFD")
    with pytest.raises(WorkflowError, match="签收"):
        workflow.record_check(db_session, case, actor=zfd, confirmed=True, findings="x")
    workflow.accept_assignment(db_session, new, actor=zfd)
    workflow.record_check(db_session, case, actor=zfd, confirmed=True, findings="属实")
    assert kinds(case) == [K.ROUTED, K.ACCEPTED, K.TRANSFERRED, K.ACCEPTED,
                           K.CHECK_CONFIRMED]
    assert case.events[2].data["from"] == "FIRE" and case.events[2].data["to"] == "ZFD"
    assert db_session.scalar(select(Notification).where(
        Notification.kind == "assignment_new",
        Notification.recipient_department_id == new.department_id))


def test_closure_records_reporters_who_cannot_be_told(db_session: Session) -> None:
    case = rectifying_case(db_session)
    unreachable = factories.make_tip(db_session, case_id=case.id, status=TipStatus.MERGED,
                                     decided_at=case.created_at, wants_feedback=True)
    callable_ = factories.make_tip(db_session, case_id=case.id, status=TipStatus.ACCEPTED,
                                   decided_at=case.created_at, wants_feedback=True,
                                   reporter_phone_enc=b"encrypted")
    quiet = factories.make_tip(db_session, case_id=case.id, status=TipStatus.MERGED,
                               decided_at=case.created_at)
    workflow.report_rectified(db_session, case, actor=officer(db_session, "FIRE"),
                              report="已整改")
    workflow.approve_closure(db_session, case, actor=moderator(db_session))
    for tip in (unreachable, callable_, quiet):
        db_session.refresh(tip)
        assert [m.direction for m in tip.messages] == [MessageDirection.TO_REPORTER]
    notes = [e for e in case.events if e.kind is K.NOTE]
    assert [n.data["tip_id"] for n in notes] == [unreachable.id]
    assert "未留联系电话" in notes[0].internal_text
    callback = db_session.scalar(select(Notification).where(
        Notification.kind == "reporter_callback"))
    assert callback.payload["tip_id"] == callable_.id
    assert "encrypted" not in callback.body


def test_reporter_progress_names_the_department_and_outcome_only(db_session: Session) -> None:
    case = routed_case(db_session, "blocked_escape", unit_name="红星超市")
    mine = factories.make_tip(db_session, case_id=case.id, status=TipStatus.ACCEPTED,
                              decided_at=case.created_at, unit_name="红星超市")
    other = factories.make_tip(db_session, case_id=case.id, status=TipStatus.MERGED,
                               decided_at=case.created_at, unit_name="红星超市后门",
                               description="另一位举报人写的内容：老板姓王",
                               reporter_name_enc=b"secret-name")
    fire = officer(db_session, "FIRE")
    workflow.accept_assignment(db_session, lead(case), actor=fire)
    workflow.record_check(db_session, case, actor=fire, confirmed=True,
                          findings="内部记录：老板拒不配合")
    workflow.report_rectified(db_session, case, actor=fire, report="内部：已整改")
    workflow.approve_closure(db_session, case, actor=moderator(db_session))

    lines = reporter.reporter_progress(db_session, mine)
    text = "\n".join(t for _, t in lines)
    assert lines[0][1].startswith("您的举报已收到")
    assert "阳高乡靠前驻防消防队" in text  # the department, by name
    assert "正在现场核查" in text and "正在整改" in text
    assert "已办结：隐患已整改到位" in text
    for secret in ("老板", "内部", "后门", "另一位", "合并", str(other.id), "secret"):
        assert secret not in text
    assert [d for d, _ in lines] == sorted(d for d, _ in lines)


def test_a_tip_joining_a_case_later_sees_where_it_stands(db_session: Session) -> None:
    case = checking_case(db_session)
    fire = officer(db_session, "FIRE")
    workflow.record_check(db_session, case, actor=fire, confirmed=True, findings="属实")
    late = factories.make_tip(db_session, case_id=case.id, status=TipStatus.MERGED,
                              decided_at=case.events[-1].created_at.replace(year=2099))
    texts = [t for _, t in reporter.reporter_progress(db_session, late)]
    assert texts[:2] == ["您的举报已收到，正在审核", "已受理，进入核查处置"]
    assert "阳高乡靠前驻防消防队已签收，正在现场核查" in texts
    assert texts[-1] == "经现场核查，隐患属实，正在整改"


# ---------------------------------------------------------------- concurrency
# These need committed data seen by two connections at once, so they run on a database of
# their own (a SQLite file, or a schema of TEST_DATABASE_URL), not in the per-test
# rolled-back transaction.

RACE_SCHEMA = "linkage_race"


@pytest.fixture
def race_app(tmp_path) -> Iterator[Flask]:
    with separate_database(tmp_path, RACE_SCHEMA) as app:
        yield app


def _write_session(app: Flask) -> Session:
    """A session as a POST request or CLI command gets it (BEGIN IMMEDIATE on SQLite)."""
    session = database(app).sessionmaker()
    session.connection(execution_options={WRITE_OPTION: True})
    return session


def _committed_routed_case(app: Flask) -> tuple[int, int]:
    session = database(app).sessionmaker()
    case = routed_case(session, "blocked_escape")
    officer(session, "FIRE", "fire-a")
    officer(session, "FIRE", "fire-b")
    moderator(session)
    ids = case.id, lead(case).id
    session.commit()
    session.close()
    return ids


def test_two_officers_accepting_at_once_exactly_one_wins(race_app: Flask) -> None:
    case_id, assignment_id = _committed_routed_case(race_app)
    postgres = database(race_app).engine.dialect.name == "postgresql"
    start, loaded = threading.Barrier(2, timeout=20), threading.Barrier(2, timeout=20)
    outcomes: dict[str, str] = {}

    def attempt(username: str) -> None:
        start.wait()
        session = _write_session(race_app)
        try:
            user = session.scalar(select(User).where(User.username == username))
            assignment = session.get(Assignment, assignment_id)
            assert assignment is not None
            if postgres:
                # Both have read the assignment as pending before either writes: only the
                # conditional UPDATE can tell them apart. (SQLite's BEGIN IMMEDIATE already
                # makes the second writer wait for the first to commit.)
                loaded.wait()
            workflow.accept_assignment(session, assignment, actor=user)
            session.commit()
            outcomes[username] = "won"
        except WorkflowError as exc:
            session.rollback()
            outcomes[username] = str(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=attempt, args=(name,)) for name in ("fire-a", "fire-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["fire-a", "fire-b"]
    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1, outcomes
    [loser] = set(outcomes) - set(winners)
    assert f"由 {winners[0]}（测试） 签收" in outcomes[loser]

    with race_app.app_context():
        session = database(race_app).sessionmaker()
        case = session.get(Case, case_id)
        assert case.status is CaseStatus.CHECKING
        assert kinds(case).count(K.ACCEPTED) == 1
        winner = session.get(User, lead(case).accepted_by_id)
        assert winner is not None and winner.username == winners[0]
        session.close()


def test_a_stale_page_cannot_accept_what_another_officer_accepted(race_app: Flask) -> None:
    _, assignment_id = _committed_routed_case(race_app)
    # Officer B's page was rendered while the assignment was still pending ...
    page = database(race_app).sessionmaker()
    stale = page.get(Assignment, assignment_id)
    officer_b = page.scalar(select(User).where(User.username == "fire-b"))
    assert stale.state is AssignmentState.PENDING and stale.case.status is CaseStatus.ROUTED
    page.commit()
    # ... then officer A accepts it ...
    other = _write_session(race_app)
    workflow.accept_assignment(other, other.get(Assignment, assignment_id),
                               actor=other.scalar(select(User).where(User.username == "fire-a")))
    other.commit()
    other.close()
    # ... and B's click on the stale page is refused by the conditional UPDATE.
    assert stale.state is AssignmentState.PENDING
    with pytest.raises(WorkflowError, match="由 fire-a（测试） 签收，无需重复签收"):
        workflow.accept_assignment(page, stale, actor=officer_b)
    page.rollback()
    page.close()


def _confirmed_case(app: Flask) -> tuple[Session, Case, User]:
    """A routed case, accepted and confirmed by fire-a, in an open write session."""
    case_id, assignment_id = _committed_routed_case(app)
    setup = _write_session(app)
    case = setup.get(Case, case_id)
    fire = setup.scalar(select(User).where(User.username == "fire-a"))
    workflow.accept_assignment(setup, setup.get(Assignment, assignment_id), actor=fire)
    workflow.record_check(setup, case, actor=fire, confirmed=True, findings="属实")
    return setup, case, fire


def test_two_moderators_closing_from_stale_pages_one_is_told(race_app: Flask) -> None:
    setup, case, fire = _confirmed_case(race_app)
    case_id = case.id
    workflow.report_rectified(setup, case, actor=fire, report="已整改")
    setup.commit()
    setup.close()

    page = database(race_app).sessionmaker()
    stale = page.get(Case, case_id)
    _ = stale.assignments, stale.events
    mod_b = page.scalar(select(User).where(User.role == Role.MODERATOR))
    page.commit()

    other = _write_session(race_app)
    workflow.send_back(other, other.get(Case, case_id),
                       actor=other.scalar(select(User).where(User.role == Role.MODERATOR)),
                       reason="仍有杂物")
    other.commit()
    other.close()

    assert stale.status is CaseStatus.RECTIFIED
    with pytest.raises(WorkflowError, match="刚刚被其他人办理过"):
        workflow.approve_closure(page, stale, actor=mod_b)
    page.rollback()
    fresh = page.get(Case, case_id)
    page.refresh(fresh)
    assert fresh.status is CaseStatus.RECTIFYING and fresh.closed_at is None
    page.close()


def test_a_stale_page_cannot_transfer_what_was_already_transferred(race_app: Flask) -> None:
    _, assignment_id = _committed_routed_case(race_app)
    page = database(race_app).sessionmaker()
    stale = page.get(Assignment, assignment_id)
    officer_b = page.scalar(select(User).where(User.username == "fire-b"))
    emergency = factories.department(page, "YJB")
    _ = stale.case.assignments
    page.commit()

    other = _write_session(race_app)
    workflow.transfer_assignment(
        other, other.get(Assignment, assignment_id),
        actor=other.scalar(select(User).where(User.username == "fire-a")),
        to_department=factories.department(other, "ZFD"), reason="需行政处罚")
    other.commit()
    other.close()

    with pytest.raises(WorkflowError, match="已移交其他部门"):
        workflow.transfer_assignment(page, stale, actor=officer_b, to_department=emergency,
                                     reason="应急办管")
    page.rollback()
    leads = page.scalars(select(Assignment).where(
        Assignment.role == AssignmentRole.LEAD,
        Assignment.state == AssignmentState.PENDING)).all()
    assert [a.department.code for a in leads] == ["ZFD"]
    page.close()


def test_two_supervisors_deciding_one_extension_from_stale_pages(race_app: Flask) -> None:
    setup, case, fire = _confirmed_case(race_app)
    case_id = case.id
    workflow.set_rectification(setup, case, actor=fire, deadline=in_days(3))
    workflow.request_extension(setup, case, actor=fire, new_date=in_days(20), reason="资金")
    supervisor(setup)
    setup.commit()
    setup.close()

    page = database(race_app).sessionmaker()
    stale = page.get(Case, case_id)
    _ = stale.assignments, stale.events
    sup = page.scalar(select(User).where(User.role == Role.SUPERVISOR))
    page.commit()

    other = _write_session(race_app)
    workflow.decide_extension(other, other.get(Case, case_id), approve=True,
                              actor=other.scalar(select(User).where(
                                  User.role == Role.SUPERVISOR)))
    other.commit()
    other.close()

    # The refusal from the stale page would contradict the approval: it is not recorded.
    with pytest.raises(WorkflowError, match="刚刚被其他人办理过"):
        workflow.decide_extension(page, stale, actor=sup, approve=False, reason="不同意")
    page.rollback()
    decisions = page.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.kind == K.EXTENSION_DECIDED)).all()
    assert [d.data["approved"] for d in decisions] == [True]
    page.close()


# ---------------------------------------------------------------- severity (GB 35181 judgement)


def test_set_severity_in_triage_records_the_judgement_once(db_session: Session) -> None:
    from portal.domain.enums import Severity

    case, mod = new_case(db_session, "sandwich_panel"), moderator(db_session)
    version = case.version
    event = workflow.set_severity(db_session, case, Severity.MAJOR, actor=mod,
                                  basis=" GB 35181 第5.1条 ")
    assert case.severity is Severity.MAJOR and case.version > version
    assert event is not None and event.kind is K.SEVERITY_CHANGED
    assert event.internal_text == "隐患等级由“一般隐患”调整为“重大隐患”：GB 35181 第5.1条"
    assert event.data == {"from": "general", "to": "major", "basis": "GB 35181 第5.1条"}
    row = db_session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert row.action == "case.severity_changed" and row.before == {"severity": "general"}
    assert row.after["severity"] == "major"
    # The same judgement again records nothing.
    assert workflow.set_severity(db_session, case, Severity.MAJOR, actor=mod,
                                 basis="复核") is None
    assert kinds(case) == [K.SEVERITY_CHANGED]


def test_set_severity_only_in_triage_by_moderators_and_with_a_basis(db_session: Session) -> None:
    from portal.domain.enums import Severity

    mod = moderator(db_session)
    routed = routed_case(db_session, "blocked_escape")
    refusals = {
        "只有待分派的案件可以在此调整隐患等级，本案件当前为“已派单”":
            (routed, mod, "依据"),
        "只有审核员可以调整隐患等级": (new_case(db_session), supervisor(db_session), "依据"),
        "请填写判定依据": (new_case(db_session), mod, "  "),
    }
    for message, (case, who, basis) in refusals.items():
        with pytest.raises(WorkflowError) as refused:
            workflow.set_severity(db_session, case, Severity.MAJOR, actor=who, basis=basis)
        assert str(refused.value) == message
        assert case.severity is Severity.GENERAL
        assert K.SEVERITY_CHANGED not in kinds(case)
    # The precondition alone answers the same, without a form.
    with pytest.raises(WorkflowError, match="本案件当前为“已派单”"):
        workflow.check_set_severity(routed, mod)
    workflow.check_set_severity(new_case(db_session), mod)


def test_a_severity_judged_from_a_stale_page_is_refused(race_app: Flask) -> None:
    from portal.domain.casework.events import CONFLICT_MESSAGE
    from portal.domain.enums import Severity

    setup = database(race_app).sessionmaker()
    case = new_case(setup, "sandwich_panel")
    moderator(setup)
    case_id = case.id
    setup.commit()
    setup.close()

    page = database(race_app).sessionmaker()
    stale = page.get(Case, case_id)
    mod = page.scalar(select(User).where(User.role == Role.MODERATOR))
    page.commit()

    other = _write_session(race_app)
    fresh = other.get(Case, case_id)
    proposal = routing.propose_for_case(other, fresh)
    routing.route_case(other, fresh, lead=proposal.lead, assists=proposal.assists,
                       actor=other.scalar(select(User).where(User.role == Role.MODERATOR)))
    other.commit()
    other.close()

    assert stale.status is CaseStatus.TRIAGE  # what the page shows
    with pytest.raises(WorkflowError) as refused:
        workflow.set_severity(page, stale, Severity.MAJOR, actor=mod, basis="GB 35181")
    assert str(refused.value) == CONFLICT_MESSAGE
    page.rollback()
    routed = page.get(Case, case_id)
    page.refresh(routed)
    assert routed.status is CaseStatus.ROUTED and routed.severity is Severity.GENERAL
    page.close()
