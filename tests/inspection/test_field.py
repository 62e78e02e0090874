"""Filing a hazard from the field (issue 22): a grid inspector files with a photo and the
filing reaches the moderation queue of its township, never another's."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.enums import AssignmentRole, CaseStatus, Channel, Role, TipStatus
from portal.domain.models import Attachment, AuditLog, Case, Tip, Unit, User
from portal.domain.vetting.duplicates import normalize_name
from tests import factories
from tests.admin.conftest import (  # noqa: F401 (fixtures)
    fast_password_hashing,
    make_user,
    sign_in,
    text,
    township_staff,
)
from tests.conftest import csrf_token
from tests.images import jpeg_with_gps

URL = "/admin/field"
DESCRIPTION = "店内电线私拉乱接，插线板串联，旁边堆放纸箱。"


@pytest.fixture
def grid(db_session: Session) -> User:
    return make_user(db_session, "grid-a", Role.GRID_INSPECTOR, township="yanggao")


@pytest.fixture
def shop(db_session: Session) -> Unit:
    unit = Unit(name="阳高百货店", normalized_name=normalize_name("阳高百货店"),
                village=factories.village(db_session, "V02"), address="东街 3 号",
                source="census")
    db_session.add(unit)
    db_session.commit()
    return unit


def file(client: FlaskClient, **values: object):
    form: dict[str, object] = {
        "csrf_token": csrf_token(client, URL),
        "unit": "0",
        "unit_name": "村口小卖部",
        "village": str(values.pop("village")),
        "category": str(values.pop("category")),
        "venue_type": "0",
        "description": DESCRIPTION,
    }
    form.update(values)
    return client.post(URL, data=form, content_type="multipart/form-data")


def filed(db_session: Session, grid: User) -> list[Tip]:
    db_session.expire_all()
    return list(db_session.scalars(select(Tip).where(Tip.created_by_id == grid.id)))


def test_a_grid_inspector_files_with_a_photo_and_it_reaches_the_queue(
        client: FlaskClient, db_session: Session, grid: User,
        township_staff: dict[str, User]) -> None:  # noqa: F811
    sign_in(client, grid)
    assert "现场上报隐患" in text(client, URL)
    response = file(client, village=factories.village(db_session, "V01").id,
                    category=factories.category(db_session).id, lat="36.123456",
                    lon="113.654321", photos=(io.BytesIO(jpeg_with_gps()), "现场.jpg"))
    assert response.status_code == 303, response.get_data(as_text=True)
    [tip] = filed(db_session, grid)
    assert (tip.channel, tip.status, tip.unit_name) == (Channel.GRID, TipStatus.PENDING,
                                                        "村口小卖部")
    assert tip.lat is not None and tip.unit_id is None
    photos = db_session.scalars(select(Attachment).where(Attachment.tip_id == tip.id)).all()
    assert len(photos) == 1 and photos[0].uploaded_by_id == grid.id
    assert db_session.scalar(select(AuditLog.id).where(
        AuditLog.action == "tip.field_file", AuditLog.object_id == str(tip.id))) is not None

    # The filer sees it among their filings, with its status.
    mine = text(client, "/admin/field/filings")
    assert f"#{tip.id}" in mine and "待审核" in mine

    # The township's moderator has it in the queue; another township's does not.
    sign_in(client, township_staff["moderator_a"])
    assert "村口小卖部" in text(client, "/admin/queue")
    assert client.get(f"/admin/tips/{tip.id}").status_code == 200
    sign_in(client, township_staff["moderator_b"])
    assert "村口小卖部" not in text(client, "/admin/queue")
    assert client.get(f"/admin/tips/{tip.id}").status_code == 404


def test_a_unit_picked_from_the_register_is_on_the_tip(
        client: FlaskClient, db_session: Session, grid: User, shop: Unit) -> None:
    sign_in(client, grid)
    page = text(client, URL + "?q=百货")
    assert "阳高百货店" in page
    response = file(client, village=factories.village(db_session, "V01").id,
                    category=factories.category(db_session).id, unit=str(shop.id),
                    unit_name="")
    assert response.status_code == 303, response.get_data(as_text=True)
    [tip] = filed(db_session, grid)
    # The register's place: its name, village and address, not the form's village.
    assert (tip.unit_id, tip.unit_name, tip.village_id, tip.address) == (
        shop.id, "阳高百货店", shop.village_id, "东街 3 号")


def test_another_townships_village_and_unit_are_refused(
        client: FlaskClient, db_session: Session, grid: User) -> None:
    elsewhere = factories.village(db_session, "BS-V02")
    foreign = Unit(name="北社饭店", normalized_name=normalize_name("北社饭店"),
                   village=elsewhere)
    db_session.add(foreign)
    db_session.commit()
    sign_in(client, grid)
    page = text(client, URL)
    assert "北社饭店" not in page
    assert f'value="{elsewhere.id}">{elsewhere.name}</option>' not in page

    # The village is not among the choices: refused, nothing filed.
    response = file(client, village=elsewhere.id, category=factories.category(db_session).id)
    assert response.status_code == 400
    assert "只能选择本乡镇的村" in response.get_data(as_text=True)
    # A unit of another township's register, posted by hand, is refused too.
    response = file(client, village=factories.village(db_session, "V01").id,
                    category=factories.category(db_session).id, unit=str(foreign.id))
    assert response.status_code == 400
    assert "所选场所不在本乡镇的场所底数中" in response.get_data(as_text=True)
    assert filed(db_session, grid) == []


def test_a_bad_filing_says_why_and_keeps_what_was_typed(
        client: FlaskClient, db_session: Session, grid: User) -> None:
    sign_in(client, grid)
    response = file(client, village=factories.village(db_session, "V01").id,
                    category=factories.category(db_session).id, description="太短",
                    unit_name="村口小卖部")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "请描述隐患情况" in page and "村口小卖部" in page
    assert filed(db_session, grid) == []


def test_the_filings_list_shows_only_ones_own(
        client: FlaskClient, db_session: Session, grid: User) -> None:
    other = make_user(db_session, "grid-a2", Role.GRID_INSPECTOR, township="yanggao")
    theirs = factories.make_tip(db_session, channel=Channel.GRID, created_by_id=other.id,
                                unit_name="别人报的加工厂")
    db_session.commit()
    sign_in(client, grid)
    page = text(client, "/admin/field/filings")
    assert "别人报的加工厂" not in page and f"#{theirs.id}" not in page
    # No desk, no queue for a grid inspector.
    assert client.get("/admin/queue").status_code == 403


def test_a_filing_for_the_filers_own_committee_says_it_will_be_routed_there(
        client: FlaskClient, db_session: Session) -> None:
    from portal.domain.models import RoutingRule

    committee = factories.department(db_session, "VC-V01")
    member = make_user(db_session, "grid-vc1", Role.GRID_INSPECTOR, "VC-V01",
                       township="yanggao")
    db_session.add(RoutingRule(category=factories.category(db_session),
                               village=factories.village(db_session, "V01"),
                               township_id=committee.township_id, lead_department=committee,
                               priority=100))
    db_session.commit()
    sign_in(client, member)
    response = file(client, village=factories.village(db_session, "V01").id,
                    category=factories.category(db_session).id)
    assert response.status_code == 303
    page = text(client, "/admin/field/filings")
    assert f"由{committee.name}牵头" in page
    # Still the moderation queue's: a filer neither accepts nor routes.
    [tip] = filed(db_session, member)
    assert tip.status is TipStatus.PENDING and tip.case_id is None


def test_an_officers_own_filing_goes_straight_to_its_desk_when_it_leads(
        client: FlaskClient, db_session: Session) -> None:
    fire = make_user(db_session, "fire-field", Role.OFFICER, "FIRE")
    police = make_user(db_session, "police-field", Role.OFFICER, "POLICE")
    blocked = factories.category(db_session, "blocked_escape")  # the fire station leads it
    sign_in(client, fire)
    response = file(client, village=factories.village(db_session, "V01").id,
                    category=blocked.id)
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/desk")
    [tip] = filed(db_session, fire)
    assert tip.status is TipStatus.ACCEPTED and tip.case_id is not None
    desk = text(client, "/admin/desk")
    assert "村口小卖部" in desk
    case = db_session.get(Case, tip.case_id)
    assert case is not None and case.status is CaseStatus.ROUTED
    assert [a.department.code for a in case.assignments
            if a.role is AssignmentRole.LEAD] == ["FIRE"]
    assert db_session.scalar(select(AuditLog).where(
        AuditLog.action == "tip.accept_own_filing", AuditLog.object_id == str(tip.id))) is not None
    # The police's officer files the same: the fire station leads it, so it is the queue's.
    sign_in(client, police)
    response = file(client, village=factories.village(db_session, "V01").id,
                    category=blocked.id, unit_name="村口小卖部二")
    assert response.headers["Location"].endswith("/admin/field/filings")
    [other] = filed(db_session, police)
    assert other.status is TipStatus.PENDING and other.case_id is None


def test_the_offices_own_filing_with_no_rule_waits_in_the_queue_and_is_kept(
        client: FlaskClient, db_session: Session) -> None:
    """No routing rule matches: the township office triages by hand, so the office's own
    filing is not "the rules make it the lead". It used to be told so, sent to the desk and
    refused there (409, the filing and its photo rolled back)."""
    from portal.domain.models import Category, RoutingRule

    clerk = make_user(db_session, "office-field", Role.OFFICER, "XAB", township="yanggao")
    odd = Category(code="odd_one", name="其他（无规则）", sort_order=99)
    db_session.add(odd)
    db_session.commit()
    assert db_session.scalar(select(RoutingRule).where(RoutingRule.category_id == odd.id)) is None
    sign_in(client, clerk)
    response = file(client, village=factories.village(db_session, "V01").id, category=odd.id)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/field/filings")
    [tip] = filed(db_session, clerk)
    assert tip.status is TipStatus.PENDING and tip.case_id is None
    assert "牵头" not in text(client, "/admin/field/filings")
