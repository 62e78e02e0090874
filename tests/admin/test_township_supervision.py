"""Supervision in a county of townships (issue 18): a township's supervisor reads, counts,
exports and acts on their township only, and another township's listing, notice or bulletin
does not exist for them (404); the county's supervisors see every township and the ranking."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.enums import Severity, SupervisionLevel
from portal.domain.models import Bulletin, Case, Listing, UrgingNotice, User
from portal.domain.supervision import listings as listing_steps
from tests import factories
from tests.admin.conftest import sign_in, text
from tests.admin.test_export_jobs import export_and_download
from tests.conftest import csrf_token
from tests.domain.linkage_helpers import supervisor
from tests.domain.supervision_helpers import case_at


@pytest.fixture
def county(db_session: Session, township_staff: dict[str, User]) -> dict[str, Case]:
    """Cases in 阳高乡 and 北社乡, each unit named after its township; nothing in 西沟乡."""
    today = clock.local_today()
    late = today - dt.timedelta(days=2)
    cases = {
        "a_check_late": case_at(db_session, "routed", routed_days_ago=10, village="V01",
                                unit_name="阳高甲店"),
        "a_rectify_late": case_at(db_session, "rectifying", rectify_by=late, village="V02",
                                  unit_name="阳高乙店"),
        "a_closed": case_at(db_session, "closed", village="V03", unit_name="阳高丙店"),
        "a_major_old": case_at(db_session, "rectifying", severity=Severity.MAJOR,
                               created_at=dt.datetime(2023, 6, 1, 2, tzinfo=dt.UTC),
                               village="V01", unit_name="阳高大酒店"),
        "a_major_2025": case_at(db_session, "rectifying", severity=Severity.MAJOR,
                                created_at=dt.datetime(2025, 3, 1, 2, tzinfo=dt.UTC),
                                village="V04", unit_name="阳高商厦"),
        "b_check_late": case_at(db_session, "routed", department="BS-POLICE",
                                routed_days_ago=10, village="BS-V01", unit_name="北社甲店"),
        "b_rectify_late": case_at(db_session, "rectifying", department="BS-POLICE",
                                  rectify_by=late, village="BS-V02", unit_name="北社乙店"),
        "b_closed": case_at(db_session, "closed", department="BS-POLICE", village="BS-V03",
                            unit_name="北社丙店"),
    }
    listing_steps.list_case(db_session, cases["a_major_old"], actor=supervisor(db_session),
                            level=SupervisionLevel.COUNTY, deadline=today + dt.timedelta(30),
                            responsible_leader="王乡长")
    db_session.commit()
    return cases


YANGGAO = ["阳高甲店", "阳高乙店", "阳高丙店", "阳高大酒店", "阳高商厦"]
BEISHE = ["北社甲店", "北社乙店", "北社丙店"]


def shows(page: str, names: list[str]) -> bool:
    return all(name in page for name in names)


def shows_none(page: str, names: list[str]) -> bool:
    return not any(name in page for name in names)


def beishe_id(session: Session) -> int:
    return factories.township(session, "beishe").id


def test_a_township_supervisor_reads_only_their_township_in_the_ledger(
        client: FlaskClient, db_session: Session, township_staff, county) -> None:
    sign_in(client, township_staff["supervisor_a"])
    page = text(client, "/admin/ledger")
    assert shows(page, YANGGAO) and shows_none(page, BEISHE)
    # Asking for the other township by the query string still shows one's own.
    page = text(client, f"/admin/ledger?township={beishe_id(db_session)}")
    assert shows(page, YANGGAO) and shows_none(page, BEISHE)
    assert 'name="township"' not in page  # no township choice for a township's staff
    # The choices are the township's own villages.
    assert "东庄村（示例）" in page and "BS-V01" not in page

    sign_in(client, township_staff["supervisor_b"])
    page = text(client, "/admin/ledger")
    assert shows(page, BEISHE) and shows_none(page, YANGGAO)


def test_the_county_supervisor_filters_the_ledger_by_township(
        client: FlaskClient, db_session: Session, township_staff, county) -> None:
    sign_in(client, township_staff["supervisor_county"])
    page = text(client, "/admin/ledger")
    assert shows(page, YANGGAO) and shows(page, BEISHE) and 'name="township"' in page
    # Two townships each have a 东庄村: the county's choice names the township.
    assert "东庄村（示例）（阳高乡）" in page and "东庄村（示例）（北社乡（示例））" in page
    page = text(client, f"/admin/ledger?township={beishe_id(db_session)}")
    assert shows(page, BEISHE) and shows_none(page, YANGGAO)


def test_an_export_by_a_township_supervisor_has_no_other_township_row(
        client: FlaskClient, db_session: Session, township_staff, county) -> None:
    sign_in(client, township_staff["supervisor_a"])
    response = client.get(f"/admin/ledger.csv?township={beishe_id(db_session)}")
    csv = response.get_data(as_text=True)
    assert response.status_code == 200
    assert shows(csv, YANGGAO) and shows_none(csv, BEISHE)


def test_a_background_export_by_a_township_supervisor_has_no_other_township_row(
        client: FlaskClient, app: Flask, db_session: Session, township_staff, county,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "EXPORT_JOB_ROWS", 1)
    sign_in(client, township_staff["supervisor_a"])
    _job, body = export_and_download(client, app, db_session, "csv",
                                     {"township": str(beishe_id(db_session))})
    csv = body.decode("utf-8-sig")
    assert shows(csv, YANGGAO) and shows_none(csv, BEISHE)


def tile(page: str, label: str) -> int:
    found = re.search(r"<strong>(\d+)</strong><span>" + re.escape(label) + "</span>", page)
    assert found, label
    return int(found.group(1))


def test_the_dashboard_of_a_township_counts_its_own_cases_and_shows_no_ranking(
        client: FlaskClient, township_staff, county) -> None:
    sign_in(client, township_staff["supervisor_a"])
    page = text(client, "/admin/supervision")
    assert tile(page, "核查超期") == 1 and tile(page, "整改超期") == 1
    # Both major hazards are under supervision (routing flags a major hazard's level).
    assert tile(page, "未办结隐患") == 4 and tile(page, "挂牌督办") == 2
    assert "乡镇排名" not in page and "北社" not in page
    # The plan's goals are the township's: its 2023 stock and its 2025 major hazards.
    goals = text(client, "/admin/supervision/goals")
    assert re.search(r"<strong>1</strong> 处", goals)

    sign_in(client, township_staff["supervisor_b"])
    page = text(client, "/admin/supervision")
    assert tile(page, "核查超期") == 1 and tile(page, "未办结隐患") == 2
    assert tile(page, "挂牌督办") == 0 and "乡镇排名" not in page


def ranking_rows(page: str) -> list[tuple[str, dict[str, str], str]]:
    """(township name, {figure: shown value}, link of the name) per row, in order."""
    section = page.split('id="township-ranking"', 1)[1].split("</section>", 1)[0]
    rows = []
    for row in re.findall(r"<tr data-township=\"\d+\">(.*?)</tr>", section, re.S):
        link, name = re.search(r'<td><a href="([^"]+)">([^<]+)</a></td>', row).groups()
        figures = dict(re.findall(r'data-figure="(\w+)">(?:<a href="[^"]*">)?([^<]*)', row))
        rows.append((name, figures, link.replace("&amp;", "&")))
    return rows


def test_the_county_dashboard_ranks_the_townships(
        client: FlaskClient, db_session: Session, township_staff, county) -> None:
    sign_in(client, township_staff["supervisor_county"])
    page = text(client, "/admin/supervision")
    assert tile(page, "核查超期") == 2 and tile(page, "未办结隐患") == 6
    rows = ranking_rows(page)
    assert [name for name, _f, _l in rows] == ["阳高乡", "北社乡（示例）", "西沟乡（示例）"]
    yanggao, beishe, xigou = (figures for _n, figures, _l in rows)
    assert yanggao == {"check_overdue": "1", "rectify_overdue": "1", "clock_overdue": "0",
                       "listed_open": "2",
                       "stock_open": "1", "increment": "1",
                       "rectification_rate": "25.0%（1/4）"}
    assert beishe == {"check_overdue": "1", "rectify_overdue": "1", "clock_overdue": "0",
                      "listed_open": "0",
                      "stock_open": "0", "increment": "0",
                      "rectification_rate": "50.0%（1/2）"}
    assert xigou["check_overdue"] == "0" and xigou["rectification_rate"] == "—"
    # A township's name links to the ledger of that township.
    ledger = text(client, rows[1][2])
    assert shows(ledger, BEISHE) and shows_none(ledger, YANGGAO)


def test_the_county_admin_sees_the_ranking(client: FlaskClient, township_staff,
                                           county) -> None:
    sign_in(client, township_staff["admin_county"])
    assert "乡镇排名" in text(client, "/admin/supervision")


def test_the_review_of_a_township_lists_the_departments_serving_it(
        client: FlaskClient, township_staff, county) -> None:
    sign_in(client, township_staff["supervisor_a"])
    page = text(client, "/admin/review")
    assert "阳高乡消防工作站" in page or "FIRE" in page or "消防" in page
    assert "北社派出所" not in page and "北社乡综合行政执法队" not in page
    sign_in(client, township_staff["supervisor_b"])
    page = text(client, "/admin/review")
    assert "北社" in page and "阳高乡消防" not in page


def test_listings_are_the_townships_own_and_another_townships_is_404(
        client: FlaskClient, db_session: Session, township_staff, county) -> None:
    listing = db_session.scalars(select(Listing)).one()
    sign_in(client, township_staff["supervisor_a"])
    page = text(client, "/admin/listings")
    assert "阳高大酒店" in page and "阳高商厦" in page
    assert text(client, f"/admin/listings/{listing.id}")
    sign_in(client, township_staff["supervisor_b"])
    page = text(client, "/admin/listings")
    assert shows_none(page, YANGGAO)
    assert client.get(f"/admin/listings/{listing.id}").status_code == 404
    assert client.get(f"/admin/cases/{county['a_major_2025'].id}/listing").status_code == 404
    url = f"/admin/listings/{listing.id}/delist"
    token = csrf_token(client, "/admin/listings")
    assert client.post(url, data={"csrf_token": token}).status_code == 404


def issue_notice(client: FlaskClient, department_id: int) -> str:
    url = f"/admin/urging/new?department={department_id}"
    form = client.get(url).get_data(as_text=True)
    ids = re.findall(r'name="cases"[^>]*value="(\d+)"', form) or re.findall(
        r'value="(\d+)"[^>]*name="cases"', form)
    response = client.post("/admin/urging/new", data={
        "csrf_token": csrf_token(client, url), "department": department_id, "cases": ids,
        "text": "请抓紧办理。"})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def test_urging_offers_the_townships_departments_and_cases_and_hides_other_notices(
        client: FlaskClient, db_session: Session, township_staff, county) -> None:
    fire = factories.department(db_session, "FIRE")
    police_b = factories.department(db_session, "BS-POLICE")
    sign_in(client, township_staff["supervisor_a"])
    page = text(client, "/admin/urging")
    assert fire.name in page and police_b.name not in page
    assert client.get(f"/admin/urging/new?department={police_b.id}").status_code == 404
    form = text(client, f"/admin/urging/new?department={fire.id}")
    assert "阳高甲店" in form and "阳高乙店" in form
    notice_url = issue_notice(client, fire.id)
    notice = db_session.scalars(select(UrgingNotice)).one()
    assert notice.township_id == township_staff["supervisor_a"].township_id
    assert {c.id for c in notice.cases} == {county["a_check_late"].id,
                                            county["a_rectify_late"].id}

    sign_in(client, township_staff["supervisor_b"])
    assert client.get(notice_url).status_code == 404
    assert "督促函〔" not in text(client, "/admin/urging")
    assert police_b.name in text(client, "/admin/urging")

    sign_in(client, township_staff["supervisor_county"])
    assert client.get(notice_url).status_code == 200
    assert "督促函〔" in text(client, "/admin/urging")


def draft_bulletin(client: FlaskClient, start: str, end: str) -> str:
    response = client.post("/admin/bulletins/new", data={
        "csrf_token": csrf_token(client, "/admin/bulletins"), "period_start": start,
        "period_end": end})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def test_a_bulletin_belongs_to_its_office_and_reports_its_figures(
        client: FlaskClient, db_session: Session, township_staff, county) -> None:
    today = clock.local_today()
    start, end = today.replace(month=1, day=1).isoformat(), today.isoformat()
    sign_in(client, township_staff["supervisor_a"])
    a_url = draft_bulletin(client, start, end)
    a_bulletin = db_session.scalars(select(Bulletin)).one()
    assert a_bulletin.township_id == township_staff["supervisor_a"].township_id
    # Opened this year in 阳高乡: three (the 2023 and 2025 hazards are older).
    assert a_bulletin.figures["cases_opened"] == 3 and a_bulletin.figures["overdue"] == 2
    assert "阳高乡" in a_bulletin.title

    sign_in(client, township_staff["supervisor_county"])
    county_url = draft_bulletin(client, start, end)
    county_bulletin = db_session.scalars(select(Bulletin).where(
        Bulletin.township_id.is_(None))).one()
    assert county_bulletin.figures["cases_opened"] == 6
    assert client.get(a_url).status_code == 200  # the county reads every township's

    sign_in(client, township_staff["supervisor_b"])
    assert client.get(a_url).status_code == 404  # another township's draft
    assert client.get(county_url).status_code == 404  # the county's draft, not yet published
    assert a_bulletin.title not in text(client, "/admin/bulletins")
    token = csrf_token(client, "/admin/bulletins")
    assert client.post(f"{a_url}/publish", data={"csrf_token": token}).status_code == 404

    sign_in(client, township_staff["supervisor_county"])
    response = client.post(f"{county_url}/publish",
                           data={"csrf_token": csrf_token(client, county_url)})
    assert response.status_code == 303
    sign_in(client, township_staff["supervisor_b"])
    assert client.get(county_url).status_code == 200  # the county's, published


def test_the_audit_page_of_a_township_shows_its_own_staffs_rows_only(
        client: FlaskClient, db_session: Session, township_staff, county) -> None:
    today = clock.local_today().isoformat()
    for who in ("supervisor_a", "supervisor_b"):
        sign_in(client, township_staff[who])
        draft_bulletin(client, today, today)
        sign_in(client, township_staff["supervisor_a"])
    page = text(client, "/admin/audit?action=bulletin.draft")
    assert township_staff["supervisor_a"].username in page
    assert township_staff["supervisor_b"].username not in page
    assert "校验哈希链" not in page
    sign_in(client, township_staff["supervisor_county"])
    page = text(client, "/admin/audit?action=bulletin.draft")
    assert township_staff["supervisor_a"].username in page
    assert township_staff["supervisor_b"].username in page and "校验哈希链" in page
