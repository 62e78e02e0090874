from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.casework.events import WorkflowError
from portal.domain.clock import utcnow
from portal.domain.disclosure.publication import (
    DisclosureError,
    DisclosureFilters,
    disclose_case,
    edit_public_summary,
    iter_disclosed,
    latest_disclosed,
    preview,
    search_disclosed,
    unit_disclosures,
    withdraw_disclosure,
)
from portal.domain.enums import AttachmentKind, CaseEventKind, CaseStatus, Role
from portal.domain.models import Attachment, AuditLog, CaseEvent, User
from tests.factories import make_case

pytestmark = pytest.mark.usefixtures("app")

TODAY = dt.date(2026, 6, 1)


def staff(session: Session, role: Role = Role.MODERATOR, name: str = "mod1") -> User:
    user = User(username=name, password_hash="x", role=role)
    session.add(user)
    session.flush()
    return user


def confirmed_case(session: Session, **values):
    now = utcnow()
    defaults = {"status": CaseStatus.RECTIFYING, "routed_at": now, "confirmed_at": now,
                "rectify_by": TODAY + dt.timedelta(days=10)}
    return make_case(session, **{**defaults, **values})


def visible(session: Session) -> list[int]:
    return [c.id for c in iter_disclosed(session, today=TODAY)]


def test_disclosing_publishes_a_masked_summary_with_an_event_and_audit_row(
    db_session: Session,
) -> None:
    moderator = staff(db_session)
    case = confirmed_case(db_session)
    event = disclose_case(db_session, case, actor=moderator,
                          public_summary="疏散通道堆满货物，店主电话13812345678。")
    assert case.disclosed and case.disclosed_at is not None
    assert case.public_summary == "疏散通道堆满货物，店主电话138********。"
    assert event.kind == CaseEventKind.DISCLOSED and event.public_text
    audit = db_session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert audit.action == "case.disclosed" and audit.object_id == str(case.id)
    assert audit.actor_id == moderator.id
    assert visible(db_session) == [case.id]


def test_only_confirmed_cases_can_be_disclosed(db_session: Session) -> None:
    moderator = staff(db_session)
    unconfirmed = make_case(db_session, status=CaseStatus.CHECKING, routed_at=utcnow())
    with pytest.raises(DisclosureError, match="核查属实"):
        disclose_case(db_session, unconfirmed, actor=moderator, public_summary="某问题")
    assert not unconfirmed.disclosed and visible(db_session) == []


def test_an_empty_summary_or_a_non_moderator_is_refused(db_session: Session) -> None:
    case = confirmed_case(db_session)
    with pytest.raises(DisclosureError, match="公示内容"):
        disclose_case(db_session, case, actor=staff(db_session), public_summary="   ")
    with pytest.raises(WorkflowError):
        disclose_case(db_session, case, actor=staff(db_session, Role.SUPERVISOR, "lead"),
                      public_summary="问题")
    assert not case.disclosed


def test_withdrawal_needs_a_reason_and_removes_the_case_and_its_photos(
    db_session: Session,
) -> None:
    moderator = staff(db_session)
    case = confirmed_case(db_session)
    disclose_case(db_session, case, actor=moderator, public_summary="违规住人")
    event = CaseEvent(case=case, kind=CaseEventKind.PROGRESS, public_text="已清理一半")
    db_session.add(event)
    db_session.flush()
    photo = Attachment(stored_name="p" * 32, kind=AttachmentKind.PHOTO,
                       content_type="image/jpeg", size_bytes=1, sha256="0" * 64,
                       public=True, case_event_id=event.id)
    db_session.add(photo)
    db_session.flush()
    with pytest.raises(DisclosureError, match="理由"):
        withdraw_disclosure(db_session, case, actor=moderator, reason=" ")
    withdrawn = withdraw_disclosure(db_session, case, actor=moderator, reason="单位名称有误")
    assert withdrawn.kind == CaseEventKind.DISCLOSURE_WITHDRAWN
    assert withdrawn.internal_text == "单位名称有误" and withdrawn.public_text == ""
    assert not case.disclosed and case.disclosed_at is None
    assert not photo.public
    assert visible(db_session) == []
    assert unit_disclosures(db_session, case.unit_id, today=TODAY) is None
    audit = db_session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert audit.action == "case.disclosure_withdrawn" and audit.after["reason"] == "单位名称有误"


