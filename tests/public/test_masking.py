"""One masking rule for every public output.

A phone number, an ID-card number and a plate typed into every text that can become public
(the resident's form, the moderator's public summary, the officers' public notes, the listing,
the bulletin) reach the public pages, the Atom feed, the open data, Open311 in JSON and XML,
the bulletins and the printable village notice only as ``mask_personal_data`` leaves them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import xml.etree.ElementTree as ET

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.casework import routing, workflow
from portal.domain.clock import local_today, utcnow
from portal.domain.disclosure import publication
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.enums import Channel, Severity, SupervisionLevel
from portal.domain.models import Bulletin, Case
from portal.domain.reporting import intake
from portal.domain.supervision import bulletins, listings
from portal.domain.vetting import moderation
from portal.identity import cipher, receipt_key
from tests import factories
from tests.domain.linkage_helpers import lead, moderator, officer, supervisor

PHONE = "13800001111"
ID_CARD = "11010519491231002X"
PLATE = "晋D12345"
PERSONAL = f"联系电话{PHONE}，身份证{ID_CARD}，车牌{PLATE}"
MASKED = mask_personal_data(PERSONAL)
# Nothing of the raw values may survive, not even the part after the kept prefix.
RAW = (PHONE, ID_CARD, PLATE, "00001111", "19491231002X", "D12345")
API = "/open311/v2"


def _planted_case(app: Flask, session: Session) -> tuple[Case, Bulletin]:
    """A tip → case → check → progress → disclosure → listing → bulletin, each text planted."""
    with_personal = intake.TipInput(
        channel=Channel.WEB, village_id=factories.village(session).id,
        category_id=factories.category(session, "blocked_escape").id,
        venue_type_id=factories.venue_type(session, "street_shop").id,
        unit_name=f"张记{PHONE}小卖部", address=f"村东口{PLATE}车库旁，电话{PHONE}",
        description=f"门口堆满纸箱堵住出口。{PERSONAL}", lat=36.123456, lon=113.654321,
        reporter_name="王五", reporter_phone="13912345678")
    with app.app_context():
        tip = intake.submit_tip(session, with_personal, cipher=cipher(),
                                receipt_key=receipt_key()).tip
    mod = moderator(session)
    case = moderation.accept_tip(session, tip, moderation.UnitDetails(
        name=tip.unit_name, village_id=tip.village_id, category_id=tip.category_id,
        venue_type_id=tip.venue_type_id, address=tip.address, lat=tip.lat, lon=tip.lon,
        internal_summary=tip.description), actor=mod)
    case.severity = Severity.MAJOR
    proposal = routing.propose_for_case(session, case)
    routing.route_case(session, case, lead=proposal.lead, assists=proposal.assists, actor=mod)
    fire = officer(session, lead(case).department.code)
    workflow.accept_assignment(session, lead(case), actor=fire)
    workflow.record_check(session, case, actor=fire, confirmed=True,
                          findings=f"内部核查：{PERSONAL}", public_text=f"核查属实。{PERSONAL}")
    workflow.set_rectification(session, case, actor=fire,
                               deadline=local_today() + dt.timedelta(days=30),
                               public_text=f"责令整改。{PERSONAL}")
    # The moderator copies the tip's text into the public summary, then edits it.
    publication.disclose_case(session, case, actor=mod, public_summary=tip.description)
    publication.edit_public_summary(session, case, f"疏散通道被堵。{PERSONAL}", actor=mod)
    boss = supervisor(session)
    listing = listings.list_case(session, case, actor=boss, level=SupervisionLevel.TOWNSHIP,
                                 deadline=local_today() + dt.timedelta(days=20),
                                 responsible_leader=f"李四{PHONE}")
    listings.record_interview(session, listing, actor=boss, held_at=utcnow(),
                              participants=f"店主{PHONE}", notes=f"约谈记录：{PERSONAL}")
    # The officer's latest public progress note is what Open311 puts in status_notes.
    workflow.post_progress(session, case, actor=fire, internal_text="内部",
                           public_text=f"已清理一半。{PERSONAL}")
    bulletin = bulletins.draft(session, local_today() - dt.timedelta(days=30), local_today(),
                               actor=boss, township="阳高乡")
    bulletins.edit(session, bulletin, actor=boss, title=f"通报：举报电话{PHONE}",
                   text=f"通报正文。{PERSONAL}")
    bulletins.publish(session, bulletin, actor=boss)
    session.flush()
    return case, bulletin


def _public_outputs(client: FlaskClient, case: Case, bulletin: Bulletin) -> dict[str, str]:
    urls = [
        "/", "/disclosures", f"/disclosures/unit/{case.unit_id}", "/stats",
        "/disclosures/feed.atom", "/disclosures.json", "/disclosures.csv",
        "/disclosures/notices", "/disclosures/notice/V01",
        "/bulletins", f"/bulletins/{bulletin.id}",
        f"{API}/requests.json", f"{API}/requests.xml",
        f"{API}/requests/{case.id}.json", f"{API}/requests/{case.id}.xml",
        f"{API}/requests.json?service_request_id={case.id}",
        f"{API}/requests.xml?service_request_id={case.id}",
    ]
    bodies = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies[url] = response.get_data().decode("utf-8-sig")
    return bodies


def _open311(body: str, fmt: str) -> dict[str, str | None]:
    if fmt == "json":
        (row,) = json.loads(body)
        return row
    root = ET.fromstring(body)  # noqa: S314 (our own response, in a test)
    (request,) = root.findall("request")
    return {child.tag: child.text for child in request}


def test_personal_data_typed_anywhere_is_masked_in_every_public_output(
    app: Flask, client: FlaskClient, db_session: Session,
) -> None:
    case, bulletin = _planted_case(app, db_session)
    bodies = _public_outputs(client, case, bulletin)
    for url, body in bodies.items():
        for raw in RAW:
            assert raw not in body, f"{raw} in {url}"
    assert "138********" in MASKED and "110***************" in MASKED and "晋D*****" in MASKED

    # Where the text is shown, it is shown masked.
    shown_summary = f"疏散通道被堵。{MASKED}"
    for url in ("/disclosures", f"/disclosures/unit/{case.unit_id}", "/disclosures/feed.atom",
                "/disclosures.json", "/disclosures/notice/V01"):
        assert "张记138********小卖部" in bodies[url], url
    for url in (f"/disclosures/unit/{case.unit_id}", "/disclosures/feed.atom",
                "/disclosures.json"):
        assert shown_summary in bodies[url], url
    unit_page = bodies[f"/disclosures/unit/{case.unit_id}"]
    assert f"已清理一半。{MASKED}" in unit_page and f"核查属实。{MASKED}" in unit_page
    (row,) = list(csv.DictReader(io.StringIO(bodies["/disclosures.csv"])))
    assert row["summary"] == shown_summary and row["unit_name"] == "张记138********小卖部"
    assert "通报：举报电话138********" in bodies["/bulletins"]
    assert "通报：举报电话138********" in bodies["/"]
    assert MASKED in bodies[f"/bulletins/{bulletin.id}"]

    for url, body in bodies.items():
        if not url.startswith(API):
            continue
        got = _open311(body, "xml" if ".xml" in url else "json")
        assert got["description"] == shown_summary, url
        assert got["status_notes"] == f"已清理一半。{MASKED}", url
        assert got["address"] == f"{case.village.name} 村东口晋D*****车库旁，电话138********", url
        assert float(got["lat"] or 0) == 36.123 and float(got["long"] or 0) == 113.654, url
