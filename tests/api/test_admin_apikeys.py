"""The administrator's screen for partner keys: issue (shown once), list, revoke."""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.domain.access import api_keys
from portal.domain.models import ApiKey
from tests.admin.conftest import login
from tests.api.conftest import post_request
from tests.conftest import csrf_token

KEY_RE = re.compile(r"[0-9a-f]{8}\.[A-Za-z0-9_-]{43}")


def test_an_admin_issues_a_key_that_works_and_is_shown_once(client, db_session, as_role):
    as_role("admin")
    token = csrf_token(client, "/admin/apikeys")
    page = client.post("/admin/apikeys", data={"partner": "12345热线", "csrf_token": token})
    assert page.status_code == 200
    key = KEY_RE.search(page.get_data(as_text=True)).group(0)
    assert post_request(client, key).status_code == 200

    listing = client.get("/admin/apikeys").get_data(as_text=True)
    assert "12345热线" in listing
    assert key not in listing
    assert key.partition(".")[0] in listing


def test_an_admin_revokes_a_key(client, db_session, as_role):
    issued = api_keys.issue(db_session, "网格平台")
    db_session.commit()
    as_role("admin")
    token = csrf_token(client, "/admin/apikeys")
    response = client.post(f"/admin/apikeys/{issued.api_key.id}/revoke",
                           data={"csrf_token": token})
    assert response.status_code == 302
    assert "已停用" in client.get("/admin/apikeys").get_data(as_text=True)
    assert post_request(client, issued.key).status_code == 403


def test_an_empty_name_is_refused_with_a_message(client, db_session, as_role):
    as_role("admin")
    token = csrf_token(client, "/admin/apikeys")
    page = client.post("/admin/apikeys", data={"partner": "", "csrf_token": token})
    assert page.status_code == 422
    assert "请填写合作渠道名称" in page.get_data(as_text=True)
    assert db_session.scalars(select(ApiKey)).all() == []


def test_only_those_who_manage_settings_reach_it(client, db_session, staff):
    assert client.get("/admin/apikeys").status_code == 302  # to the login
    assert login(client, staff["moderator"].username).status_code == 302
    assert client.get("/admin/apikeys").status_code == 403


def test_a_posted_tip_waits_in_the_moderators_queue(client, db_session, as_role, partner_key):
    post_request(client, partner_key, **{"attribute[unit_name]": "合作渠道测试小卖部"})
    as_role("moderator")
    page = client.get("/admin/queue?channel=api").get_data(as_text=True)
    assert "合作渠道测试小卖部" in page
    assert "合作渠道" in page
