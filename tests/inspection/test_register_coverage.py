"""The supervisor's coverage of the register (issue 22): units known and inspected per village
and per venue type of their townships."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.inspection import coverage, merging
from portal.domain.models import InspectionRound, InspectionTask, Unit, User
from portal.domain.models.inspections import TaskResult, TaskStatus
from tests import factories
from tests.admin import conftest as admin_fixtures
from tests.admin.conftest import (  # noqa: F401 (fixtures)
    fast_password_hashing,
    sign_in,
    text,
)

# The two townships' staff (tests/admin/conftest.py), as a fixture of this module.
township_staff = admin_fixtures.township_staff

pytestmark = pytest.mark.usefixtures("app")
TODAY = dt.date(2026, 12, 2)


def unit(session: Session, name: str, village: str, venue: str | None = None) -> Unit:
    found = Unit(name=name, normalized_name=name, village=factories.village(session, village),
                 venue_type=factories.venue_type(session, venue) if venue else None)
    session.add(found)
    session.flush()
    return found


def inspect(session: Session, round_: InspectionRound, target: Unit, *, done: bool) -> None:
    session.add(InspectionTask(
        round_id=round_.id, unit_id=target.id, due_on=TODAY,
        status=TaskStatus.DONE if done else TaskStatus.OPEN,
        result=TaskResult.PASSED if done else None,
        completed_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC) if done else None))
    session.flush()


@pytest.fixture
def register_of_two_townships(db_session: Session, township_staff: dict[str, User]) -> None:
    round_ = InspectionRound(township_id=factories.township(db_session).id, name="冬季排查",
                             starts_on=TODAY, ends_on=TODAY + dt.timedelta(days=30),
                             created_by_id=township_staff["supervisor_a"].id)
    db_session.add(round_)
    db_session.flush()
    shop, inn = unit(db_session, "小卖部", "V01", "street_shop"), unit(db_session, "旅馆", "V01")
    inspect(db_session, round_, shop, done=True)
    inspect(db_session, round_, inn, done=False)  # planned, not yet inspected
    # A restaurant inspected under a duplicate name, then merged: it counts as inspected
    # once, though the done task stays with the duplicate (the kept one has its own task on
    # that round).
    kept = unit(db_session, "东庄饭店", "V02", "restaurant")
    duplicate = unit(db_session, "东庄 饭店", "V02")
    inspect(db_session, round_, kept, done=False)
    inspect(db_session, round_, duplicate, done=True)
    merging.merge_units(db_session, duplicate, kept, actor=township_staff["moderator_a"])
    unit(db_session, "北社旅馆", "BS-V01", "street_shop")  # another township's
    db_session.commit()


@pytest.mark.usefixtures("register_of_two_townships")
def test_coverage_counts_known_and_inspected_units_per_village_and_venue_type(
    db_session: Session, township_staff: dict[str, User]
) -> None:
    figures = coverage.coverage(db_session, township_staff["supervisor_a"])
    villages = {r.label: (r.known, r.inspected) for r in figures.by_village}
    assert villages["阳高村（示例）"] == (2, 1) and villages["东庄村（示例）"] == (1, 1)
    assert villages["西沟村（示例）"] == (0, 0)
    assert "北社村（示例）" not in villages
    venues = {r.label: (r.known, r.inspected) for r in figures.by_venue_type}
    assert venues["沿街商铺"] == (1, 1) and venues["餐馆饭店"] == (1, 1)
    assert venues["未分类"] == (1, 0)
    assert (figures.total.known, figures.total.inspected) == (3, 2)
    assert round(figures.total.share, 2) == 0.67
    county = coverage.coverage(db_session, township_staff["supervisor_county"])
    assert (county.total.known, county.total.inspected) == (4, 2)


@pytest.mark.usefixtures("register_of_two_townships")
def test_the_supervisor_reads_the_coverage_page(
    client: FlaskClient, township_staff: dict[str, User]
) -> None:
    sign_in(client, township_staff["supervisor_a"])
    page = text(client, "/admin/register/coverage")
    assert "底数覆盖情况" in page and "按场所类型" in page
    assert "<td>阳高村（示例）</td><td>2</td><td>1</td><td>50%</td>" in page
    assert "<th>合计</th><th>3</th><th>2</th><th>67%</th>" in page
    assert "北社村" not in page
