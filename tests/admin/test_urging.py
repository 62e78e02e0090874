"""Urging notices over HTTP: drafted from a department's overdue cases, numbered, printable
with the township's letterhead; the department's officers read them in their inbox."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.enums import CaseEventKind
from portal.domain.models import Case
from tests import factories
from tests.conftest import csrf_token
from tests.domain.supervision_helpers import case_at


@pytest.fixture
def late(db_session: Session) -> list[Case]:
    cases = [case_at(db_session, "routed", routed_days_ago=10, unit_name="幸福超市"),
             case_at(db_session, "rectifying", unit_name="老街饭店",
                     rectify_by=dt.date(2026, 1, 15))]
    db_session.commit()
    return cases


def _issue(client: FlaskClient, department_id: int, case_ids: list[int], text: str | None = None):
    url = f"/admin/urging/new?department={department_id}"
    page = client.get(url).get_data(as_text=True)
    draft = re.search(r'<textarea[^>]*name="text"[^>]*>\s*(.*?)</textarea>', page, re.S)
    assert draft, page
    return client.post(url, data={"csrf_token": csrf_token(client, url), "cases": case_ids,
                                  "text": text if text is not None else draft.group(1)})


def test_a_supervisor_issues_a_numbered_printable_notice(client: FlaskClient, as_role,
                                                         db_session: Session, late) -> None:
    as_role("supervisor")
    fire = factories.department(db_session, "FIRE")
    listing = client.get("/admin/urging").get_data(as_text=True)
    assert fire.name in listing and "超期工单 2 件" in listing
    draft = client.get(f"/admin/urging/new?department={fire.id}").get_data(as_text=True)
    assert "幸福超市" in draft and "老街饭店" in draft and f"{fire.name}：" in draft

    response = _issue(client, fire.id, [c.id for c in late])
    assert response.status_code == 303, response.get_data(as_text=True)
    printable = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "督 促 函" in printable
    number = re.search(r"督促函〔(\d{4})〕第 (\d+) 号", printable)
    assert number and number.group(2) == "1"
    # The county's supervisor issues it: the county's letterhead.
    assert "平顺县消防安全治本攻坚三年行动专项领导组办公室" in printable
    assert "幸福超市" in printable and "老街饭店" in printable
    assert 'class="letter"' in printable and "admin printable" in printable

    second = _issue(client, fire.id, [late[0].id])
    again = client.get(second.headers["Location"]).get_data(as_text=True)
    assert f"督促函〔{number.group(1)}〕第 2 号" in again
    db_session.expire_all()
    kinds = [e.kind for e in db_session.get(Case, late[0].id).events]
    assert kinds.count(CaseEventKind.URGED) == 2


def test_a_notice_needs_cases_and_text(client: FlaskClient, as_role, db_session: Session,
                                       late) -> None:
    as_role("supervisor")
    fire = factories.department(db_session, "FIRE")
    assert _issue(client, fire.id, []).status_code == 400
    response = _issue(client, fire.id, [late[0].id], text="   ")
    assert response.status_code == 400
    assert "正文不能为空" in response.get_data(as_text=True)
    other = case_at(db_session, "routed", department="POLICE", routed_days_ago=10)
    db_session.commit()
    # A case of another department is not among the choices at all.
    assert _issue(client, fire.id, [other.id]).status_code == 400


def test_officers_read_their_own_departments_notices(client: FlaskClient, as_role,
                                                     db_session: Session, late) -> None:
    as_role("supervisor")
    fire = factories.department(db_session, "FIRE")
    assert _issue(client, fire.id, [late[0].id], text="请贵单位三日内办结。").status_code == 303
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})

    as_role("officer")  # fire station
    inbox = client.get("/admin/urging/inbox").get_data(as_text=True)
    assert "请贵单位三日内办结。" in inbox and "第 1 号" in inbox
    assert client.get("/admin/urging").status_code == 403
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})

    as_role("officer_b")  # police station
    inbox = client.get("/admin/urging/inbox").get_data(as_text=True)
    assert "请贵单位三日内办结。" not in inbox and "尚未收到督促函" in inbox


@pytest.mark.parametrize("role", ["moderator", "admin"])
def test_the_inbox_is_for_officers(client: FlaskClient, as_role, role: str) -> None:
    as_role(role)
    assert client.get("/admin/urging/inbox").status_code == 403


def test_notices_are_numbered_per_issuing_office(client: FlaskClient, township_staff,
                                                 db_session: Session, late) -> None:
    """The county's office and a township's office each number from 1 in a year (issue 18);
    the township's letterhead names the township."""
    from tests.admin.conftest import login
    fire = factories.department(db_session, "FIRE")
    numbers = []
    for who in ("supervisor_county", "supervisor_a"):
        assert login(client, township_staff[who].username).status_code == 302
        response = _issue(client, fire.id, [late[0].id])
        assert response.status_code == 303, response.get_data(as_text=True)
        printable = client.get(response.headers["Location"]).get_data(as_text=True)
        numbers.append(re.search(r"督促函〔\d{4}〕第 (\d+) 号", printable).group(1))
        client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert numbers == ["1", "1"]
    assert "平顺县阳高乡消防安全治本攻坚三年行动专项领导组办公室" in printable
