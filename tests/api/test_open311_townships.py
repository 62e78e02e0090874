"""Open311 for a county of townships (issue 18): ``jurisdiction_id`` is a township's code; no
jurisdiction_id is the county, for every township; a key of one township works only there."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from portal.domain.access import api_keys
from portal.domain.models import Tip, Unit
from tests import factories
from tests.api.conftest import API, make_disclosed_case, post_request, xml_of


@pytest.fixture
def beishe_key(db_session: Session) -> str:
    return api_keys.issue(db_session, "北社乡网格员", township_id=factories.township(
        db_session, "beishe").id).key


def _case_in(session: Session, village_code: str, name: str):
    village = factories.village(session, village_code)
    return make_disclosed_case(session, village=village, public_summary=f"{name}门前堆放杂物",
                               unit=Unit(name=name, normalized_name=name, village=village))


def test_discovery_lists_the_townships_as_jurisdictions(client) -> None:
    body = client.get(f"{API}/discovery.json").get_json()
    assert body["jurisdictions"] == [
        {"jurisdiction_id": "yanggao", "name": "平顺县阳高乡"},
        {"jurisdiction_id": "beishe", "name": "平顺县北社乡（示例）"},
        {"jurisdiction_id": "xigou", "name": "平顺县西沟乡（示例）"},
    ]
    root = xml_of(client.get(f"{API}/discovery.xml?jurisdiction_id=beishe"))
    assert [j.findtext("jurisdiction_id") for j in root.findall(
        "jurisdictions/jurisdiction")] == ["beishe"]


@pytest.mark.parametrize("path", ["discovery.json", "services.json", "services/wiring.json",
                                  "requests.json", "requests/1.json"])
def test_an_unknown_jurisdiction_is_open311s_404(client, path: str) -> None:
    response = client.get(f"{API}/{path}?jurisdiction_id=nowhere")
    assert response.status_code == 404
    assert response.get_json() == [{"code": 404,
                                    "description": "jurisdiction_id 不存在：nowhere"}]


def test_a_service_definition_offers_the_jurisdictions_villages(client) -> None:
    def villages(query: str) -> dict[str, str]:
        body = client.get(f"{API}/services/wiring.json{query}").get_json()
        (village,) = [a for a in body["attributes"] if a["code"] == "village"]
        return {v["key"]: v["name"] for v in village["values"]}

    beishe = villages("?jurisdiction_id=beishe")
    assert beishe == {"BS-V01": beishe["BS-V01"], "BS-V02": "东庄村（示例）",
                      "BS-V03": beishe["BS-V03"]}
    county = villages("")
    assert county["V02"] == "东庄村（示例）（阳高乡）"
    assert county["BS-V02"] == "东庄村（示例）（北社乡（示例））"
    assert len(county) == 10


def test_requests_of_a_jurisdiction_are_its_villages_disclosures(
        client, db_session: Session) -> None:
    yanggao = _case_in(db_session, "V01", "阳高小卖部")
    beishe = _case_in(db_session, "BS-V02", "北社超市")

    def ids(query: str) -> set[str]:
        return {r["service_request_id"] for r in
                client.get(f"{API}/requests.json{query}").get_json()}

    assert ids("") == {str(yanggao.id), str(beishe.id)}
    assert ids("?jurisdiction_id=beishe") == {str(beishe.id)}
    assert ids("?jurisdiction_id=xigou") == set()
    assert ids(f"?jurisdiction_id=beishe&service_request_id={yanggao.id}") == set()
    assert client.get(f"{API}/requests/{yanggao.id}.json?jurisdiction_id=beishe"
                      ).status_code == 404
    assert client.get(f"{API}/requests/{beishe.id}.json?jurisdiction_id=beishe"
                      ).status_code == 200


def test_a_post_must_name_a_village_of_the_jurisdiction(
        client, db_session: Session, partner_key: str) -> None:
    refused = post_request(client, partner_key, jurisdiction_id="beishe")  # V01: yanggao
    assert refused.status_code == 400
    assert refused.get_json() == [{"code": 400, "description":
                                   "attribute[village]：所选的村不属于本乡镇，请重新选择"}]
    accepted = post_request(client, partner_key, jurisdiction_id="beishe",
                            **{"attribute[village]": "BS-V02"})
    assert accepted.status_code == 200
    # A county key without jurisdiction_id files in any township: the village decides.
    county = post_request(client, partner_key, **{"attribute[village]": "XG-V01"})
    assert county.status_code == 200
    tip = db_session.get(Tip, int(county.get_json()[0]["service_request_id"][1:]))
    assert tip.village.township.code == "xigou"


def test_a_townships_key_posts_and_follows_only_in_its_township(
        client, db_session: Session, beishe_key: str) -> None:
    assert post_request(client, beishe_key).status_code == 400, "V01 lies in yanggao"
    other = post_request(client, beishe_key, jurisdiction_id="yanggao")
    assert other.status_code == 403
    assert other.get_json()[0]["code"] == 403 and "本乡镇" in other.get_json()[0]["description"]
    created = post_request(client, beishe_key, **{"attribute[village]": "BS-V01"})
    assert created.status_code == 200
    request_id = created.get_json()[0]["service_request_id"]
    follow = f"{API}/requests/{request_id}.json?api_key={beishe_key}"
    assert client.get(follow).get_json()[0]["service_request_id"] == request_id
    assert client.get(follow + "&jurisdiction_id=yanggao").status_code == 403
    listed = client.get(f"{API}/requests.json?api_key={beishe_key}"
                        f"&service_request_id={request_id}").get_json()
    assert [r["service_request_id"] for r in listed] == [request_id]
    # Moved by a moderator to a village of another township, the tip is no longer its to follow.
    tip = db_session.get(Tip, int(request_id[1:]))
    tip.village = factories.village(db_session, "V03")
    db_session.flush()
    assert client.get(follow).status_code == 404
