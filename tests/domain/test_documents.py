"""A case's documents: who may issue which, when, numbered how, and what issuing records."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import numbering
from portal.domain.casework import documents, limits
from portal.domain.casework.events import WorkflowError
from portal.domain.enums import CaseEventKind, CaseStatus, Severity
from portal.domain.models import AuditLog, Case, CaseDocument
from tests import factories
from tests.domain.linkage_helpers import officer, supervisor
from tests.domain.supervision_helpers import case_at

pytestmark = pytest.mark.usefixtures("app")

# Noon in Beijing: the local date is the one written.
DEC_2 = dt.datetime(2026, 12, 2, 4, 0, tzinfo=dt.UTC)
JAN_5 = dt.datetime(2027, 1, 5, 4, 0, tzinfo=dt.UTC)


def _issue(session: Session, case: Case, kind: str, department: str = "FIRE", **kw):
    return documents.issue(session, case, kind, actor=officer(session, department),
                           now=kw.pop("now", DEC_2), **kw)


def test_the_four_kinds_are_data_with_their_articles_and_rules() -> None:
    kinds = documents.kinds()
    assert list(kinds) == ["rectify_order", "reinspection", "major_notice", "major_report"]
    assert kinds["rectify_order"].title == "责令限期改正通知书"
    assert kinds["rectify_order"].basis == "《消防监督检查规定》第十九条"
    assert kinds["reinspection"].meets is limits.Rule.REINSPECT
    assert kinds["major_notice"].meets is limits.Rule.MAJOR_NOTICE
    assert kinds["major_report"].meets is limits.Rule.MAJOR_REPORT
    assert {k.word for k in kinds.values()} == {"责改", "复查", "重改", "重报"}


def test_a_misspelt_key_in_the_data_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown key isuers"):
        documents.parse_kinds('[x]\ntitle = "t"\nisuers = []\n')


def test_auto_numbers_count_per_department_kind_and_year(db_session: Session) -> None:
    first, second = case_at(db_session, "rectifying"), case_at(db_session, "rectifying")
    a = _issue(db_session, first, "rectify_order")
    b = _issue(db_session, second, "rectify_order")
    c = _issue(db_session, first, "reinspection")
    d = _issue(db_session, second, "rectify_order", now=JAN_5)
    assert [a.number, b.number, c.number, d.number] == [
        "阳高消责改字〔2026〕第1号", "阳高消责改字〔2026〕第2号", "阳高消复查字〔2026〕第1号",
        "阳高消责改字〔2027〕第1号"]
    assert (a.seq, a.year, a.issued_on) == (1, 2026, dt.date(2026, 12, 2))
    # Another department counts on its own; without a prefix its name heads the number.
    police = case_at(db_session, "rectifying", department="POLICE")
    assert _issue(db_session, police, "rectify_order", "POLICE").number \
        == "阳高派出所责改字〔2026〕第1号"


def test_issuing_records_the_number_meets_the_clock_and_leaves_the_status(
        db_session: Session) -> None:
    case = case_at(db_session, "rectifying")
    limits.start(db_session, case, limits.Rule.ORDER)
    document = _issue(db_session, case, "rectify_order", findings="二楼安全出口上锁")
    assert case.status is CaseStatus.RECTIFYING
    assert limits.open_clock(case, limits.Rule.ORDER) is None
    assert any(c.rule == "order" and c.met_at is not None for c in case.clocks)
    event = case.events[-1]
    assert event.kind is CaseEventKind.DOCUMENT_ISSUED
    assert document.number in event.internal_text
    assert event.data["number"] == document.number
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "document.issue")).one()
    assert row.object_id == str(document.id) and row.after["number"] == document.number
    assert document in case.documents


def test_the_content_is_frozen_from_the_case(db_session: Session) -> None:
    case = case_at(db_session, "rectifying", rectify_by=dt.date(2027, 1, 15),
                   unit_name="红星超市")
    document = _issue(db_session, case, "rectify_order")
    content = document.content
    assert content["unit"] == content["addressee"] == "红星超市"
    assert content["findings"] == "属实"  # the check's findings, nothing typed
    assert content["basis"] == "《消防监督检查规定》第十九条"
    assert content["rectify_by_text"] == "2027年1月15日"
    assert content["issued_on_text"] == "2026年12月2日"
    assert content["department"] == "阳高乡靠前驻防消防队"
    case.unit.name = "改名以后"
    db_session.flush()
    db_session.refresh(document)
    assert document.content["unit"] == "红星超市"


def test_manual_numbering_needs_the_typed_number_and_refuses_a_repeat(
        db_session: Session) -> None:
    factories.department(db_session, "FIRE").document_numbering = "manual"
    first, second = case_at(db_session, "rectifying"), case_at(db_session, "rectifying")
    with pytest.raises(WorkflowError, match="自行编号，请填写"):
        _issue(db_session, first, "rectify_order")
    document = _issue(db_session, first, "rectify_order", number=" 阳公消行责改字〔2026〕0007号 ")
    assert (document.number, document.seq) == ("阳公消行责改字〔2026〕0007号", None)
    with pytest.raises(WorkflowError, match="已用于案件"):
        _issue(db_session, second, "rectify_order", number="阳公消行责改字〔2026〕0007号")


def test_two_officers_typing_one_number_at_once_the_constraint_decides(
        db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    factories.department(db_session, "FIRE").document_numbering = "manual"
    first, second = case_at(db_session, "rectifying"), case_at(db_session, "rectifying")
    _issue(db_session, first, "rectify_order", number="阳消责改字〔2026〕0009号")
    # The second read the numbers before the first wrote: its check saw nothing.
    monkeypatch.setattr(documents, "_typed_number",
                        lambda _s, _d, _k, number: number.strip())
    with pytest.raises(WorkflowError, match="刚刚已被使用"):
        _issue(db_session, second, "rectify_order", number="阳消责改字〔2026〕0009号")
    assert [d.number for d in second.documents] == []


@pytest.mark.parametrize(("code", "reason"), [("VC-V01", "村委会不能制发"),
                                             ("ZFD", "未获赋予消防监督检查职权")])
def test_a_village_committee_or_a_team_without_delegated_powers_issues_none(
        db_session: Session, code: str, reason: str) -> None:
    case = case_at(db_session, "rectifying", department=code)
    with pytest.raises(WorkflowError, match=reason):
        documents.check_issue(case, officer(db_session, code), "rectify_order")
    assert documents.choices(case, officer(db_session, code)) == []


def test_a_team_with_delegated_powers_orders_and_reinspects_but_no_major_documents(
        db_session: Session) -> None:
    team = factories.department(db_session, "ZFD")
    team.fire_powers_delegated = True
    case = case_at(db_session, "rectifying", department="ZFD", severity=Severity.MAJOR)
    assert [c.kind for c in documents.choices(case, officer(db_session, "ZFD"))] == [
        "rectify_order", "reinspection"]
    assert _issue(db_session, case, "rectify_order", "ZFD").number.startswith(team.name)


def test_who_may_issue_is_the_lead_departments_officer(db_session: Session) -> None:
    case = case_at(db_session, "rectifying")
    for someone in (officer(db_session, "POLICE"), supervisor(db_session)):
        with pytest.raises(WorkflowError, match="只有牵头部门"):
            documents.check_issue(case, someone, "rectify_order")
        assert documents.choices(case, someone) == []


def test_each_kind_in_its_state_of_the_case(db_session: Session) -> None:
    fire = officer(db_session, "FIRE")
    checking = case_at(db_session, "checking")
    with pytest.raises(WorkflowError, match="核查中"):
        documents.check_issue(checking, fire, "rectify_order")
    rectifying = case_at(db_session, "rectifying")
    assert [c.kind for c in documents.choices(rectifying, fire)] == [
        "rectify_order", "reinspection"]
    deadline, rectifying.rectify_by = rectifying.rectify_by, None
    with pytest.raises(WorkflowError, match="请先下达整改期限"):
        documents.check_issue(rectifying, fire, "rectify_order")
    rectifying.rectify_by = deadline
    rectified = case_at(db_session, "rectified")
    assert [c.kind for c in documents.choices(rectified, fire)] == ["reinspection"]
    with pytest.raises(WorkflowError, match="只有重大火灾隐患"):
        documents.check_issue(rectifying, fire, "major_notice")
    # A suspected major hazard whose §21 report clock runs may be reported before judgement.
    limits.start(db_session, rectifying, limits.Rule.MAJOR_REPORT)
    assert "major_report" in [c.kind for c in documents.choices(rectifying, fire)]


def test_the_four_documents_of_a_major_hazard(db_session: Session) -> None:
    case = case_at(db_session, "rectifying", severity=Severity.MAJOR)
    numbers = [_issue(db_session, case, kind).number for kind in documents.kinds()]
    assert numbers == ["阳高消责改字〔2026〕第1号", "阳高消复查字〔2026〕第1号",
                       "阳高消重改字〔2026〕第1号", "阳高消重报字〔2026〕第1号"]  # DEC_2
    # The report asks for listing: the government's decision is due in 7 working days.
    listing = limits.open_clock(case, limits.Rule.LISTING_DECISION)
    assert listing is not None and "提请挂牌督办" in listing.note
    report = case.documents[-1].content
    assert report["addressee"] == "阳高乡人民政府"  # the fire team's own level
    # The police station orders and re-inspects; the major-hazard documents are the fire's.
    police = case_at(db_session, "rectifying", department="POLICE", severity=Severity.MAJOR)
    assert [c.kind for c in documents.choices(police, officer(db_session, "POLICE"))] == [
        "rectify_order", "reinspection"]


def test_allocate_takes_the_next_number_when_one_is_taken(db_session: Session) -> None:
    case = case_at(db_session, "rectifying")
    taken = _issue(db_session, case, "rectify_order")
    tries = iter([1, 1, 2])

    def candidate() -> CaseDocument:
        seq = next(tries)
        return CaseDocument(case_id=case.id, kind="rectify_order", year=2026, seq=seq,
                            department_id=taken.department_id, number=f"测试{seq}",
                            issued_on=dt.date(2026, 12, 2), issued_by_id=taken.issued_by_id)

    won = numbering.allocate(db_session, candidate)
    assert won is not None and won.seq == 2
    assert numbering.allocate(db_session, lambda: CaseDocument(
        case_id=case.id, kind="rectify_order", year=2026, seq=1,
        department_id=taken.department_id, number="重复", issued_on=dt.date(2026, 12, 2),
        issued_by_id=taken.issued_by_id), attempts=2) is None
    assert db_session.scalar(select(CaseDocument.number).where(CaseDocument.seq == 2)) \
        == "测试2"
