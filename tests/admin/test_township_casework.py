"""Intake and casework screens in a county of townships (issue 18): a township's staff see only
their township's tips and cases, at every screen, and another township's by URL is a 404; the
county's staff see all; a department serving several townships sees its assignments in each;
duplicates, merges, routing and staff-entered tips stay within a township."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    AttachmentKind,
    CaseEventKind,
    CaseStatus,
)
from portal.domain.models import Assignment, Attachment, Case, CaseEvent, Tip, Unit, User
from tests import factories
from tests.admin.conftest import sign_in, text
from tests.conftest import csrf_token

LABEL = {"a": "阳高", "b": "北社"}
VILLAGE = {"a": "V01", "b": "BS-V01"}


@dataclass
class Township:
    """One township's rows: a pending tip with a photo, a case waiting in triage, and a case
    being rectified (confirmed, with a photo on its timeline) held by the county fire brigade
    (DADUI) and, as an assistant, by 阳高乡's fire team (FIRE)."""

    tip: Tip
    tip_photo: Attachment
    triage: Case
    worked: Case
    worked_photo: Attachment

    def names(self, key: str) -> dict[str, str]:
        return {"tip": f"{LABEL[key]}待审商店", "triage": f"{LABEL[key]}待分派商店",
                "worked": f"{LABEL[key]}整改商店"}


def _unit(session: Session, key: str, name: str) -> Unit:
    return Unit(name=name, normalized_name=name, village=factories.village(session, VILLAGE[key]))


def _photo(session: Session, stored: str, **owner: int) -> Attachment:
    row = Attachment(stored_name=stored, kind=AttachmentKind.PHOTO, content_type="image/jpeg",
                     size_bytes=4, sha256="7" * 64, **owner)
    session.add(row)
    session.flush()
    return row


def _township(session: Session, key: str) -> Township:
    village = factories.village(session, VILLAGE[key])
    label = LABEL[key]
    tip = factories.make_tip(session, village=village, unit_name=f"{label}待审商店")
    tip_photo = _photo(session, f"{key}-tip.jpg", tip_id=tip.id)
    triage = factories.make_case(session, village=village,
                                 unit=_unit(session, key, f"{label}待分派商店"))
    now = utcnow()
    worked = factories.make_case(session, village=village,
                                 unit=_unit(session, key, f"{label}整改商店"),
                                 status=CaseStatus.RECTIFIED, routed_at=now, confirmed_at=now,
                                 rectified_at=now)
    for code, role in (("DADUI", AssignmentRole.LEAD), ("FIRE", AssignmentRole.ASSIST)):
        # In 北社乡 the FIRE assignment is one that should never have been made: FIRE serves
        # 阳高乡 alone, so its officers must not see the case even so.
        session.add(Assignment(case=worked, department=factories.department(session, code),
                               role=role, state=AssignmentState.ACCEPTED, routed_at=now,
                               accepted_at=now))
    event = CaseEvent(case=worked, kind=CaseEventKind.PROGRESS, public_text="已清理通道")
    session.add(event)
    session.flush()
    worked_photo = _photo(session, f"{key}-event.jpg", case_event_id=event.id)
    return Township(tip, tip_photo, triage, worked, worked_photo)


@pytest.fixture
def world(app: Flask, db_session: Session, township_staff: dict[str, User],
          monkeypatch: pytest.MonkeyPatch) -> dict[str, Township]:
    class FakeStore:
        def get(self, name: str) -> bytes:
            return b"jpeg"

    # Every view that serves a file reads the one storage of the app.
    monkeypatch.setitem(app.extensions, "portal.storage", FakeStore())
    made = {key: _township(db_session, key) for key in ("a", "b")}
    db_session.commit()
    return made


LISTS = {
    # page: the rows of a township it lists
    "/admin/queue": ("tip",),
    "/admin/route": ("triage",),
    "/admin/cases": ("triage", "worked"),
    "/admin/closures": ("worked",),
    "/admin/disclosures": ("worked",),
}


def details(t: Township) -> list[str]:
    return [
        f"/admin/tips/{t.tip.id}",
        f"/admin/attachments/{t.tip_photo.id}",
        f"/admin/route/{t.triage.id}",
        f"/admin/cases/{t.worked.id}",
        f"/admin/desk/cases/{t.worked.id}",
        f"/admin/desk/cases/{t.worked.id}/photos",
        f"/admin/desk/cases/{t.worked.id}/photos?file={t.worked_photo.id}",
        f"/admin/desk/cases/{t.triage.id}/photos?file={t.tip_photo.id}",
        f"/admin/disclosures/{t.worked.id}",
        f"/admin/disclosures/photos/{t.tip_photo.id}",
        f"/admin/disclosures/photos/{t.worked_photo.id}",
    ]


