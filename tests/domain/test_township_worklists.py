"""The casework's township rules in the domain (issue 18): the work lists narrowed by a user's
scope, duplicates and merges within a township, routing only to departments serving the case's
township, and staff filing tips and cases only under their township's villages."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from portal.domain.access.permissions import case_scope, tip_scope
from portal.domain.casework import routing, worklists
from portal.domain.casework.workflow import WorkflowError
from portal.domain.clock import utcnow
from portal.domain.enums import CaseStatus, Channel, Role
from portal.domain.models import Case, Unit, User
from portal.domain.reporting import intake
from portal.domain.vetting import moderation, places
from portal.domain.vetting.duplicates import find_duplicates
from portal.domain.vetting.queue import QueueFilter, pending_tips
from tests import factories

pytestmark = pytest.mark.usefixtures("app")


def moderator_of(session: Session, township: str | None) -> User:
    user = User(username=f"mod-{township or 'county'}", password_hash="x", role=Role.MODERATOR,
                township=factories.township(session, township) if township else None)
    session.add(user)
    session.flush()
    return user


def case_in(session: Session, village: str, name: str, **values) -> Case:
    vil = factories.village(session, village)
    return factories.make_case(session, village=vil,
                               unit=Unit(name=name, normalized_name=name, village=vil), **values)


def test_the_queue_and_the_lists_hold_only_the_readers_township(db_session: Session) -> None:
    factories.make_tip(db_session, village=factories.village(db_session, "V01"),
                       unit_name="阳高店")
    factories.make_tip(db_session, village=factories.village(db_session, "BS-V01"),
                       unit_name="北社店")
    case_in(db_session, "V01", "阳高工单")
    case_in(db_session, "BS-V03", "北社工单")
    now = utcnow()
    case_in(db_session, "BS-V03", "北社待销案", status=CaseStatus.RECTIFIED, routed_at=now,
            confirmed_at=now, rectified_at=now)
    beishe, county = moderator_of(db_session, "beishe"), moderator_of(db_session, None)

    queue = pending_tips(db_session, QueueFilter(), scope=tip_scope(beishe))
    assert [row.tip.unit_name for row in queue.items] == ["北社店"] and queue.total == 1
    assert pending_tips(db_session, QueueFilter(), scope=tip_scope(county)).total == 2
    triage = worklists.triage(db_session, scope=case_scope(beishe))
    assert [c.unit.name for c in triage.items] == ["北社工单"]
    assert worklists.triage(db_session, scope=case_scope(county)).total == 2
    assert [c.unit.name for c in worklists.awaiting_closure(
        db_session, scope=case_scope(moderator_of(db_session, "yanggao"))).items] == []
    assert [c.unit.name for c in worklists.awaiting_closure(
        db_session, scope=case_scope(beishe)).items] == ["北社待销案"]


def test_duplicates_are_proposed_within_the_tips_township_only(db_session: Session) -> None:
    same = "东庄小卖部"
    yanggao = case_in(db_session, "V02", same)
    beishe = case_in(db_session, "BS-V02", same)
    factories.make_tip(db_session, village=factories.village(db_session, "V02"), unit_name=same)
    tip = factories.make_tip(db_session, village=factories.village(db_session, "BS-V02"),
                             unit_name=same, lat=36.0, lon=113.4)
    near = factories.make_tip(db_session, village=factories.village(db_session, "V01"),
                              unit_name="别家", lat=36.0001, lon=113.4)
    found = find_duplicates(db_session, tip)
    assert [c.id for c, _ in found.cases] == [beishe.id]
    assert yanggao.id not in {c.id for c, _ in found.cases}
    assert found.tips == [] and near.id not in {t.id for t, _ in found.tips}


def test_a_tip_is_never_merged_into_another_townships_case(db_session: Session) -> None:
    tip = factories.make_tip(db_session, village=factories.village(db_session, "BS-V02"))
    other = case_in(db_session, "V02", "阳高东庄店")
    with pytest.raises(moderation.ModerationError, match="只能合并到本乡镇的工单"):
        moderation.merge_tip(db_session, tip, other, actor=moderator_of(db_session, None))
    assert tip.case_id is None


def test_routing_to_a_department_not_serving_the_township_is_refused(
        db_session: Session) -> None:
    case = case_in(db_session, "BS-V01", "北社店")
    actor = moderator_of(db_session, "beishe")
    served = {d.code for d in routing.serving_departments(db_session, case)}
    assert {"BS-POLICE", "BS-XAB", "DADUI", "SCJGJ"} <= served
    assert not served & {"FIRE", "POLICE", "XAB", "XG-POLICE"}
    with pytest.raises(WorkflowError, match="阳高乡靠前驻防消防队不负责北社乡（示例）"):
        routing.route_case(db_session, case, lead=factories.department(db_session, "FIRE"),
                           actor=actor, override_reason="试试")
    with pytest.raises(WorkflowError, match="不负责"):
        routing.route_case(db_session, case, lead=factories.department(db_session, "BS-POLICE"),
                           assists=[factories.department(db_session, "POLICE")],
                           actor=actor, override_reason="试试")
    assert case.status is CaseStatus.TRIAGE and case.assignments == []


def test_staff_file_only_under_their_townships_villages(db_session: Session) -> None:
    yanggao, county = moderator_of(db_session, "yanggao"), moderator_of(db_session, None)
    labels = dict(places.village_choices(db_session, yanggao)).values()
    assert "阳高村（示例）" in labels and "北社村（示例）" not in labels
    county_labels = dict(places.village_choices(db_session, county)).values()
    assert {"东庄村（示例）（阳高乡）", "东庄村（示例）（北社乡（示例））"} <= set(county_labels)

    outside = factories.village(db_session, "BS-V01")
    data = intake.TipInput(channel=Channel.PHONE, village_id=outside.id,
                           category_id=factories.category(db_session).id, unit_name="外乡镇店",
                           description="店内电线私拉乱接，插线板串联。", created_by=yanggao)
    with pytest.raises(intake.IntakeError) as refused:
        intake.validate(db_session, data)
    assert refused.value.errors["village"] == places.OUTSIDE_MESSAGE
    data.created_by = county
    intake.validate(db_session, data)

    details = moderation.UnitDetails(name="外乡镇巡查店", village_id=outside.id,
                                     category_id=factories.category(db_session).id)
    with pytest.raises(moderation.ModerationError, match=places.OUTSIDE_MESSAGE):
        moderation.open_inspection_case(db_session, details, actor=yanggao)
    tip = factories.make_tip(db_session, village=factories.village(db_session, "V01"))
    with pytest.raises(moderation.ModerationError, match=places.OUTSIDE_MESSAGE):
        moderation.accept_tip(db_session, tip, details, actor=yanggao)


def test_a_transfer_goes_only_to_a_department_serving_the_township(db_session: Session) -> None:
    """移交 follows the same rule as 派单: 北社派出所 serves only 北社乡, so a 阳高乡 case
    cannot be handed to it, while the county's fire brigade can take it."""
    from portal.domain.casework import workflow
    from tests.domain.linkage_helpers import lead, officer, routed_case

    case = routed_case(db_session, "wiring")  # 阳高乡 (V01): led by its fire team
    with pytest.raises(WorkflowError, match=r"北社派出所.*不负责阳高乡"):
        workflow.transfer_assignment(
            db_session, lead(case), actor=officer(db_session, "FIRE"),
            to_department=factories.department(db_session, "BS-POLICE"), reason="不归我们管")
    new = workflow.transfer_assignment(
        db_session, lead(case), actor=officer(db_session, "FIRE"),
        to_department=factories.department(db_session, "DADUI"), reason="需大队处理")
    assert new.department.code == "DADUI"
