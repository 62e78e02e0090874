"""Loading a county's jurisdiction file (issue 18): idempotent, the old single-township format,
adopting the township the upgrade made, and errors that name the line."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.access import accounts
from portal.domain.administration import jurisdiction
from portal.domain.enums import Role
from portal.domain.models import (
    Department,
    RoutingRule,
    Township,
    User,
    Village,
    department_townships,
)
from tests.conftest import DEMO_JURISDICTION
from tests.domain.test_jurisdiction import MINIMAL

pytestmark = pytest.mark.usefixtures("app")

COUNTY = """\
[jurisdiction]
name = "示例县"
office_department = "XAW"

[[townships]]
code = "one"
name = "一乡"
office_department = "OFFICE1"

[[townships]]
code = "two"
name = "二乡"

[[villages]]
code = "A"
name = "甲村"
township = "one"

[[villages]]
code = "B"
name = "乙村"
township = "two"

[[departments]]
code = "XAW"
name = "县消安委办公室"
kind = "safety_office"

[[departments]]
code = "OFFICE1"
name = "一乡消安办"
kind = "safety_office"
township = "one"

[[departments]]
code = "BRIGADE"
name = "县消防救援大队"
kind = "fire_station"
serves = ["one"]

[[categories]]
code = "exit"
name = "堵塞出口"

[[routing_rules]]
township = "one"
category = "exit"
lead = "BRIGADE"
"""


def _everything(session: Session) -> dict[str, object]:
    """Every row the loader writes, as a user of the admin screens would see them."""
    def rows(model: type) -> list[str]:
        return sorted(repr((r.code, r.name, r.active, getattr(r, "township_id", None)))
                      for r in session.scalars(select(model)))

    rules = sorted(repr((r.township_id, r.category_id, r.venue_type_id, r.village_id,
                         r.lead_department_id, r.active))
                   for r in session.scalars(select(RoutingRule)))
    serves = sorted(tuple(row) for row in session.execute(select(department_townships)))
    return {"townships": rows(Township), "villages": rows(Village),
            "departments": rows(Department), "rules": rules, "serves": serves}


def test_loading_the_demo_county_twice_changes_nothing(db_session: Session) -> None:
    before = _everything(db_session)
    report = jurisdiction.load_file(db_session, DEMO_JURISDICTION)
    assert _everything(db_session) == before
    assert not report.created and not report.updated and not report.deactivated
    assert {t.code for t in db_session.scalars(select(Township))} == {
        "yanggao", "beishe", "xigou"}


def test_an_old_single_township_file_loads_as_one_township_t1(db_session: Session) -> None:
    jurisdiction.load(db_session, jurisdiction.parse(MINIMAL))
    t1 = db_session.scalar(select(Township).where(Township.code == "t1"))
    assert t1 is not None and t1.active and t1.name == "测试乡"
    villages = db_session.scalars(select(Village).where(Village.active)).all()
    assert {(v.code, v.township_id) for v in villages} == {("A", t1.id), ("B", t1.id)}
    office = db_session.scalar(select(Department).where(Department.code == "OFFICE"))
    assert office.township_id == t1.id and [t.code for t in office.serves] == ["t1"]
    # The demo's townships are not in that file: deactivated, never deleted.
    assert not db_session.scalar(select(Township).where(Township.code == "yanggao")).active


def test_the_township_the_upgrade_made_is_adopted_with_its_users(db_session: Session) -> None:
    """A single-township database upgraded to ``t1`` named 阳高乡, then loaded with the
    county file: ``t1`` becomes ``yanggao`` (the same row), its staff keep their township."""
    yanggao = db_session.scalar(select(Township).where(Township.code == "yanggao"))
    yanggao.code = "t1"
    db_session.flush()
    moderator = accounts.create_user(db_session, "mod-upgraded", Role.MODERATOR,
                                     "long enough staff pass 1", township_code="t1")
    townships_before = db_session.scalar(select(func.count()).select_from(Township))

    jurisdiction.load_file(db_session, DEMO_JURISDICTION)

    assert db_session.scalar(select(func.count()).select_from(Township)) == townships_before
    adopted = db_session.scalar(select(Township).where(Township.code == "yanggao"))
    assert adopted.id == yanggao.id and adopted.active
    assert db_session.scalar(select(Township).where(Township.code == "t1")) is None
    db_session.expire_all()
    kept = db_session.get(User, moderator.id)
    assert kept.township is not None and kept.township.code == "yanggao"


def test_a_county_file_loads_its_townships_departments_and_own_rules(
        db_session: Session) -> None:
    jurisdiction.load(db_session, jurisdiction.parse(COUNTY))
    one = db_session.scalar(select(Township).where(Township.code == "one"))
    brigade = db_session.scalar(select(Department).where(Department.code == "BRIGADE"))
    county_office = db_session.scalar(select(Department).where(Department.code == "XAW"))
    assert brigade.township_id is None and [t.code for t in brigade.serves] == ["one"]
    assert {t.code for t in county_office.serves} == {"one", "two"}  # absent: all of them
    rule = db_session.scalar(select(RoutingRule).where(RoutingRule.active))
    assert rule.township_id == one.id and rule.lead_department_id == brigade.id


def _line_of(text: str, needle: str) -> int:
    return text.splitlines().index(needle) + 1


@pytest.mark.parametrize(
    ("old", "new", "needle", "fragment"),
    [
        ('code = "B"\nname = "乙村"\ntownship = "two"',
         'code = "B"\nname = "乙村"\ntownship = "three"',
         'township = "three"', "villages[1].township）：引用了文件中不存在的乡镇代码"),
        ('kind = "safety_office"\ntownship = "one"',
         'kind = "safety_office"\ntownship = "one"\nserves = ["one"]',
         'serves = ["one"]', "departments[1].serves）：乡镇部门只服务本乡镇，不写 serves"),
        ('township = "one"\ncategory = "exit"', 'township = "two"\ncategory = "exit"',
         'lead = "BRIGADE"', "routing_rules[0].lead）：部门 BRIGADE 不服务乡镇 two"),
        ('code = "two"\nname = "二乡"',
         'code = "two"\nname = "二乡"\noffice_department = "OFFICE1"  # 一乡的',
         'office_department = "OFFICE1"  # 一乡的',
         "townships[1].office_department）：该部门不服务本乡镇"),
    ],
    ids=["village-unknown-township", "township-department-serves", "rule-non-serving-lead",
         "township-office-elsewhere"],
)
def test_a_bad_reference_names_the_line_in_chinese(old: str, new: str, needle: str,
                                                   fragment: str) -> None:
    assert old in COUNTY
    text = COUNTY.replace(old, new)
    with pytest.raises(jurisdiction.JurisdictionError) as exc:
        jurisdiction.parse(text, "county.toml")
    message = str(exc.value)
    assert message.startswith(f"county.toml 第 {_line_of(text, needle)} 行"), message
    assert fragment in message
