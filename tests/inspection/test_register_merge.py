"""Merging duplicate units (issue 22): cases, reports, tasks and self-checks move to the kept
unit, the merged one disappears from lists and matching, its page leads to the kept one, and
the trail keeps what moved."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.inspection import merging, register
from portal.domain.models import (
    AuditLog,
    Case,
    InspectionRound,
    InspectionTask,
    SelfCheckCode,
    Tip,
    Unit,
    User,
)
from portal.domain.models.inspections import TaskStatus
from tests import factories
from tests.admin import conftest as admin_fixtures
from tests.admin.conftest import (  # noqa: F401 (fixtures)
    fast_password_hashing,
    sign_in,
    text,
)
from tests.conftest import csrf_token

# The two townships' staff (tests/admin/conftest.py), as a fixture of this module.
township_staff = admin_fixtures.township_staff

pytestmark = pytest.mark.usefixtures("app")

TODAY = dt.date(2026, 12, 2)


def unit(session: Session, name: str, village: str = "V01", **values: object) -> Unit:
    found = Unit(name=name, normalized_name=register.normalize_name(name),
                 village=factories.village(session, village), **values)
    session.add(found)
    session.flush()
    return found


def a_round(session: Session, user: User) -> InspectionRound:
    found = InspectionRound(township_id=factories.township(session).id, name="冬季排查",
                            starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=30),
                            created_by_id=user.id)
    session.add(found)
    session.flush()
    return found


def test_a_merge_moves_the_history_and_keeps_the_trail(
    db_session: Session, township_staff: dict[str, User]
) -> None:
    actor = township_staff["moderator_a"]
    kept = unit(db_session, "张三小卖部", risk_level="normal")
    duplicate = unit(db_session, "张三 小卖部", "V02", address="东街1号", risk_level="high",
                     lat=36.1, lon=113.4, venue_type=factories.venue_type(db_session))
    case = factories.make_case(db_session, unit=duplicate,
                               village=factories.village(db_session, "V02"))
    tip = factories.make_tip(db_session, unit_id=duplicate.id)
    shared, own = a_round(db_session, actor), a_round(db_session, actor)
    db_session.add_all([
        InspectionTask(round_id=shared.id, unit_id=kept.id, due_on=TODAY),
        InspectionTask(round_id=shared.id, unit_id=duplicate.id, due_on=TODAY),
        InspectionTask(round_id=own.id, unit_id=duplicate.id, due_on=TODAY),
        SelfCheckCode(unit_id=duplicate.id, cycle=1, code_hash="d" * 64,
                      created_by_id=actor.id, expires_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
    ])
    db_session.flush()

    moved = merging.merge_units(db_session, duplicate, kept, actor=actor)

    assert db_session.get(Case, case.id).unit_id == kept.id  # type: ignore[union-attr]
    # The case takes the kept unit's village (its lists and tallies follow).
    assert db_session.get(Case, case.id).village_id == kept.village_id  # type: ignore[union-attr]
    assert db_session.get(Tip, tip.id).unit_id == kept.id  # type: ignore[union-attr]
    assert db_session.scalars(select(InspectionTask).where(
        InspectionTask.round_id == own.id)).one().unit_id == kept.id
    # On the round both had a task, the duplicate's stays behind, cancelled.
    left = db_session.scalars(select(InspectionTask).where(
        InspectionTask.round_id == shared.id, InspectionTask.unit_id == duplicate.id)).one()
    assert left.status is TaskStatus.CANCELLED and moved.tasks_cancelled == [left.id]
    assert db_session.scalars(select(SelfCheckCode.unit_id).where(
        SelfCheckCode.code_hash == "d" * 64)).one() == kept.id
    # The kept unit's blanks filled, the higher risk kept; the duplicate marked merged.
    assert (kept.address, kept.lat, kept.risk_level) == ("东街1号", 36.1, "high")
    assert kept.venue_type_id == factories.venue_type(db_session).id
    assert duplicate.merged_into_id == kept.id
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "unit.merge")).one()
    assert row.object_id == str(duplicate.id) and row.after["merged_into_id"] == kept.id
    assert row.after["cases"] == [case.id] and row.after["tips"] == [tip.id]
    # Gone from matching; the kept unit's history holds the duplicate's.
    assert register.match_unit(db_session, village_id=duplicate.village_id,
                               name="张三小卖部", address="东街1号") is None
    kinds = {e.kind for e in register.history(db_session, kept)}
    assert {"case", "tip", "inspection"} <= kinds


@pytest.mark.parametrize("case_", ["itself", "merged", "other_township"])
def test_a_merge_that_makes_no_sense_is_refused(
    db_session: Session, township_staff: dict[str, User], case_: str
) -> None:
    first, second = unit(db_session, "甲"), unit(db_session, "乙")
    third = unit(db_session, "丙", "BS-V01")
    if case_ == "merged":
        merging.merge_units(db_session, second, first, actor=township_staff["moderator_a"])
    target = {"itself": first, "merged": second, "other_township": third}[case_]
    source = first if case_ != "merged" else unit(db_session, "丁")
    with pytest.raises(register.RegisterError):
        merging.merge_units(db_session, source, target, actor=township_staff["moderator_a"])


def test_merging_from_the_units_page_asks_first_then_redirects_to_the_kept_unit(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    kept, duplicate = unit(db_session, "张三小卖部"), unit(db_session, "张三 小卖部", "V02")
    theirs = unit(db_session, "北社旅馆", "BS-V01")
    case = factories.make_case(db_session, unit=duplicate,
                               village=factories.village(db_session, "V02"))
    db_session.commit()
    sign_in(client, township_staff["moderator_a"])
    page = text(client, f"/admin/register/{duplicate.id}")
    assert "合并重复场所" in page and f"场所 {kept.id}：张三小卖部" in page  # a likely duplicate
    url = f"/admin/register/{duplicate.id}/merge"
    token = csrf_token(client, f"/admin/register/{duplicate.id}")
    confirm = client.post(url, data={"csrf_token": token, "into": str(kept.id)})
    assert confirm.status_code == 200 and "确认合并" in confirm.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Unit, duplicate.id).merged_into_id is None  # type: ignore[union-attr]
    # Another township's unit is not there to merge into.
    refused = client.post(url, data={"csrf_token": token, "into": str(theirs.id)})
    assert refused.status_code == 303
    assert "本乡镇没有编号为" in text(client, refused.headers["Location"])
    done = client.post(url, data={"csrf_token": token, "into": str(kept.id), "confirm": "1"})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/admin/register/{kept.id}")
    db_session.expire_all()
    assert db_session.get(Case, case.id).unit_id == kept.id  # type: ignore[union-attr]
    # The merged unit's page leads to the kept one; the list no longer shows it.
    old = client.get(f"/admin/register/{duplicate.id}")
    assert old.status_code == 302 and old.headers["Location"].endswith(f"/{kept.id}")
    listed = text(client, "/admin/register?q=小卖部")
    assert f">{duplicate.id}</td>" not in listed and f">{kept.id}</td>" in listed


def test_a_supervisor_reads_the_register_but_cannot_merge(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    kept, duplicate = unit(db_session, "甲"), unit(db_session, "乙")
    db_session.commit()
    sign_in(client, township_staff["supervisor_a"])
    token = csrf_token(client, "/admin/password")
    response = client.post(f"/admin/register/{duplicate.id}/merge",
                           data={"csrf_token": token, "into": str(kept.id), "confirm": "1"})
    assert response.status_code == 403
