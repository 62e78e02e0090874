"""Partners post tips: a valid key creates a pending tip for the moderators; nothing else does."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.domain.access import api_keys
from portal.domain.enums import Channel, TipStatus
from portal.domain.models import ApiKey, Tip
from tests.api.conftest import post_request, xml_of


def _tip_count(db_session) -> int:
    return db_session.scalar(select(func.count(Tip.id)))


def test_a_valid_key_creates_a_pending_api_tip_in_the_moderation_queue(
    client, db_session, partner_key
) -> None:
    response = post_request(client, partner_key, phone="13800138000", first_name="三",
                            last_name="张", email="zhang@example.com",
                            **{"attribute[venue_type]": "street_shop",
                               "attribute[wants_feedback]": "yes"})
    assert response.status_code == 200
    (created,) = response.get_json()
    assert created["service_request_id"].startswith("T")
    assert created["token"]
    assert "查询码" in created["service_notice"]

    tip = db_session.get(Tip, int(created["service_request_id"][1:]))
    assert tip.status is TipStatus.PENDING
    assert tip.channel is Channel.API
    assert tip.unit_name == "村口小卖部"
    assert tip.village.code == "V01"
    assert tip.category.code == "wiring"
    assert tip.venue_type.code == "street_shop"
    assert (tip.lat, tip.lon) == (36.1, 113.2)
    assert tip.wants_feedback is True
    partner = db_session.get(ApiKey, tip.api_key_id)
    assert partner.partner == "12345热线"
    # The reporter's details are kept only encrypted.
    assert tip.reporter_phone_enc and b"13800138000" not in tip.reporter_phone_enc
    from portal.identity import cipher

    with client.application.app_context():
        assert cipher().decrypt(tip.reporter_name_enc) == "张三"
        assert cipher().decrypt(tip.reporter_phone_enc) == "13800138000"


def test_the_xml_answer_uses_the_spec_element_names(client, db_session, partner_key) -> None:
    root = xml_of(post_request(client, partner_key, fmt="xml"))
    assert root.tag == "service_requests"
    request = root.find("request")
    assert request.findtext("service_request_id").startswith("T")
    assert request.findtext("token")
    assert request.find("account_id") is not None


def test_an_address_alone_is_a_location(client, db_session, partner_key) -> None:
    response = post_request(client, partner_key, lat=None, long=None,
                            address_string="阳高乡东街 3 号")
    assert response.status_code == 200
    tip = db_session.get(Tip, int(response.get_json()[0]["service_request_id"][1:]))
    assert tip.address == "阳高乡东街 3 号"
    assert tip.lat is None


def test_a_photo_link_reaches_the_moderators_with_the_tip(client, db_session, partner_key):
    response = post_request(client, partner_key, media_url="https://partner.example/p/1.jpg")
    tip = db_session.get(Tip, int(response.get_json()[0]["service_request_id"][1:]))
    assert "https://partner.example/p/1.jpg" in tip.description
    # A link does not stand in for the caller's description.
    response = post_request(client, partner_key, description="火",
                            media_url="https://partner.example/p/1.jpg")
    assert response.status_code == 400
    assert "description" in response.get_json()[0]["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("key", [None, "", "deadbeef.not-the-secret", "garbage"])
def test_without_a_valid_key_403_and_no_tip(client, db_session, partner_key, key, fmt) -> None:
    before = _tip_count(db_session)
    response = post_request(client, key, fmt=fmt)
    assert response.status_code == 403
    if fmt == "json":
        assert response.get_json()[0]["code"] == 403
    else:
        assert xml_of(response).findtext("error/code") == "403"
    assert _tip_count(db_session) == before


def test_a_revoked_key_no_longer_works(client, db_session, partner_key) -> None:
    api_keys.revoke(db_session, api_keys.authenticate(db_session, partner_key))
    assert post_request(client, partner_key).status_code == 403


def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(client, partner_key) -> None:
    prefix = partner_key.partition(".")[0]
    assert post_request(client, f"{prefix}.wrong").status_code == 403


def test_unknown_service_code_is_400_and_missing_one_too(client, partner_key) -> None:
    response = post_request(client, partner_key, service_code="no_such_thing")
    assert response.status_code == 400
    assert "service_code" in response.get_json()[0]["description"]
    response = post_request(client, partner_key, service_code="")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"lat": "north"}, "lat"),
        ({"lat": None, "long": None}, "lat"),
        ({"lat": "95", "long": "113"}, "lat/long"),
        ({"attribute[village]": "V99"}, "attribute[village]"),
        ({"attribute[village]": None}, "attribute[village]"),
        ({"attribute[venue_type]": "castle"}, "attribute[venue_type]"),
        ({"attribute[unit_name]": ""}, "attribute[unit_name]"),
        ({"attribute[observed_at]": "yesterday"}, "attribute[observed_at]"),
        ({"attribute[observed_at]": "2020-01-01T08:00:00"}, "attribute[observed_at]"),
        ({"attribute[wants_feedback]": "maybe"}, "attribute[wants_feedback]"),
        ({"description": "太短"}, "description"),
        ({"description": "长" * 4001}, "description"),
        ({"phone": "12345"}, "phone"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
    ],
)
def test_malformed_values_are_400_naming_the_parameter(
    client, db_session, partner_key, fields, named
) -> None:
    before = _tip_count(db_session)
    response = post_request(client, partner_key, **fields)
    assert response.status_code == 400
    errors = response.get_json()
    assert isinstance(errors, list)
    assert all(e["code"] == 400 for e in errors)
    assert any(named in e["description"] for e in errors)
    assert _tip_count(db_session) == before


def test_several_intake_problems_come_back_as_several_errors(client, partner_key) -> None:
    response = post_request(client, partner_key, description="短",
                            **{"attribute[unit_name]": ""})
    root_errors = response.get_json()
    assert response.status_code == 400
    assert len(root_errors) == 2
    response = post_request(client, partner_key, fmt="xml", description="短",
                            **{"attribute[unit_name]": ""})
    assert [e.findtext("code") for e in xml_of(response).findall("error")] == ["400", "400"]


def test_posts_are_rate_limited_per_key(client, db_session, partner_key, other_key,
                                        monkeypatch) -> None:
    from portal.api import service_requests

    monkeypatch.setattr(service_requests, "POST_RATE_LIMIT", "2 per minute")
    # Refused posts count too: a partner cannot hammer the intake with bad data.
    assert post_request(client, partner_key, description="短").status_code == 400
    assert post_request(client, partner_key, description="短").status_code == 400
    response = post_request(client, partner_key)
    assert response.status_code == 429
    assert response.get_json()[0]["code"] == 429
    # Another partner is not held back by the first one's traffic.
    assert post_request(client, other_key).status_code == 200
