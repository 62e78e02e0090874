"""Reading requests: disclosed cases for everyone, a partner's own tips for that partner only,
and never the reporter or the tip's own words."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from portal.domain.clock import utcnow
from portal.domain.enums import (
    AttachmentKind,
    CaseOutcome,
    CaseStatus,
    RejectReason,
    TipStatus,
)
from portal.domain.models import Attachment, Category, Tip
from tests import factories
from tests.api.conftest import API, make_disclosed_case, post_request, xml_of

FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
}


def _ids(response) -> list[str]:
    return [r["service_request_id"] for r in response.get_json()]


def test_a_disclosed_case_in_full(client, db_session, disclosed_case) -> None:
    body = client.get(f"{API}/requests.json").get_json()
    assert isinstance(body, list)
    (row,) = [r for r in body if r["service_request_id"] == str(disclosed_case.id)]
    assert set(row) == FIELDS
    assert row["status"] == "open"
    assert row["status_notes"] == "纸箱已清走一半。"  # the latest public progress
    assert row["service_code"] == "wiring"
    assert row["service_name"] == disclosed_case.category.name
    assert row["description"] == "楼道内堆放大量纸箱，堵塞疏散通道。"
    assert row["agency_responsible"] == factories.department(db_session, "FIRE").name
    assert row["expected_datetime"] == "2026-12-15T23:59:59+08:00"
    assert row["requested_datetime"].endswith("+08:00")
    assert row["updated_datetime"].endswith("+08:00")
    assert dt.datetime.fromisoformat(row["requested_datetime"]) == \
        disclosed_case.created_at.replace(microsecond=0)
    assert "村东头 12 号" in row["address"]
    assert (row["lat"], row["long"]) == (36.1, 113.2)
    assert row["media_url"] == "http://localhost/media/publicphoto1.jpg"


def test_the_same_in_xml(client, disclosed_case) -> None:
    root = xml_of(client.get(f"{API}/requests.xml"))
    assert root.tag == "service_requests"
    (request,) = [r for r in root.findall("request")
                  if r.findtext("service_request_id") == str(disclosed_case.id)]
    assert {child.tag for child in request} == FIELDS
    assert request.findtext("status") == "open"
    assert request.findtext("long") == "113.2"
    assert request.findtext("expected_datetime") == "2026-12-15T23:59:59+08:00"


def test_one_request_by_id_in_both_formats(client, disclosed_case) -> None:
    body = client.get(f"{API}/requests/{disclosed_case.id}.json").get_json()
    assert isinstance(body, list)
    assert _ids_of(body) == [str(disclosed_case.id)]
    root = xml_of(client.get(f"{API}/requests/{disclosed_case.id}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == str(disclosed_case.id)


def _ids_of(body) -> list[str]:
    return [r["service_request_id"] for r in body]


def test_internal_text_and_photos_not_marked_public_stay_inside(client, disclosed_case):
    text = client.get(f"{API}/requests/{disclosed_case.id}.json").get_data(as_text=True)
    assert "内部" not in text
    assert "亲戚" not in text


def test_only_a_public_photo_that_was_not_withheld_is_linked(client, db_session, disclosed_case):
    event = disclosed_case.events[0]
    for photo in db_session.scalars(select(Attachment).where(
            Attachment.case_event_id == event.id)):
        photo.withheld = True
    db_session.add(Attachment(stored_name="private.jpg", kind=AttachmentKind.PHOTO,
                              content_type="image/jpeg", size_bytes=1, sha256="1" * 64,
                              public=False, case_event_id=event.id))
    db_session.flush()
    (row,) = client.get(f"{API}/requests/{disclosed_case.id}.json").get_json()
    assert row["media_url"] is None
    db_session.add(Attachment(stored_name="second.jpg", kind=AttachmentKind.PHOTO,
                              content_type="image/jpeg", size_bytes=1, sha256="2" * 64,
                              public=True, case_event_id=event.id))
    db_session.flush()
    (row,) = client.get(f"{API}/requests/{disclosed_case.id}.json").get_json()
    assert row["media_url"] == "http://localhost/media/second.jpg"


def test_a_closed_case_is_closed(client, db_session, disclosed_case) -> None:
    disclosed_case.status = CaseStatus.CLOSED
    disclosed_case.closed_at = utcnow()
    disclosed_case.outcome = CaseOutcome.RECTIFIED
    db_session.flush()
    (row,) = client.get(f"{API}/requests/{disclosed_case.id}.json").get_json()
    assert row["status"] == "closed"
    assert _ids(client.get(f"{API}/requests.json?status=open")) == []
    assert _ids(client.get(f"{API}/requests.json?status=closed")) == [str(disclosed_case.id)]
    assert _ids(client.get(f"{API}/requests.json?status=closed,closed")) == \
        [str(disclosed_case.id)]
    assert _ids(client.get(f"{API}/requests.json?status=open,closed")) == \
        [str(disclosed_case.id)]


def test_an_undisclosed_case_is_invisible_everywhere(client, db_session, partner_key) -> None:
    case = factories.make_case(db_session, status=CaseStatus.CHECKING, routed_at=utcnow(),
                               confirmed_at=utcnow(), public_summary="草稿")
    for url in (f"{API}/requests.json", f"{API}/requests.xml",
                f"{API}/requests.json?service_request_id={case.id}",
                f"{API}/requests.json?api_key={partner_key}&service_request_id={case.id}"):
        response = client.get(url)
        assert response.status_code == 200
        assert str(case.id) not in _ids_of_any(response), url
    for url in (f"{API}/requests/{case.id}.json", f"{API}/requests/{case.id}.xml",
                f"{API}/requests/{case.id}.json?api_key={partner_key}"):
        assert client.get(url).status_code == 404, url


def _ids_of_any(response) -> list[str]:
    if response.content_type.startswith("text/xml"):
        return [r.findtext("service_request_id") for r in xml_of(response).findall("request")]
    return _ids(response)


def test_filters(client, db_session, disclosed_case) -> None:
    other = make_disclosed_case(db_session, category=_another_category(db_session))
    both = {str(disclosed_case.id), str(other.id)}
    assert set(_ids(client.get(f"{API}/requests.json"))) >= both
    ids = _ids(client.get(f"{API}/requests.json?service_request_id={other.id}"
                          "&service_code=no_such_code"))
    assert ids == [str(other.id)]  # ids override every other filter
    ids = _ids(client.get(f"{API}/requests.json?service_request_id={other.id},"
                          f"{disclosed_case.id}"))
    assert set(ids) == both
    code = other.category.code
    ids = set(_ids(client.get(f"{API}/requests.json?service_code={code}")))
    assert str(other.id) in ids
    assert str(disclosed_case.id) not in ids


def _another_category(db_session) -> Category:
    return db_session.scalars(select(Category).where(Category.code != "wiring")).first()


def test_the_default_window_is_the_last_90_days(client, db_session, disclosed_case) -> None:
    old = make_disclosed_case(db_session, created_at=utcnow() - dt.timedelta(days=200))
    assert str(old.id) not in _ids(client.get(f"{API}/requests.json"))
    start = (utcnow() - dt.timedelta(days=210)).date().isoformat()
    end = (utcnow() - dt.timedelta(days=150)).date().isoformat()
    assert _ids(client.get(f"{API}/requests.json?start_date={start}&end_date={end}")) == \
        [str(old.id)]
    assert _ids(client.get(f"{API}/requests.json?start_date={start}")) == [str(old.id)]
    # By id it is found whatever its age.
    assert _ids(client.get(f"{API}/requests.json?service_request_id={old.id}")) == [str(old.id)]


@pytest.mark.parametrize("query", [
    "start_date=yesterday",
    "end_date=2026-13-01",
    "start_date=2026-01-01&end_date=2026-12-01",  # more than 90 days
    "start_date=2026-03-01&end_date=2026-02-01",
    "status=pending",
    "service_request_id=12;DROP",
    "service_request_id=99999999999",
    "service_code=%00",
    "start_date=0001-01-01T00:00:00",
    "start_date=9999-12-31T23:59:59",
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_malformed_filters_are_400_with_the_error_body(client, query, fmt) -> None:
    response = client.get(f"{API}/requests.{fmt}?{query}")
    assert response.status_code == 400, response.data
    if fmt == "json":
        (error,) = response.get_json()
        assert error["code"] == 400
        assert error["description"]
    else:
        assert xml_of(response).findtext("error/code") == "400"


def test_far_dates_inside_the_calendar_find_nothing(client) -> None:
    assert client.get(f"{API}/requests.json?end_date=9999-12-31T23:59:59").get_json() == []
    assert client.get(f"{API}/requests.json?start_date=1900-01-01").get_json() == []


def test_a_partners_own_undisclosed_tip_status_and_notes_only(
    client, db_session, partner_key, other_key
) -> None:
    created = post_request(client, partner_key, phone="13800138000", first_name="三",
                           last_name="张").get_json()[0]
    tip_id = created["service_request_id"]
    (row,) = client.get(f"{API}/requests/{tip_id}.json?api_key={partner_key}").get_json()
    assert row == {"service_request_id": tip_id, "status": "open",
                   "status_notes": "乡消安办已收到您的举报，正在审核。"}
    root = xml_of(client.get(f"{API}/requests/{tip_id}.xml?api_key={partner_key}"))
    assert [c.tag for c in root.find("request")] == ["service_request_id", "status",
                                                     "status_notes"]
    listed = client.get(f"{API}/requests.json?service_request_id={tip_id}"
                        f"&api_key={partner_key}").get_json()
    assert listed == [row]

    # Nobody else sees it: no key, another partner's key, the public list.
    assert client.get(f"{API}/requests/{tip_id}.json").status_code == 404
    assert client.get(f"{API}/requests/{tip_id}.json?api_key={other_key}").status_code == 404
    assert client.get(f"{API}/requests.json?service_request_id={tip_id}"
                      f"&api_key={other_key}").get_json() == []
    assert client.get(f"{API}/requests.json?service_request_id={tip_id}").get_json() == []
    assert tip_id not in _ids(client.get(f"{API}/requests.json"))


def test_a_rejected_tip_is_closed_with_the_reason(client, db_session, partner_key) -> None:
    created = post_request(client, partner_key).get_json()[0]
    tip = db_session.get(Tip, int(created["service_request_id"][1:]))
    tip.status = TipStatus.REJECTED
    tip.reject_reason = RejectReason.DUPLICATE
    tip.decided_at = utcnow()
    db_session.flush()
    (row,) = client.get(f"{API}/requests/T{tip.id}.json?api_key={partner_key}").get_json()
    assert row["status"] == "closed"
    assert RejectReason.DUPLICATE.label in row["status_notes"]


def test_a_web_tip_is_nobodys_partner_tip(client, db_session, partner_key) -> None:
    tip = factories.make_tip(db_session)
    assert client.get(f"{API}/requests/T{tip.id}.json?api_key={partner_key}").status_code == 404


def test_an_invalid_key_on_a_read_is_403(client, disclosed_case) -> None:
    response = client.get(f"{API}/requests/{disclosed_case.id}.json?api_key=nonsense")
    assert response.status_code == 403


def test_reporter_details_posted_never_come_back_out(
    client, db_session, partner_key, disclosed_case
) -> None:
    secret_bits = ["13912345678", "李四", "secret@example.com", "电线私拉乱接的原话"]
    created = post_request(
        client, partner_key, phone="13912345678", first_name="四", last_name="李",
        email="secret@example.com", description="电线私拉乱接的原话，插线板堆在纸箱上。",
    ).get_json()[0]
    tip = db_session.get(Tip, int(created["service_request_id"][1:]))
    # The moderators accept it into the disclosed case.
    tip.status = TipStatus.ACCEPTED
    tip.case_id = disclosed_case.id
    tip.decided_at = utcnow()
    db_session.flush()
    token = created["token"]
    urls = [f"{API}/requests.{f}" for f in ("json", "xml")]
    urls += [f"{API}/requests/{disclosed_case.id}.{f}" for f in ("json", "xml")]
    urls += [f"{API}/requests/{created['service_request_id']}.{f}?api_key={partner_key}"
             for f in ("json", "xml")]
    urls += [f"{API}/tokens/{token}.{f}" for f in ("json", "xml")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.get_data(as_text=True)
        for bit in secret_bits:
            assert bit not in text, (url, bit)


def test_a_token_resolves_to_the_tip_then_to_the_disclosed_case(
    client, db_session, partner_key, disclosed_case
) -> None:
    created = post_request(client, partner_key).get_json()[0]
    token = created["token"]
    (row,) = client.get(f"{API}/tokens/{token}.json").get_json()
    assert row == {"service_request_id": created["service_request_id"], "token": token}
    root = xml_of(client.get(f"{API}/tokens/{token}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/token") == token

    tip = db_session.get(Tip, int(created["service_request_id"][1:]))
    tip.status, tip.case_id, tip.decided_at = TipStatus.MERGED, disclosed_case.id, utcnow()
    db_session.flush()
    (row,) = client.get(f"{API}/tokens/{token}.json").get_json()
    assert row["service_request_id"] == str(disclosed_case.id)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_forged_token_is_404(client, db_session, partner_key, fmt) -> None:
    created = post_request(client, partner_key).get_json()[0]
    tip_id = created["service_request_id"][1:]
    response = client.get(f"{API}/tokens/{tip_id}-{'0' * 24}.{fmt}")
    assert response.status_code == 404
    assert client.get(f"{API}/tokens/nonsense.{fmt}").status_code == 404


def _located_case(db_session, venue: str | None):
    case = make_disclosed_case(db_session, public_summary="消防车道被占。")
    case.unit.address = "村东头 12 号"
    case.unit.lat, case.unit.lon = 36.123456, 113.654321
    case.unit.venue_type = factories.venue_type(db_session, venue) if venue else None
    db_session.flush()
    return case


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_coordinates_are_published_rounded_to_about_100_m(client, db_session, fmt) -> None:
    case = _located_case(db_session, "street_shop")
    response = client.get(f"{API}/requests/{case.id}.{fmt}")
    text = response.get_data(as_text=True)
    assert "36.123456" not in text and "113.654321" not in text
    if fmt == "json":
        (row,) = response.get_json()
        assert (row["lat"], row["long"]) == (36.123, 113.654)
        assert row["address"] == f"{case.village.name} 村东头 12 号"
    else:
        assert xml_of(response).findtext("request/lat") == "36.123"


@pytest.mark.parametrize("venue", ["old_residential", "self_built_business", "family_workshop"])
def test_a_home_is_published_only_by_its_village(client, db_session, venue) -> None:
    case = _located_case(db_session, venue)
    (row,) = client.get(f"{API}/requests/{case.id}.json").get_json()
    assert row["address"] == case.village.name
    assert (row["lat"], row["long"]) == (None, None)
    root = xml_of(client.get(f"{API}/requests.xml?service_request_id={case.id}"))
    assert "村东头" not in root.findtext("request/address")
    assert root.findtext("request/lat") == ""


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_home_is_placed_at_its_villages_position_never_its_own(client, db_session,
                                                                fmt) -> None:
    case = _located_case(db_session, "family_workshop")
    case.village.latitude, case.village.longitude = 36.201987, 113.702468
    db_session.flush()
    response = client.get(f"{API}/requests/{case.id}.{fmt}")
    text = response.get_data(as_text=True)
    assert "36.123" not in text and "113.654" not in text, "the home's own point"
    if fmt == "json":
        (row,) = response.get_json()
        assert (row["lat"], row["long"]) == (36.202, 113.702)
        assert row["address"] == case.village.name
    else:
        root = xml_of(response)
        assert (root.findtext("request/lat"), root.findtext("request/long")) == (
            "36.202", "113.702")
