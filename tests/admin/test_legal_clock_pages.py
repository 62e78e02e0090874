"""The legal clock on the back office's pages (issue 20): the case page lists every limit with
its basis and whether it was met; the major-hazard judgement is recorded there; the moderation
queue says how much of the §18 limit moderation has used."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.casework import workflow
from portal.domain.clock import utcnow
from portal.domain.enums import Severity
from tests import factories
from tests.admin.test_desk import act, follow, page_of, reload, section
from tests.domain.linkage_helpers import lead, routed_case
from tests.test_calendar_statutory import official_calendar  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("official_calendar")


@pytest.fixture
def confirmed(db_session: Session, staff):
    case = routed_case(db_session, "blocked_escape", unit_name="红星饭店")
    workflow.accept_assignment(db_session, lead(case), actor=staff["officer"])
    workflow.record_check(db_session, case, actor=staff["officer"], confirmed=True,
                          findings="属实")
    db_session.commit()
    return case


def test_the_case_page_lists_the_clocks_with_their_basis(
        client: FlaskClient, confirmed, as_role) -> None:
    as_role("officer")
    page = page_of(client, f"/admin/desk/cases/{confirmed.id}")
    clocks = page[page.index('id="clocks"'):]
    assert "现场核查（24 小时）" in clocks and "《消防监督检查规定》第十八条" in clocks
    assert "送达责令限期改正通知书" in clocks and "《消防监督检查规定》第十九条" in clocks
    assert "按期完成" in clocks and "计时中" in clocks


def test_the_officer_records_elements_and_the_collective_decision(
        client: FlaskClient, db_session: Session, confirmed, as_role) -> None:
    as_role("officer")
    page = follow(client, act(client, confirmed.id, "elements", {
        "premises_kind": "crowded", "found": ["P-2"]}))
    assert "疑似重大火灾隐患" in page
    judgement = page[page.index('id="judgement"'):]
    assert "系统建议：<strong>构成重大火灾隐患</strong>" in judgement
    assert "符合直接判定要素 P-2" in judgement
    assert "重大火灾隐患书面报告政府" in page[page.index('id="clocks"'):]
    # Fewer than three people: refused with the reason, nothing recorded.
    response = act(client, confirmed.id, "judge", {
        "decision": "major", "participants": "张三\n李四", "reason": "符合直接判定要素"})
    assert response.status_code == 400
    assert "不少于 3 人" in section(response.get_data(as_text=True), "judge")
    page = follow(client, act(client, confirmed.id, "judge", {
        "decision": "major", "participants": "张三\n李四\n王五", "reason": "符合直接判定要素"}))
    assert "已登记集体判定：构成重大火灾隐患" in page
    assert "送达重大火灾隐患整改通知书" in page[page.index('id="clocks"'):]
    assert reload(db_session, confirmed).severity is Severity.MAJOR


def test_the_queue_says_how_much_of_the_check_limit_moderation_has_used(
        client: FlaskClient, db_session: Session, as_role) -> None:
    factories.make_tip(db_session, unit_name="等待审核的饭店",
                       category=factories.category(db_session, "blocked_escape"),
                       created_at=utcnow() - dt.timedelta(hours=6))
    db_session.commit()
    as_role("moderator")
    page = page_of(client, "/admin/queue")
    assert "24 小时内核查，自收到举报起算，已用 25%" in page
