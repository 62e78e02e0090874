from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.administration import jurisdiction
from portal.domain.models import Category, Department, RoutingRule, VenueType, Village
from tests.conftest import DEMO_JURISDICTION

pytestmark = pytest.mark.usefixtures("app")

TABLES = (Village, Department, VenueType, Category, RoutingRule)

MINIMAL = """\
[jurisdiction]
name = "测试乡"
office_department = "OFFICE"

[[villages]]
code = "A"
name = "甲村"

[[villages]]
code = "B"
name = "乙村"

[[departments]]
code = "OFFICE"
name = "乡消安办"
kind = "safety_office"

[[departments]]
code = "FIRE"
name = "消防站"
kind = "fire_station"

[[venue_types]]
code = "shop"
name = "商铺"

[[categories]]
code = "exit"
name = "堵塞出口"
urgent = true

[[routing_rules]]
category = "exit"
lead = "FIRE"
"""


def _counts(session: Session) -> dict[str, int]:
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in TABLES}


def test_loading_the_demo_twice_changes_no_row_counts(db_session: Session) -> None:
    before = _counts(db_session)
    report = jurisdiction.load_file(db_session, DEMO_JURISDICTION)
    assert _counts(db_session) == before
    assert sum(report.created.values()) == 0 and sum(report.updated.values()) == 0


def test_the_demo_has_the_plans_vocabulary(db_session: Session) -> None:
    urgent = db_session.scalars(select(Category.name).where(Category.urgent)).all()
    assert sorted(urgent) == sorted(["占堵生命通道/疏散通道", "消防设施损坏停用"])
    assert db_session.scalar(select(func.count()).select_from(VenueType)) == 17
    assert db_session.scalar(select(func.count()).select_from(Category)) == 17
    names = db_session.scalars(select(Department.name)).all()
    assert any("派出所" in n for n in names) and any("综合行政执法队" in n for n in names)
    assert any("网格员" in n for n in names)
    assert all("示例" in v for v in db_session.scalars(select(Village.name)))


def test_a_reload_updates_in_place_and_deactivates_what_is_gone(db_session: Session) -> None:
    jurisdiction.load(db_session, jurisdiction.parse(MINIMAL))
    village_b = db_session.scalar(select(Village).where(Village.code == "B"))
    assert village_b is not None and village_b.active

    shrunk = MINIMAL.replace('[[villages]]\ncode = "B"\nname = "乙村"\n', "").replace(
        'name = "甲村"', 'name = "甲村（更名）"')
    report = jurisdiction.load(db_session, jurisdiction.parse(shrunk))
    db_session.refresh(village_b)
    assert not village_b.active, "a village no longer listed is deactivated, not deleted"
    renamed = db_session.scalar(select(Village).where(Village.code == "A"))
    assert renamed.name == "甲村（更名）"
    assert report.deactivated["villages"] >= 1
    # The demo's own rows, absent from this file, were deactivated too, never deleted.
    demo_village = db_session.scalar(select(Village).where(Village.code == "V01"))
    assert demo_village is not None and not demo_village.active

    jurisdiction.load(db_session, jurisdiction.parse(MINIMAL))
    db_session.refresh(village_b)
    assert village_b.active, "listing it again reactivates it"


def test_routing_rules_are_matched_by_their_criteria(db_session: Session) -> None:
    jurisdiction.load(db_session, jurisdiction.parse(MINIMAL))
    rules = lambda: db_session.scalars(  # noqa: E731
        select(RoutingRule).where(RoutingRule.active)).all()
    assert [r.lead_department.code for r in rules()] == ["FIRE"]
    jurisdiction.load(db_session, jurisdiction.parse(MINIMAL.replace(
        'category = "exit"\nlead = "FIRE"', 'category = "exit"\nlead = "OFFICE"')))
    assert [r.lead_department.code for r in rules()] == ["OFFICE"]


@pytest.mark.parametrize(
    ("edit", "line", "fragment"),
    [
        (lambda t: t.replace('name = "乙村"', 'name = "乙村'), 11, "TOML 格式错误"),
        (lambda t: t.replace('code = "B"\n', ""), 9, "villages[1].code"),
        (lambda t: t.replace('kind = "fire_station"', 'kind = "fire_brigade"'), 21, "kind"),
        (lambda t: t.replace('lead = "FIRE"', 'lead = "NOPE"'), 34, "routing_rules[0].lead"),
        (lambda t: t.replace('urgent = true', 'urgent = "yes"'), 30, "categories[0].urgent"),
        (lambda t: t.replace('urgent = true', 'urgnet = true'), 30, "categories[0].urgnet"),
        (lambda t: t.replace('code = "B"', 'code = "A"'), 9, "与第 0 条重复"),
        (lambda t: t.replace('office_department = "OFFICE"', 'office_department = "X"'), 3,
         "jurisdiction.office_department"),
    ],
)
def test_a_malformed_file_names_the_line_and_key(edit, line: int, fragment: str) -> None:
    with pytest.raises(jurisdiction.JurisdictionError) as exc:
        jurisdiction.parse(edit(MINIMAL), "town.toml")
    message = str(exc.value)
    assert message.startswith(f"town.toml 第 {line} 行"), message
    assert fragment in message


def test_the_cli_loads_and_reports_errors(runner, tmp_path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL, encoding="utf-8")
    result = runner.invoke(args=["portal", "load-jurisdiction", str(good)])
    assert result.exit_code == 0, result.output
    assert "已载入" in result.output

    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace('lead = "FIRE"', 'lead = "NOPE"'), encoding="utf-8")
    result = runner.invoke(args=["portal", "load-jurisdiction", str(bad)])
    assert result.exit_code != 0
    assert "第 34 行" in result.output and "NOPE" in result.output


def test_a_villages_position_is_loaded_and_checked(db_session: Session) -> None:
    placed = MINIMAL.replace('name = "甲村"\n',
                             'name = "甲村"\nlatitude = 36.2\nlongitude = 113.7\n')
    jurisdiction.load(db_session, jurisdiction.parse(placed))
    village = db_session.scalar(select(Village).where(Village.code == "A"))
    assert (village.latitude, village.longitude) == (36.2, 113.7)
    half = r"villages\[0\]\.longitude）：纬度和经度须同时填写"
    for bad, fragment in (("latitude = 36.2\n", half),
                          ('latitude = 136.2\nlongitude = 113.7\n', "纬度须为 -90 到 90")):
        with pytest.raises(jurisdiction.JurisdictionError, match=fragment):
            jurisdiction.parse(MINIMAL.replace('name = "甲村"\n', f'name = "甲村"\n{bad}'))
