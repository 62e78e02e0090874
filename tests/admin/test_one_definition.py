"""Overdue, the lead department and the local date give the same answer everywhere: on the
department desk, the ledger (page and export), the supervisor's dashboard, the public pages
and Open311, for the same cases.

The deployment's zone is set to one whose date differs from China's at the moment the test
runs, and one case's deadline is the earlier of the two dates: overdue in one zone, due today
in the other. Every surface must count it by ``PORTAL_TIMEZONE``. Another case was reopened by
its follow-up and then transferred: only the department it went to leads it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.casework import workflow
from portal.domain.clock import utcnow
from portal.domain.disclosure.publication import disclose_case
from portal.domain.models import Case, User
from tests import factories
from tests.admin.conftest import login
from tests.domain.linkage_helpers import lead, moderator, officer, supervisor
from tests.domain.supervision_helpers import case_at

CHINA = ZoneInfo("Asia/Shanghai")


def _zone_whose_date_differs() -> str:
    now = utcnow()
    for name in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        if now.astimezone(ZoneInfo(name)).date() != now.astimezone(CHINA).date():
            return name
    raise AssertionError("one of the two zones is always on another date than China")


@pytest.fixture
def deployment_zone(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[ZoneInfo]:
    name = _zone_whose_date_differs()
    monkeypatch.setitem(app.config, "TIMEZONE", name)
    before = clock.local_zone()
    clock.configure(name)
    yield ZoneInfo(name)
    clock.configure(before.key)


def _disclose(session: Session, case: Case) -> None:
    disclose_case(session, case, actor=moderator(session), public_summary=f"公开摘要 {case.id}")


def _reopened_and_transferred(session: Session, today: dt.date) -> Case:
    case = case_at(session, "closed", department="FIRE", unit_name="移交商店")
    case.follow_up_by = today
    session.flush()
    workflow.follow_up(session, case, actor=supervisor(session), still_ok=False,
                       findings="隐患反弹", new_deadline=today + dt.timedelta(days=5))
    workflow.transfer_assignment(session, lead(case), actor=officer(session, "FIRE"),
                                 to_department=factories.department(session, "POLICE"),
                                 reason="属派出所职责")
    case.rectify_by = today - dt.timedelta(days=2)
    session.flush()
    return case


def _rows(html: str, pattern: str) -> dict[int, bool]:
    """Case id -> shown as overdue, for each list row (``<li>`` or ``<tr>``) linking a case."""
    found: dict[int, bool] = {}
    for row in re.findall(r"<(?:li|tr)\b[^>]*>.*?</(?:li|tr)>", html, re.S):
        match = re.search(pattern, row)
        if match:
            found[int(match.group(1))] = "超期" in row
    return found


def _tiles(html: str) -> dict[str, int]:
    return {label: int(value) for value, label in
            re.findall(r"<strong>(\d+)</strong><span>([^<]+)</span>", html)}


def _breakdown(html: str, name: str) -> tuple[int, int]:
    """(open, overdue) of one department's row on the dashboard."""
    match = re.search(rf"<tr><td>{re.escape(name)}</td><td><a [^>]*>(\d+)</a></td>\s*"
                      rf"<td><a [^>]*>(\d+)</a></td></tr>", html)
    assert match, f"{name} is not on the dashboard"
    return int(match.group(1)), int(match.group(2))


def _signed_in(app: Flask, user: User) -> FlaskClient:
    client = app.test_client()
    assert login(client, user.username).status_code == 302
    return client