@pytest.mark.parametrize(("own", "other"), [("a", "b"), ("b", "a")])
def test_a_township_moderator_lists_only_their_township(client, world, township_staff,
                                                        own, other) -> None:
    sign_in(client, township_staff[f"moderator_{own}"])
    for url, kinds in LISTS.items():
        html = text(client, url)
        for kind in kinds:
            assert world[own].names(own)[kind] in html, (url, kind)
        for name in world[other].names(other).values():
            assert name not in html, (url, name)
    queue = text(client, "/admin/queue")
    assert "共 1 条" in queue
    # One township's staff read its villages by name alone.
    assert "（阳高乡）" not in queue and "（北社乡（示例））" not in queue
    assert "共 1 件" in text(client, "/admin/route")


@pytest.mark.parametrize(("own", "other"), [("a", "b"), ("b", "a")])
def test_another_townships_tip_or_case_by_url_is_not_found(client, world, township_staff,
                                                           own, other) -> None:
    sign_in(client, township_staff[f"moderator_{own}"])
    for url in details(world[own]):
        if url.endswith(f"/admin/desk/cases/{world[own].triage.id}/photos?file="
                        f"{world[own].tip_photo.id}"):
            continue  # the tip's photo is not the triage case's: a 404 for everyone
        assert client.get(url).status_code == 200, url
    for url in details(world[other]):
        assert client.get(url).status_code == 404, url


def test_the_county_moderator_sees_both_townships(client, world, township_staff) -> None:
    sign_in(client, township_staff["moderator_county"])
    for url, kinds in LISTS.items():
        html = text(client, url)
        for key in ("a", "b"):
            for kind in kinds:
                assert world[key].names(key)[kind] in html, (url, key, kind)
    # Village names repeat across townships: the county's queue names the township.
    assert "北社村（示例）（北社乡（示例））" in text(client, "/admin/queue")
    for key in ("a", "b"):
        assert client.get(f"/admin/tips/{world[key].tip.id}").status_code == 200
        assert client.get(f"/admin/disclosures/{world[key].worked.id}").status_code == 200


def test_a_township_supervisor_closes_only_their_townships_cases(client, world,
                                                                 township_staff) -> None:
    sign_in(client, township_staff["supervisor_b"])
    html = text(client, "/admin/closures")
    assert "北社整改商店" in html and "阳高整改商店" not in html
    assert client.get(f"/admin/desk/cases/{world['a'].worked.id}").status_code == 404
    url = f"/admin/desk/cases/{world['a'].worked.id}/close"
    response = client.post(url, data={"csrf_token": csrf_token(client, "/admin/closures")})
    assert response.status_code == 404


def test_the_county_brigade_sees_its_assignments_in_every_township(client, world,
                                                                   township_staff) -> None:
    sign_in(client, township_staff["officer_county"])
    for url in ("/admin/desk", "/admin/cases"):
        html = text(client, url)
        assert "阳高整改商店" in html and "北社整改商店" in html, url
        # Serving several townships, the brigade reads each village with its township.
        assert "北社村（示例）（北社乡（示例））" in html and "阳高村（示例）（阳高乡）" in html
    for key in ("a", "b"):
        assert client.get(f"/admin/desk/cases/{world[key].worked.id}").status_code == 200


def test_a_township_team_sees_nothing_of_another_township(client, world,
                                                          township_staff) -> None:
    sign_in(client, township_staff["officer_a"])
    for url in ("/admin/desk", "/admin/desk?group=rectified", "/admin/cases"):
        html = text(client, url)
        assert "阳高整改商店" in html, url
        assert "北社整改商店" not in html, url
    assert "待销案 <small>1 件</small>" in text(client, "/admin/desk")
    b = world["b"]
    for url in (f"/admin/desk/cases/{b.worked.id}", f"/admin/cases/{b.worked.id}",
                f"/admin/desk/cases/{b.worked.id}/photos?file={b.worked_photo.id}"):
        assert client.get(url).status_code == 404, url


# ---------------------------------------------------------------- duplicates and merging


def test_a_tip_is_never_offered_or_merged_into_another_townships_case(
        client, db_session, world, township_staff) -> None:
    # The same unit name, category and village name (东庄村 is in both townships).
    yanggao_case = factories.make_case(
        db_session, village=factories.village(db_session, "V02"),
        unit=Unit(name="东庄小卖部", normalized_name="东庄小卖部",
                  village=factories.village(db_session, "V02")))
    beishe_tip = factories.make_tip(db_session, village=factories.village(db_session, "BS-V02"),
                                    unit_name="东庄小卖部")
    db_session.commit()
    sign_in(client, township_staff["moderator_county"])
    page = text(client, f"/admin/tips/{beishe_tip.id}")
    assert f"/admin/tips/{beishe_tip.id}/merge/{yanggao_case.id}" not in page
    response = client.post(f"/admin/tips/{beishe_tip.id}/merge/{yanggao_case.id}",
                           data={"csrf_token": csrf_token(client, "/admin/queue")})
    assert response.status_code == 400
    assert "只能合并到本乡镇的工单" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Tip, beishe_tip.id).case_id is None


