"""The jurisdiction file's settings behind the legal clock: a category's own check limit and a
department's document settings, validated as the admin screens validate them."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from portal.domain.administration import jurisdiction, vocabulary
from portal.domain.casework import limits
from portal.domain.models import Category
from tests import factories
from tests.conftest import DEMO_JURISDICTION

pytestmark = pytest.mark.usefixtures("app")

FILE = """\
[jurisdiction]
name = "测试乡"
office_department = "OFFICE"

[[villages]]
code = "A"
name = "甲村"

[[departments]]
code = "OFFICE"
name = "乡消安办"
kind = "safety_office"

[[departments]]
code = "ZFD"
name = "综合行政执法队"
kind = "law_enforcement"
{department}

[[categories]]
code = "wiring"
name = "电气线路铺设不规范"
{category}
"""


def _parse(department: str = "", category: str = "") -> dict:
    return jurisdiction.parse(FILE.format(department=department, category=category),
                              "test.toml")


def test_a_check_limit_beyond_the_legal_maximum_is_refused_naming_the_line() -> None:
    with pytest.raises(jurisdiction.JurisdictionError) as refused:
        _parse(category="check_working_days = 5")
    message = str(refused.value)
    assert "test.toml 第 23 行" in message and "categories[0].check_working_days" in message
    assert "wiring" in message and "超过《消防监督检查规定》第十八条的上限 3 个工作日" in message
    with pytest.raises(jurisdiction.JurisdictionError, match="上限 24 小时"):
        _parse(category="urgent = true\ncheck_hours = 48")
    with pytest.raises(jurisdiction.JurisdictionError, match="只能按小时或按工作日之一"):
        _parse(category="check_hours = 12\ncheck_working_days = 2")
    with pytest.raises(jurisdiction.JurisdictionError, match="类型应为 整数"):
        _parse(category='check_hours = "12"')


def test_two_working_days_are_accepted_and_loaded(db_session: Session) -> None:
    data = _parse(category="check_working_days = 2")
    jurisdiction.load(db_session, data)
    wiring = factories.category(db_session, "wiring")
    assert (wiring.check_working_days, wiring.check_hours) == (2, None)
    assert limits.check_limit(wiring) == limits.Span(working_days=2)
    # The key dropped from the file: back to the legal maximum.
    jurisdiction.load(db_session, _parse())
    assert wiring.check_working_days is None


def test_department_document_settings_load_and_are_validated(db_session: Session) -> None:
    jurisdiction.load(db_session, _parse(department='fire_powers_delegated = true\n'
                                                   'document_numbering = "manual"\n'
                                                   'document_prefix = "执法"'))
    team = factories.department(db_session, "ZFD")
    assert (team.fire_powers_delegated, team.document_numbering, team.document_prefix) == (
        True, "manual", "执法")
    with pytest.raises(jurisdiction.JurisdictionError) as refused:
        _parse(department='document_numbering = "sometimes"')
    assert "departments[1].document_numbering" in str(refused.value)
    assert "文书编号方式须为 auto 或 manual" in str(refused.value)


def test_the_demo_keeps_the_legal_maximum_and_numbers_its_fire_station(
        db_session: Session) -> None:
    data = jurisdiction.parse(DEMO_JURISDICTION.read_text(encoding="utf-8"))
    assert all("check_hours" not in c and "check_working_days" not in c
               for c in data["categories"])
    for category in db_session.query(Category):
        assert limits.check_limit(category) == limits.legal_check_limit(category)
    fire = factories.department(db_session, "FIRE")
    assert (fire.document_numbering, fire.document_prefix) == ("auto", "阳高消")


def test_the_screens_write_path_refuses_the_same(db_session: Session) -> None:
    wiring = factories.category(db_session, "wiring")
    with pytest.raises(vocabulary.VocabularyError, match="上限 3 个工作日"):
        vocabulary.save_coded(db_session, "category", wiring, code="wiring", actor=None,
                              name=wiring.name, check_working_days=4)
    with pytest.raises(vocabulary.VocabularyError, match="文书编号方式"):
        vocabulary.save_coded(db_session, "department", factories.department(db_session),
                              code="FIRE", actor=None, name="消防", document_numbering="x")
