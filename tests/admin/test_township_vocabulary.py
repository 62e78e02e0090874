"""A township switches shared entries off for itself (issue 18, "a township may deactivate
entries for itself"): the county keeps its categories and venue types; a township's admin
says which its township does not use, and its residents and partners are no longer offered
them, while every other township's are."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.administration import vocabulary
from portal.domain.models import AuditLog, User
from tests import factories
from tests.admin.conftest import login
from tests.conftest import csrf_token


@pytest.fixture
def sign_in(client: FlaskClient, township_staff: dict[str, User]):
    def as_(name: str) -> User:
        assert login(client, township_staff[name].username).status_code == 302
        return township_staff[name]
    return as_


def _switch(client: FlaskClient, kind: str, row_id: int, use: str):
    return client.post(f"/admin/vocabulary/{kind}/{row_id}/township",
                       data={"csrf_token": csrf_token(client, "/admin/password"), "use": use})


def _options(client: FlaskClient, url: str, name: str) -> list[str]:
    html = client.get(url).get_data(as_text=True)
    select_ = re.search(rf'<select id="{name}" name="{name}">(.*?)</select>', html, re.S)
    assert select_, url
    return re.findall(r"<option[^>]*>([^<]+)</option>", select_.group(1))


def test_a_township_admin_switches_a_category_off_for_its_township_only(
        client, sign_in, db_session: Session) -> None:
    category = factories.category(db_session, "hot_work")
    venue = factories.venue_type(db_session)
    sign_in("admin_a")
    page = client.get("/admin/vocabulary/category").get_data(as_text=True)
    assert "<th>阳高乡</th>" in page and "本乡镇不使用" in page

    answer = _switch(client, "category", category.id, "off")
    assert answer.status_code == 303
    assert "阳高乡已停用" in client.get(answer.headers["Location"]).get_data(as_text=True)
    assert _switch(client, "venue_type", venue.id, "off").status_code == 303

    # The township's public filter and its Open311 services no longer offer them …
    assert category.name not in _options(client, "/t/yanggao/disclosures", "category")
    assert venue.name not in _options(client, "/t/yanggao/disclosures", "venue_type")
    codes = [s["service_code"] for s in client.get(
        "/open311/v2/services.json?jurisdiction_id=yanggao").get_json()]
    assert "hot_work" not in codes and "blocked_escape" in codes
    # … another township's and the county's still do; the county's own flag is untouched.
    assert category.name in _options(client, "/t/beishe/disclosures", "category")
    assert category.name in _options(client, "/disclosures", "category")
    assert "hot_work" in [s["service_code"] for s in client.get(
        "/open311/v2/services.json?jurisdiction_id=beishe").get_json()]
    db_session.refresh(category)
    assert category.active

    audited = db_session.scalar(select(AuditLog).where(
        AuditLog.action == "category.township_off"))
    assert audited is not None and audited.after["in_use"] is False

    assert _switch(client, "category", category.id, "on").status_code == 303
    assert category.name in _options(client, "/t/yanggao/disclosures", "category")


def test_only_a_townships_own_admin_switches_for_it(client, sign_in, township_staff,
                                                      db_session: Session) -> None:
    category = factories.category(db_session, "hot_work")
    sign_in("admin_county")  # the county keeps the list itself: no township column
    assert "本乡镇不使用" not in client.get("/admin/vocabulary/category").get_data(as_text=True)
    assert _switch(client, "category", category.id, "off").status_code == 404
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/password")})
    sign_in("moderator_a")
    assert _switch(client, "category", category.id, "off").status_code == 403
    yanggao = factories.township(db_session)
    with pytest.raises(vocabulary.VocabularyError, match="自己管理的乡镇"):
        vocabulary.switch(db_session, "category", category, yanggao, on=False,
                          actor=township_staff["admin_b"])
    assert vocabulary.switched_off(db_session, "category", yanggao.id) == set()


def test_a_switched_off_category_is_not_offered_to_the_townships_residents_nor_taken(
        client, sign_in, db_session: Session) -> None:
    from tests.public.test_townships_public import _report

    blocked = factories.category(db_session, "blocked_escape")
    sign_in("admin_b")  # 北社乡's admin
    assert _switch(client, "category", blocked.id, "off").status_code == 303
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/password")})

    def offered(url: str) -> list[int]:
        html = client.get(url).get_data(as_text=True)
        return [int(v) for v in re.findall(
            r'name="category" id="category-\d+" value="(\d+)"', html)]

    assert blocked.id not in offered("/t/beishe/report") and offered("/t/beishe/report")
    assert blocked.id in offered("/t/yanggao/report")
    assert blocked.id in offered("/report"), "county-wide: every active one"
    # Chosen on the county-wide form for a village of 北社乡, it is refused with the reason
    # and nothing is stored; for 阳高乡's village it is taken.
    refused = _report(client, db_session, "/report", "BS-V01")
    assert refused.status_code == 422
    assert "北社乡（示例）不使用" in refused.get_data(as_text=True)
    assert _report(client, db_session, "/report", "V01").status_code == 200