def test_a_township_moderator_cannot_merge_into_another_townships_case(
        client, world, township_staff) -> None:
    sign_in(client, township_staff["moderator_a"])
    response = client.post(f"/admin/tips/{world['a'].tip.id}/merge/{world['b'].triage.id}",
                           data={"csrf_token": csrf_token(client, "/admin/queue")})
    assert response.status_code == 404


# ---------------------------------------------------------------- routing


def test_routing_offers_and_accepts_only_departments_serving_the_township(
        client, db_session, world, township_staff) -> None:
    sign_in(client, township_staff["moderator_b"])
    case = world["b"].triage
    page = text(client, f"/admin/route/{case.id}")
    assert "北社派出所（示例）" in page
    assert "平顺县消防救援大队" in page and "平顺县市场监督管理局" in page
    assert "阳高乡靠前驻防消防队" not in page and "阳高派出所" not in page
    fire = factories.department(db_session, "FIRE")
    response = client.post(f"/admin/route/{case.id}", data={
        "csrf_token": csrf_token(client, f"/admin/route/{case.id}"), "lead": fire.id,
        "override_reason": "试图派给外乡镇部门", "summary": "摘要"})
    assert response.status_code == 400
    assert "阳高乡靠前驻防消防队不负责北社乡（示例），不能接收本案件的派单" in \
        response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Assignment)
                             .where(Assignment.case_id == case.id)) == 0


def test_the_transfer_list_names_only_departments_serving_the_township(
        client, world, township_staff) -> None:
    sign_in(client, township_staff["officer_county"])
    page = text(client, f"/admin/desk/cases/{world['b'].worked.id}")
    start = page.index('id="act-transfer"')
    transfer = page[start:page.index("</section>", start)]
    assert "平顺县市场监督管理局" in transfer
    assert "阳高派出所" not in transfer


# ---------------------------------------------------------------- staff-entered tips


def test_staff_enter_tips_only_for_their_townships_villages(client, db_session,
                                                            township_staff) -> None:
    sign_in(client, township_staff["moderator_a"])
    form = text(client, "/admin/tips/new")
    assert "阳高村（示例）" in form and "北社村（示例）" not in form
    outside = factories.village(db_session, "BS-V01")
    response = client.post("/admin/tips/new", data={
        "csrf_token": csrf_token(client, "/admin/tips/new"), "channel": "phone",
        "unit_name": "外乡镇商店", "village": outside.id,
        "category": factories.category(db_session).id, "venue_type": 0,
        "description": "店内电线私拉乱接，插线板串联。"})
    assert "回执码" not in response.get_data(as_text=True)
    assert db_session.scalar(select(Tip).where(Tip.unit_name == "外乡镇商店")) is None


def test_county_staff_enter_tips_for_any_village_named_with_its_township(
        client, db_session, township_staff) -> None:
    sign_in(client, township_staff["moderator_county"])
    form = text(client, "/admin/tips/new")
    assert "东庄村（示例）（阳高乡）" in form
    assert "东庄村（示例）（北社乡（示例））" in form
    response = client.post("/admin/tips/new", data={
        "csrf_token": csrf_token(client, "/admin/tips/new"), "channel": "visit",
        "unit_name": "北社来访商店", "village": factories.village(db_session, "BS-V02").id,
        "category": factories.category(db_session).id, "venue_type": 0,
        "description": "店内电线私拉乱接，插线板串联。"})
    assert "回执码" in response.get_data(as_text=True)
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    sign_in(client, township_staff["moderator_b"])
    assert "北社来访商店" in text(client, "/admin/queue")


def test_an_inspection_case_is_opened_only_in_the_moderators_township(
        client, db_session, township_staff) -> None:
    sign_in(client, township_staff["moderator_b"])
    form = text(client, "/admin/cases/inspection")
    assert "北社村（示例）" in form and "阳高村（示例）" not in form
    response = client.post("/admin/cases/inspection", data={
        "csrf_token": csrf_token(client, "/admin/cases/inspection"),
        "unit_name": "外乡镇巡查商店", "village": factories.village(db_session, "V01").id,
        "category": factories.category(db_session).id, "venue_type": 0})
    assert response.status_code != 302
    assert db_session.scalar(select(Unit).where(Unit.name == "外乡镇巡查商店")) is None