def test_overdue_lead_and_local_date_agree_on_every_surface(
    app: Flask, client: FlaskClient, db_session: Session, deployment_zone: ZoneInfo,
    staff: dict[str, User],
) -> None:
    today = utcnow().astimezone(deployment_zone).date()
    china_today = utcnow().astimezone(CHINA).date()
    boundary_day = min(today, china_today)
    boundary_overdue = boundary_day < today  # by the deployment's zone, not China's

    late_check = case_at(db_session, "checking", routed_days_ago=12, unit_name="核查超期店")
    fresh_check = case_at(db_session, "checking", unit_name="核查未到期店")
    boundary = case_at(db_session, "rectifying", rectify_by=boundary_day, unit_name="临界店")
    late = case_at(db_session, "rectifying", rectify_by=today - dt.timedelta(days=3),
                   unit_name="整改超期店")
    ahead = case_at(db_session, "rectifying", rectify_by=today + dt.timedelta(days=9),
                    unit_name="整改未到期店")
    moved = _reopened_and_transferred(db_session, today)
    for case in (boundary, late, ahead, moved):
        _disclose(db_session, case)
    db_session.flush()

    overdue = {late_check.id: True, fresh_check.id: False, boundary.id: boundary_overdue,
               late.id: True, ahead.id: False, moved.id: True}
    leads = {c.id: "FIRE" for c in (late_check, fresh_check, boundary, late, ahead)}
    leads[moved.id] = "POLICE"
    names = {code: factories.department(db_session, code).name for code in ("FIRE", "POLICE")}
    assert late_check.check_by is not None and fresh_check.check_by is not None

    # The department desk: the fire station's officer, then the police station's.
    fire = _signed_in(app, staff["officer"])
    fire_desk: dict[int, bool] = {}
    for group in ("new", "checking", "rectifying"):
        html = fire.get(f"/admin/desk?group={group}").get_data(as_text=True)
        fire_desk |= _rows(html, r"/admin/desk/cases/(\d+)")
    assert fire_desk == {i: o for i, o in overdue.items() if leads[i] == "FIRE"}
    for case_id, is_late in overdue.items():
        if leads[case_id] == "FIRE":
            page = fire.get(f"/admin/desk/cases/{case_id}").get_data(as_text=True)
            assert ("超期" in page) is is_late, case_id
    # A department that transferred the case away no longer has it on its desk.
    assert moved.id not in fire_desk
    police = _signed_in(app, staff["officer_b"])
    html = police.get("/admin/desk?group=new").get_data(as_text=True)
    assert _rows(html, r"/admin/desk/cases/(\d+)") == {moved.id: True}

    # The ledger, its export and the dashboard, as a supervisor.
    chief = _signed_in(app, staff["supervisor"])
    html = chief.get("/admin/ledger?per_page=100").get_data(as_text=True)
    assert _rows(html, r"/admin/cases/(\d+)\"") == overdue
    listed = chief.get("/admin/ledger?overdue=any").get_data(as_text=True)
    assert set(_rows(listed, r"/admin/cases/(\d+)\"")) == {i for i, o in overdue.items() if o}
    for code in ("FIRE", "POLICE"):
        department = factories.department(db_session, code)
        html = chief.get(f"/admin/ledger?department={department.id}").get_data(as_text=True)
        assert set(_rows(html, r"/admin/cases/(\d+)\"")) == {
            i for i, c in leads.items() if c == code}
    exported = chief.get("/admin/ledger.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = {int(r["编号"]): r for r in csv.DictReader(io.StringIO(exported))}
    assert {i: r["是否超期"] == "是" for i, r in rows.items()} == overdue
    assert {i: r["牵头部门"] for i, r in rows.items()} == {i: names[c] for i, c in leads.items()}

    tiles = _tiles(chief.get("/admin/supervision").get_data(as_text=True))
    assert tiles["核查超期"] == 1
    assert tiles["整改超期"] == sum(overdue[c.id] for c in (boundary, late, ahead, moved))
    html = chief.get("/admin/supervision/departments").get_data(as_text=True)
    assert _breakdown(html, names["FIRE"]) == (5, sum(overdue[i] for i in leads
                                                      if leads[i] == "FIRE"))
    assert _breakdown(html, names["POLICE"]) == (1, 1)

    # The public pages: the 逾期 badge, and the deadline as a local date.
    for case in (boundary, late, ahead, moved):
        page = client.get(f"/disclosures/unit/{case.unit_id}").get_data(as_text=True)
        assert ("已逾期" in page) is overdue[case.id], case.unit.name
        day = case.rectify_by
        assert day is not None and f"<dd>{day.year}年{day.month}月{day.day}日" in page

    # Open311: overdue in the notes, the lead department as the agency, the local deadline.
    answer = client.get("/open311/v2/requests.json").get_json()
    by_id = {int(r["service_request_id"]): r for r in answer}
    assert set(by_id) == {boundary.id, late.id, ahead.id, moved.id}
    offset = dt.datetime.combine(today, dt.time(12), deployment_zone).strftime("%z")
    for case_id, record in by_id.items():
        notes = record["status_notes"] or ""
        assert notes.startswith("已超过整改期限") is overdue[case_id], record
        assert record["agency_responsible"] == names[leads[case_id]]
        case = db_session.get(Case, case_id)
        assert case is not None and case.rectify_by is not None
        expected = dt.datetime.fromisoformat(record["expected_datetime"])
        assert expected.date() == case.rectify_by
        assert expected.strftime("%z") == offset
