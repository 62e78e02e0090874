"""Open311 pages through all disclosed cases with the documented extension (docs/open311.md):
``page_size`` and an opaque ``after`` cursor, the next page's URL in ``Link: <…>; rel="next"``.
Pages are cached like the public pages, and reads are rate-limited per client address."""

from __future__ import annotations

import base64
import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.db import database
from portal.domain.clock import utcnow
from portal.domain.enums import CaseStatus
from portal.domain.models import Case
from portal.web.caching import page_cache
from tests import factories
from tests.api.conftest import API, make_disclosed_case, xml_of

LINK_RE = re.compile(r'^<([^>]+)>; rel="next"$')


def _seed(session: Session, count: int) -> list[Case]:
    """Disclosed cases opened in the last hours; every three share a time, so that the id has
    to settle the order within a tie. Disclosed in the opposite order, which must not matter."""
    base = utcnow() - dt.timedelta(hours=3)
    return [make_disclosed_case(session, created_at=base + dt.timedelta(seconds=n - n % 3),
                                disclosed_at=utcnow() - dt.timedelta(seconds=n),
                                public_summary=f"第{n}号隐患")
            for n in range(count)]


def _newest_request_first(cases: list[Case]) -> list[str]:
    return [str(c.id) for c in sorted(cases, key=lambda c: (c.created_at, c.id), reverse=True)]


def _ids(response) -> list[str]:
    if response.content_type.startswith("text/xml"):
        return [r.findtext("service_request_id") for r in xml_of(response).findall("request")]
    return [r["service_request_id"] for r in response.get_json()]


def _next(response) -> str | None:
    """The path and query of the next page, from the Link header (None on the last page)."""
    link = response.headers.get("Link")
    if link is None:
        return None
    match = LINK_RE.match(link)
    assert match, link
    url = urlsplit(match.group(1))
    assert (url.scheme, url.netloc) == ("http", "localhost"), link
    return f"{url.path}?{url.query}"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_pages_through_every_disclosed_case_once_in_a_stable_order(
        client, db_session, fmt) -> None:
    cases = _seed(db_session, 120)
    factories.make_case(db_session, status=CaseStatus.CHECKING, routed_at=utcnow(),
                        confirmed_at=utcnow(), public_summary="未公开")
    expected = _newest_request_first(cases)

    seen: list[str] = []
    pages = 0
    url: str | None = f"{API}/requests.{fmt}?page_size=25&status=open"
    while url is not None and pages < 10:
        response = client.get(url)
        assert response.status_code == 200, response.data
        assert response.data.startswith(b"[" if fmt == "json" else b"<?xml")
        seen += _ids(response)
        pages += 1
        url = _next(response)
        if pages == 1:
            assert url is not None and "page_size=25" in url and "status=open" in url
            # A case opened and disclosed meanwhile comes before the cursor: it neither
            # repeats a row nor pushes one out of the walk.
            make_disclosed_case(db_session)
    assert url is None, "the Link chain ends"
    assert pages == 5
    assert seen == expected, "each disclosed case exactly once, newest request first"


def test_the_default_count_and_page_size_limits(client, db_session) -> None:
    _seed(db_session, 120)
    response = client.get(f"{API}/requests.json")
    assert len(_ids(response)) == 50
    assert _next(response) is not None
    assert len(_ids(client.get(f"{API}/requests.json?page_size=7"))) == 7
    everything = client.get(f"{API}/requests.json?page_size=200")
    assert len(_ids(everything)) == 120
    assert "Link" not in everything.headers, "no next page after the last"
    for size in ("201", "0", "-1", "abc", "1.5"):
        for fmt in ("json", "xml"):
            response = client.get(f"{API}/requests.{fmt}?page_size={size}")
            assert response.status_code == 400, size
            description = (response.get_json()[0]["description"] if fmt == "json"
                           else xml_of(response).findtext("error/description"))
            assert "page_size" in description and "200" in description


