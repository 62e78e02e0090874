"""Partners that post JSON (issue 17): the same tip as a form post, and a body the API cannot
read is named as such instead of being taken for a missing api_key."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.domain.models import Tip
from tests.api.conftest import API

FIELDS = {
    "service_code": "wiring",
    "lat": 36.1,
    "long": 113.2,
    "description": "店内电线私拉乱接，插线板堆在纸箱上。",
}


def _tips(db_session) -> int:
    return db_session.scalar(select(func.count(Tip.id)))


@pytest.mark.parametrize("attributes", [
    {"attribute": {"village": "V01", "unit_name": "村口小卖部", "wants_feedback": True}},
    {"attribute[village]": "V01", "attribute[unit_name]": "村口小卖部",
     "attribute[wants_feedback]": "yes"},
], ids=["nested", "flat"])
def test_a_json_body_with_the_key_creates_the_tip(client, db_session, partner_key,
                                                  attributes) -> None:
    response = client.post(f"{API}/requests.json",
                           json={"api_key": partner_key, **FIELDS, **attributes})
    assert response.status_code == 200, response.get_data(as_text=True)
    (created,) = response.get_json()
    tip = db_session.get(Tip, int(created["service_request_id"][1:]))
    assert tip.unit_name == "村口小卖部"
    assert tip.village.code == "V01"
    assert tip.category.code == "wiring"
    assert (tip.lat, tip.lon) == (36.1, 113.2)
    assert tip.wants_feedback is True
    assert tip.api_key_id is not None


def test_a_json_body_may_carry_the_key_in_the_query(client, db_session, partner_key) -> None:
    response = client.post(f"{API}/requests.json?api_key={partner_key}", json={
        **FIELDS, "attribute": {"village": "V01", "unit_name": "村口小卖部"}})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_json_body_without_a_key_is_still_403(client, db_session, partner_key) -> None:
    before = _tips(db_session)
    response = client.post(f"{API}/requests.json", json={**FIELDS})
    assert response.status_code == 403
    assert _tips(db_session) == before


@pytest.mark.parametrize("body, content_type", [
    ('["not", "an", "object"]', "application/json"),
    ("{broken", "application/json"),
    ("api_key=abc", "text/plain"),
], ids=["json-array", "bad-json", "text-plain"])
def test_a_body_the_api_cannot_read_names_the_encodings(client, db_session, partner_key,
                                                        body, content_type) -> None:
    before = _tips(db_session)
    response = client.post(f"{API}/requests.json", data=body, content_type=content_type)
    assert response.status_code == 400
    (error,) = response.get_json()
    assert "application/json" in error["description"]
    assert "application/x-www-form-urlencoded" in error["description"]
    assert _tips(db_session) == before