def test_public_timeline_keeps_only_public_text_masked(db_session: Session) -> None:
    moderator = staff(db_session)
    case = confirmed_case(db_session)
    db_session.add_all([
        CaseEvent(case=case, kind=CaseEventKind.NOTE, internal_text="举报人张三说的"),
        CaseEvent(case=case, kind=CaseEventKind.PROGRESS,
                  public_text="车辆晋D·12345已挪走", internal_text="内部"),
    ])
    db_session.flush()
    disclose_case(db_session, case, actor=moderator, public_summary="占用消防车道")
    _unit, cases = unit_disclosures(db_session, case.unit_id, today=TODAY)
    texts = [e.text for e in cases[0].timeline]
    assert "车辆晋D*****已挪走" in texts
    assert all("张三" not in t and "内部" not in t for t in texts)


def test_a_units_page_gives_each_case_its_own_timeline_and_photos(db_session: Session) -> None:
    """Read for all of a unit's cases at once, every event and photo stays with its case, in
    order, and only the public, not withheld photos are shown."""
    moderator = staff(db_session)
    first = confirmed_case(db_session)
    second = confirmed_case(db_session, unit=first.unit, village=first.village)

    def photo(event: CaseEvent, name: str, **values) -> None:
        db_session.add(Attachment(stored_name=name * 32, kind=AttachmentKind.PHOTO,
                                  content_type="image/jpeg", size_bytes=1, sha256="0" * 64,
                                  case_event_id=event.id, **{"public": True, **values}))

    events = {}
    for case, texts in ((first, ("一已整改", "一已复查")), (second, ("二已整改",))):
        for text in texts:
            event = CaseEvent(case=case, kind=CaseEventKind.PROGRESS, public_text=text)
            db_session.add(event)
            db_session.flush()
            events[text] = event
    photo(events["一已整改"], "a")
    photo(events["一已整改"], "b", withheld=True)
    photo(events["一已复查"], "c", public=False)
    photo(events["二已整改"], "d")
    photo(events["二已整改"], "e")
    db_session.flush()
    for case in (first, second):
        disclose_case(db_session, case, actor=moderator, public_summary="占用消防车道")
    _unit, cases = unit_disclosures(db_session, first.unit_id, today=TODAY)
    shown = {c.id: [(e.text, [p.stored_name[0] for p in e.photos]) for e in c.timeline
                    if e.text in events] for c in cases}
    assert shown == {first.id: [("一已整改", ["a"]), ("一已复查", [])],
                     second.id: [("二已整改", ["d", "e"])]}


def test_preview_shows_the_masked_text_without_publishing(db_session: Session) -> None:
    case = confirmed_case(db_session)
    shown = preview(db_session, case, TODAY, summary="老板身份证140425199001011234")
    assert shown.summary == "老板身份证140***************"
    assert not case.disclosed and case.public_summary == ""


def test_editing_the_summary_masks_it_and_is_audited(db_session: Session) -> None:
    moderator = staff(db_session)
    case = confirmed_case(db_session)
    disclose_case(db_session, case, actor=moderator, public_summary="旧内容")
    edit_public_summary(db_session, case, "新内容，联系0355-6281234", actor=moderator)
    assert case.public_summary == "新内容，联系0355*******"
    audit = db_session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert audit.before == {"public_summary": "旧内容"}