@pytest.mark.parametrize("after", [
    "garbage!",
    base64.urlsafe_b64encode(b"1700000000000000").decode(),  # no id
    base64.urlsafe_b64encode(b"1700000000000000.0").decode(),
    base64.urlsafe_b64encode(b"99999999999999999999.5").decode(),
    "x" * 100,
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_bad_cursor_is_400_saying_where_to_get_a_good_one(client, after, fmt) -> None:
    response = client.get(f"{API}/requests.{fmt}", query_string={"after": after})
    assert response.status_code == 400
    description = (response.get_json()[0]["description"] if fmt == "json"
                   else xml_of(response).findtext("error/description"))
    assert "after" in description and "Link" in description


def test_a_page_is_cached_and_answers_304_with_its_link(client, db_session) -> None:
    _seed(db_session, 60)
    first = client.get(f"{API}/requests.json")
    etag = first.headers.get("ETag")
    assert etag and "must-revalidate" in first.headers["Cache-Control"]
    again = client.get(f"{API}/requests.json")
    assert again.data == first.data, "served from the page cache"
    assert again.headers["Link"] == first.headers["Link"], "the cached page keeps its link"
    assert again.content_type.startswith("application/json")
    unchanged = client.get(f"{API}/requests.json", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.data == b""
    xml = client.get(f"{API}/requests.xml")
    assert xml.headers["ETag"] != etag, "each format is its own page"
    assert client.get(f"{API}/requests.xml").data == xml.data
    assert client.get(f"{API}/requests.xml").content_type.startswith("text/xml")


def test_with_a_key_the_listing_is_not_kept_but_still_paged(
        client, db_session, partner_key) -> None:
    _seed(db_session, 60)
    response = client.get(f"{API}/requests.json", query_string={"api_key": partner_key})
    assert response.status_code == 200
    assert "ETag" not in response.headers, "a partner's answer is not a public page"
    following = _next(response)
    assert following is not None and partner_key not in following
    assert "api_key" not in following


def test_reads_are_rate_limited_per_client_address(app, client, db_session,
                                                   monkeypatch) -> None:
    case = _seed(db_session, 1)[0]
    monkeypatch.setitem(app.config, "OPEN311_GET_RATE_LIMIT", "3 per minute")
    first = client.get(f"{API}/requests.json")
    assert first.status_code == 200
    assert client.get(f"{API}/requests.json",
                      headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert client.get(f"{API}/requests/{case.id}.xml").status_code == 200  # the same budget
    refused = client.get(f"{API}/requests.json")
    assert refused.status_code == 429
    (error,) = refused.get_json()
    assert error == {"code": 429, "description": "请求过于频繁，请稍后再试"}
    refused_xml = client.get(f"{API}/requests.xml")
    assert refused_xml.status_code == 429
    assert xml_of(refused_xml).findtext("error/code") == "429"
    # Another client is not held back by the first one's traffic.
    other = client.get(f"{API}/requests.json", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 200


def _queries(app, client, url: str):
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = database(app).engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(seen), response


def test_queries_per_page_do_not_grow_with_the_cases(app, client, db_session) -> None:
    _seed(db_session, 15)
    few, response = _queries(app, client, f"{API}/requests.json?page_size=10")
    assert len(_ids(response)) == 10
    _seed(db_session, 60)
    # Factory rows move no data version (the portal's own writes are audited): start afresh.
    page_cache.clear()
    many, response = _queries(app, client, f"{API}/requests.json?page_size=10")
    assert len(_ids(response)) == 10
    deeper, response = _queries(app, client, _next(response) or "")
    assert len(_ids(response)) == 10
    assert few == many == deeper, "a page costs the same whatever the number of cases"
    assert many <= 14
    repeat, _response = _queries(app, client, f"{API}/requests.json?page_size=10")
    # The two version queries, plus the test harness's SAVEPOINT and RELEASE.
    assert repeat <= 4 < many, "a repeat only asks for the data version"
