"""Discovery, the service list and the service definitions, in both formats."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.domain.models import Category, Village
from tests.api.conftest import API, xml_of


def test_discovery_names_this_endpoint_and_both_formats(client) -> None:
    body = client.get(f"{API}/discovery.json").get_json()
    # and the county's townships as jurisdictions (issue 18: the demo is now a county)
    assert set(body) == {"changeset", "contact", "key_service", "endpoints", "jurisdictions"}
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2"
    assert endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]

    root = xml_of(client.get(f"{API}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("key_service") == body["key_service"]
    formats = root.findall("endpoints/endpoint/formats/format")
    assert [f.text for f in formats] == ["text/xml", "application/json"]


def test_services_list_every_active_category_with_its_code(client, db_session) -> None:
    active = db_session.scalars(select(Category).where(Category.active)).all()
    body = client.get(f"{API}/services.json").get_json()
    assert isinstance(body, list)
    assert {s["service_code"] for s in body} == {c.code for c in active}
    wiring = next(s for s in body if s["service_code"] == "wiring")
    assert wiring["type"] == "realtime"
    assert wiring["metadata"] is True
    assert set(wiring) == {"service_code", "service_name", "description", "metadata", "type",
                           "keywords", "group"}

    root = xml_of(client.get(f"{API}/services.xml"))
    assert root.tag == "services"
    services = root.findall("service")
    assert len(services) == len(body)
    assert {s.findtext("service_code") for s in services} == {c.code for c in active}
    assert services[0].findtext("metadata") == "true"


def test_an_inactive_category_is_not_offered(client, db_session) -> None:
    category = db_session.scalars(select(Category).where(Category.code == "wiring")).one()
    category.active = False
    db_session.flush()
    codes = {s["service_code"] for s in client.get(f"{API}/services.json").get_json()}
    assert "wiring" not in codes
    assert client.get(f"{API}/services/wiring.json").status_code == 404


def test_service_definition_asks_for_village_and_venue_type_from_the_tables(
    client, db_session
) -> None:
    body = client.get(f"{API}/services/wiring.json").get_json()
    assert body["service_code"] == "wiring"
    by_code = {a["code"]: a for a in body["attributes"]}
    assert set(by_code) == {"village", "unit_name", "venue_type", "observed_at",
                            "wants_feedback"}
    assert [v["key"] for v in by_code["wants_feedback"]["values"]] == ["yes", "no"]
    village = by_code["village"]
    assert village["datatype"] == "singlevaluelist"
    assert village["required"] is True
    villages = db_session.scalars(select(Village).where(Village.active)).all()
    assert {v["key"] for v in village["values"]} == {v.code for v in villages}
    assert by_code["venue_type"]["datatype"] == "singlevaluelist"
    assert by_code["venue_type"]["required"] is False
    assert by_code["unit_name"]["required"] is True

    root = xml_of(client.get(f"{API}/services/wiring.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "wiring"
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == [a["code"] for a in body["attributes"]]
    keys = [v.findtext("key") for v in attributes[0].findall("values/value")]
    assert keys == [v["key"] for v in village["values"]]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_code_is_404_with_the_error_array(client, fmt) -> None:
    response = client.get(f"{API}/services/no_such_thing.{fmt}")
    assert response.status_code == 404
    if fmt == "json":
        (error,) = response.get_json()
        assert error["code"] == 404
        assert "no_such_thing" in error["description"]
    else:
        root = xml_of(response)
        assert root.tag == "errors"
        assert root.findtext("error/code") == "404"


@pytest.mark.parametrize("path", ["nothing-here.xml", "services/wiring.xml/extra.xml",
                                  "services/x%0Ay.xml", "tokens/a%C2%85b.xml"])
def test_unknown_paths_answer_in_the_api_format(client, path) -> None:
    response = client.get(f"{API}/{path}")
    assert response.status_code == 404
    assert xml_of(response).findtext("error/code") == "404"


@pytest.mark.parametrize("path", ["services/wiring.csv", "requests.html", "discovery"])
def test_a_format_other_than_json_or_xml_is_404_in_json(client, path) -> None:
    response = client.get(f"{API}/{path}")
    assert response.status_code == 404
    assert response.get_json()[0]["code"] == 404


def test_the_root_leads_to_discovery(client) -> None:
    response = client.get(f"{API}/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/open311/v2/discovery.json")


def test_wrong_methods_answer_in_the_api_format(client) -> None:
    response = client.post(f"{API}/services.json")
    assert response.status_code == 405
    assert response.get_json()[0]["code"] == 405
    assert "GET" in response.headers["Allow"]


def test_what_a_client_sent_is_quoted_back_as_well_formed_xml(client) -> None:
    response = client.get(f"{API}/services/a%06%0Bb{'x' * 500}.xml")
    assert response.status_code == 404
    description = xml_of(response).findtext("error/description")
    assert "ab" in description and len(description) < 100


def test_jurisdiction_id_is_accepted(client) -> None:
    response = client.get(f"{API}/services.json?jurisdiction_id=yanggao")
    assert response.status_code == 200