def test_overdue_is_derived_from_the_deadline(db_session: Session) -> None:
    moderator = staff(db_session)
    late = confirmed_case(db_session, rectify_by=TODAY - dt.timedelta(days=1))
    on_time = confirmed_case(db_session, rectify_by=TODAY)
    for case in (late, on_time):
        disclose_case(db_session, case, actor=moderator, public_summary="问题")
    by_id = {c.id: c for c in latest_disclosed(db_session, today=TODAY)}
    assert by_id[late.id].overdue and not by_id[on_time.id].overdue


def test_search_filters_by_severity_and_paginates(db_session: Session) -> None:
    from portal.domain.enums import Severity

    moderator = staff(db_session)
    ids = []
    for i in range(5):
        case = confirmed_case(db_session, severity=Severity.MAJOR if i % 2 else Severity.GENERAL)
        disclose_case(db_session, case, actor=moderator, public_summary=f"问题{i}")
        ids.append(case.id)
    major = search_disclosed(db_session, DisclosureFilters(severity=Severity.MAJOR),
                             today=TODAY, per_page=10)
    assert {c.id for c in major.items} == {ids[1], ids[3]} and major.total == 2
    first = search_disclosed(db_session, DisclosureFilters(), today=TODAY, per_page=2)
    third = search_disclosed(db_session, DisclosureFilters(), today=TODAY, page=3, per_page=2)
    assert first.pages == 3 and len(first.items) == 2 and len(third.items) == 1


def test_a_withdrawn_case_can_be_disclosed_again(db_session: Session) -> None:
    moderator = staff(db_session)
    case = confirmed_case(db_session)
    disclose_case(db_session, case, actor=moderator, public_summary="第一次")
    withdraw_disclosure(db_session, case, actor=moderator, reason="核对单位名称")
    disclose_case(db_session, case, actor=moderator, public_summary="更正后重新公示")
    assert visible(db_session) == [case.id] and case.public_summary == "更正后重新公示"
    kinds = [e.kind for e in case.events]
    assert kinds == [CaseEventKind.DISCLOSED, CaseEventKind.DISCLOSURE_WITHDRAWN,
                     CaseEventKind.DISCLOSED]


def test_the_disclosed_total_from_the_tallies_equals_counting_the_rows(db_session) -> None:
    import datetime as dt

    from sqlalchemy import func, select

    from portal.domain.clock import utcnow
    from portal.domain.disclosure import publication
    from portal.domain.enums import CaseStatus, Severity, SupervisionLevel
    from portal.domain.models import Case
    from tests import factories

    now = utcnow()
    for n, (code, severity, status, level) in enumerate([
            ("V01", Severity.MAJOR, "rectifying", SupervisionLevel.TOWNSHIP),
            ("V01", Severity.GENERAL, "rectified", SupervisionLevel.NONE),
            ("V02", Severity.GENERAL, "rectifying", SupervisionLevel.NONE),
            ("V03", Severity.MAJOR, "closed", SupervisionLevel.COUNTY)]):
        factories.make_case(
            db_session, village=factories.village(db_session, code), severity=severity,
            status=status, supervision_level=level, routed_at=now, confirmed_at=now,
            disclosed=True, disclosed_at=now - dt.timedelta(hours=n),
            **({"closed_at": now, "outcome": "rectified"} if status == "closed" else {}))
    # and one confirmed case that is not disclosed
    factories.make_case(db_session, status="rectifying", routed_at=now, confirmed_at=now)
    v01 = factories.village(db_session, "V01").id
    for filters in (publication.DisclosureFilters(),
                    publication.DisclosureFilters(village_id=v01),
                    publication.DisclosureFilters(severity=Severity.MAJOR),
                    publication.DisclosureFilters(status=CaseStatus.RECTIFYING, village_id=v01),
                    publication.DisclosureFilters(supervised=True)):
        counted = db_session.scalar(publication._filtered(
            select(func.count(Case.id)).where(publication.public_condition()), filters))
        assert _total(db_session, filters) == counted, filters
    assert _total(db_session, publication.DisclosureFilters()) >= 4


def _total(session, filters) -> int:
    from portal.domain.disclosure import publication

    return publication.search_disclosed(session, filters, today=utcnow().date()).total
