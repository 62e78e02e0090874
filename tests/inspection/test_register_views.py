"""The register's screens (issue 22): the list of a township's places, a unit's page with its
history, and the scope: another township's unit answers 404."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.models import Unit, User
from portal.identity import cipher
from tests import factories
from tests.admin import conftest as admin_fixtures
from tests.admin.conftest import (  # noqa: F401 (fixtures)
    fast_password_hashing,
    sign_in,
    text,
)

# The two townships' staff (tests/admin/conftest.py), as a fixture of this module.
township_staff = admin_fixtures.township_staff


def place(session: Session, name: str, village: str = "V01", **values: object) -> Unit:
    unit = Unit(name=name, normalized_name=name, village=factories.village(session, village),
                **values)
    session.add(unit)
    session.commit()
    return unit


def test_the_list_shows_the_townships_units_filtered_and_counted(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    shop = place(db_session, "阳高小卖部", address="东街1号", risk_level="high",
                 venue_type=factories.venue_type(db_session))
    factories.make_case(db_session, unit=shop)
    factories.make_case(db_session, unit=shop)
    place(db_session, "东庄饭店", "V02", address="西街8号")
    place(db_session, "北社旅馆", "BS-V01")
    db_session.commit()
    sign_in(client, township_staff["supervisor_a"])
    page = text(client, "/admin/register")
    assert "阳高小卖部" in page and "东庄饭店" in page
    assert "北社旅馆" not in page  # another township's place
    # Search by name (spaces and punctuation do not matter) and by address.
    found = text(client, "/admin/register?q=阳高+小卖部")
    assert "阳高小卖部" in found and "东庄饭店" not in found
    assert "东庄饭店" in text(client, "/admin/register?q=西街")
    high = text(client, "/admin/register?risk=high")
    assert "阳高小卖部" in high and "东庄饭店" not in high
    by_village = text(client, f"/admin/register?village={factories.village(db_session, 'V02').id}")
    assert "东庄饭店" in by_village and "阳高小卖部" not in by_village
    # The row carries its risk level, its number of cases and of inspections.
    assert re.search(r"<td>高</td>\s*<td>2</td>\s*<td>0</td>",
                     text(client, "/admin/register?q=小卖部"))
    # The county sees every township's places.
    sign_in(client, township_staff["supervisor_county"])
    assert "北社旅馆" in text(client, "/admin/register")


def test_another_townships_unit_answers_404(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    theirs = place(db_session, "北社旅馆", "BS-V01")
    ours = place(db_session, "阳高小卖部")
    sign_in(client, township_staff["moderator_a"])
    for url in (f"/admin/register/{theirs.id}", f"/admin/register/{theirs.id}/edit"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/admin/register/{ours.id}").status_code == 200
    sign_in(client, township_staff["moderator_b"])
    assert client.get(f"/admin/register/{theirs.id}").status_code == 200
    assert client.get(f"/admin/register/{ours.id}").status_code == 404


def test_the_responsible_person_shows_only_to_those_who_manage_the_register(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User], app
) -> None:
    with app.app_context():
        secret = cipher()
        unit = place(db_session, "阳高小卖部", responsible_enc=secret.encrypt("王五"),
                     contact_enc=secret.encrypt("13800138000"))
    sign_in(client, township_staff["moderator_a"])
    page = text(client, f"/admin/register/{unit.id}")
    assert "王五" in page and "13800138000" in page
    sign_in(client, township_staff["supervisor_a"])  # reads the register, does not manage it
    page = text(client, f"/admin/register/{unit.id}")
    assert "王五" not in page and "13800138000" not in page and "已登记" in page
    assert "合并重复场所" not in page


def test_a_units_page_shows_its_history_and_the_hub_links_to_the_register(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    unit = place(db_session, "阳高小卖部")
    case = factories.make_case(db_session, unit=unit)
    tip = factories.make_tip(db_session, unit_id=unit.id)
    db_session.commit()
    sign_in(client, township_staff["moderator_a"])
    page = text(client, f"/admin/register/{unit.id}")
    assert f"工单 {case.id}" in page and f"举报 {tip.id}" in page
    assert page.index(f"举报 {tip.id}") < page.index(f"工单 {case.id}")  # newest first
    hub = text(client, "/admin/inspections")
    assert "场所底数" in hub and "导入普查底数" in hub and "底数覆盖情况" in hub


@pytest.mark.parametrize("url", ["/admin/register", "/admin/register/coverage",
                                 "/admin/register/import"])
def test_the_register_is_closed_to_grid_inspectors(
    client: FlaskClient, db_session: Session, url: str
) -> None:
    from portal.domain.enums import Role
    from tests.admin.conftest import make_user
    sign_in(client, make_user(db_session, "grid-x", Role.GRID_INSPECTOR, township="yanggao"))
    assert client.get(url).status_code == 403
