"""The vocabulary screens set a category's own check limit and a department's document
settings, refused with the same messages as the jurisdiction file."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import csrf_token


def test_a_category_limit_beyond_the_maximum_is_refused_and_two_working_days_saved(
        client, as_role, db_session: Session) -> None:
    as_role("admin")
    wiring = factories.category(db_session)
    url = f"/admin/vocabulary/category/{wiring.id}"
    page = client.get(url).get_data(as_text=True)
    assert "核查时限（工作日；不填＝法定上限）" in page
    form = {"code": "wiring", "name": wiring.name, "active": "y"}
    refused = client.post(url, data={**form, "csrf_token": csrf_token(client, url),
                                     "check_working_days": "4"})
    assert refused.status_code == 200
    assert "超过《消防监督检查规定》第十八条的上限 3 个工作日" in refused.get_data(as_text=True)
    db_session.refresh(wiring)
    assert wiring.check_working_days is None
    saved = client.post(url, data={**form, "csrf_token": csrf_token(client, url),
                                   "check_working_days": "2"})
    assert saved.status_code == 302
    db_session.refresh(wiring)
    assert wiring.check_working_days == 2
    listing = client.get("/admin/vocabulary/category").get_data(as_text=True)
    assert "2 个工作日" in listing and "24 小时 <span class=\"note\">（法定上限）" in listing


def test_a_department_numbers_manually_with_delegated_powers(client, as_role,
                                                           db_session: Session) -> None:
    as_role("admin")
    team = factories.department(db_session, "ZFD")
    url = f"/admin/vocabulary/department/{team.id}"
    assert "文书编号方式" in client.get(url).get_data(as_text=True)
    response = client.post(url, data={
        "csrf_token": csrf_token(client, url), "code": "ZFD", "name": team.name,
        "kind": "law_enforcement", "township": team.township_id, "active": "y",
        "fire_powers_delegated": "y", "document_numbering": "manual",
        "document_prefix": "阳执"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db_session.refresh(team)
    assert (team.fire_powers_delegated, team.document_numbering, team.document_prefix) == (
        True, "manual", "阳执")
    assert "自行编号" in client.get("/admin/vocabulary/department").get_data(as_text=True)
