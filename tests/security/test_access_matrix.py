"""The access suite: every endpoint of the app has an expected answer, for every role and for
objects that belong to someone else (another department, another reporter's receipt, a case
that is not disclosed). Generated from the URL map: a new endpoint without an entry fails.

Back-office endpoints are covered role by role in tests/admin/test_access.py (permission
decorator + role table); here they get the "someone else's object" dimension.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask, url_for
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import AssignmentRole, Channel, Role, SupervisionLevel
from portal.domain.models import Assignment, Attachment, Bulletin, CaseEvent
from portal.domain.reporting import intake
from portal.identity import cipher, receipt_key
from tests import factories
from tests.admin.conftest import login, make_user
from tests.conftest import csrf_token

# Anonymous GET answers for every public and API endpoint, given the objects below.
ANONYMOUS_GET = {
    "public.home": 200, "public.livez": 200, "public.healthz": 200, "public.report": 200,
    "public.report_received": 404, "public.track": 200, "public.track_status": 302,
    "public.disclosures": 200, "public.disclosures_csv": 200, "public.disclosures_json": 200,
    "public.disclosures_feed": 200, "public.disclosure_unit": 200, "public.stats": 200,
    "public.open_data": 200, "public.notices": 200, "public.notice": 200,
    "public.bulletin_list": 200, "public.bulletin": 200, "public.media": 200,
    # Issue 22: the risk warnings; the self-check asks for a code, and a wrong one is 404.
    "public.warnings": 200, "public.self_check": 200, "public.self_check_code": 404,
    "public.random_checks": 200,
    # A rating link that names no token: the one message for wrong, used and expired links.
    "public.rate": 404,
    "static": 200,
    "api.root": 302, "api.discovery": 200, "api.services": 200, "api.service_definition": 200,
    "api.list_requests": 200, "api.show_request": 200, "api.show_token": 404,
    "api.openapi_document": 200, "api.not_found": 404,
}
# POST-only endpoints: what an anonymous POST without a valid token or key gets.
ANONYMOUS_POST = {
    "public.submit_report": 422, "public.track_lookup": 400, "public.track_reply": 302,
    "public.track_forget": 400, "public.track_withdraw_identity": 302,
    "public.track_rate": 302, "public.rate_submit": 422,
    "public.self_check_lookup": 400, "public.self_check_submit": 404,
    "api.create_request": 403,
}


@pytest.fixture
def world(app: Flask, db_session: Session):
    """A disclosed case with a public photo; an undisclosed confirmed case; two reporters'
    tips; a published and a draft bulletin; cases of two departments."""
    now = utcnow()
    disclosed = factories.make_case(db_session, routed_at=now, confirmed_at=now,
                                    status="rectifying", disclosed=True, disclosed_at=now,
                                    public_summary="公开摘要")
    hidden = factories.make_case(db_session, routed_at=now, confirmed_at=now,
                                 status="rectifying", unit=None)
    event = CaseEvent(case=disclosed, kind="progress", public_text="进展")
    db_session.add(event)
    db_session.flush()
    public_photo = Attachment(stored_name="p" * 32 + ".jpg", kind="photo",
                              content_type="image/jpeg", size_bytes=1, sha256="0" * 64,
                              public=True, case_event_id=event.id)
    hidden_event = CaseEvent(case=hidden, kind="progress", public_text="不公开")
    db_session.add_all([public_photo, hidden_event])
    db_session.flush()
    hidden_photo = Attachment(stored_name="h" * 32 + ".jpg", kind="photo",
                              content_type="image/jpeg", size_bytes=1, sha256="1" * 64,
                              public=True, case_event_id=hidden_event.id)
    db_session.add(hidden_photo)
    for case, dept in ((disclosed, "FIRE"), (hidden, "POLICE")):
        db_session.add(Assignment(case=case, department=factories.department(db_session, dept),
                                  role=AssignmentRole.LEAD))
    with app.app_context():
        from portal.web.files import storage

        storage().put(public_photo.stored_name, b"\xff\xd8 public")
        storage().put(hidden_photo.stored_name, b"\xff\xd8 hidden")
        tips = [intake.submit_tip(db_session, intake.TipInput(
            channel=Channel.WEB, village_id=factories.village(db_session).id,
            category_id=factories.category(db_session).id, unit_name=f"店{n}",
            description="隐患描述足够长的文字。", reporter_name=f"举报人{n}"),
            cipher=cipher(), receipt_key=receipt_key()) for n in (1, 2)]
    other_photo = Attachment(stored_name="t" * 32 + ".jpg", kind="photo",
                             content_type="image/jpeg", size_bytes=1, sha256="2" * 64,
                             tip_id=tips[1].tip.id)
    supervisor = make_user(db_session, "sup-matrix", Role.SUPERVISOR)
    published = Bulletin(period_start=dt.date(2026, 1, 1), period_end=dt.date(2026, 1, 31),
                         title="一月通报", text="正文", figures={}, created_by_id=supervisor.id,
                         published_at=now, published_by_id=supervisor.id)
    draft = Bulletin(period_start=dt.date(2026, 2, 1), period_end=dt.date(2026, 2, 28),
                     title="二月草稿", text="草稿", figures={}, created_by_id=supervisor.id)
    db_session.add_all([other_photo, published, draft])
    db_session.flush()
    assert hidden.supervision_level is SupervisionLevel.NONE
    return {"disclosed": disclosed, "hidden": hidden, "public_photo": public_photo,
            "hidden_photo": hidden_photo, "tips": tips, "other_photo": other_photo,
            "published": published, "draft": draft}


def _args(rule, world) -> dict[str, object]:
    values = {
        "unit_id": world["disclosed"].unit_id, "bulletin_id": world["published"].id,
        "name": world["public_photo"].stored_name, "code": "V01", "filename": "css/site.css",
        "service_code": "wiring", "request_id": str(world["disclosed"].id),
        "token": "no-such-token", "rest": "nothing/here", "fmt": "json",
        "township": "yanggao",  # every public page also has its township's address (issue 18)
    }
    return {arg: values[arg] for arg in rule.arguments}


def test_every_endpoint_has_an_expected_answer(app: Flask) -> None:
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    public = {e for e in endpoints if not e.startswith("admin.")}
    assert public - set(ANONYMOUS_GET) - set(ANONYMOUS_POST) == set(), \
        "a new endpoint needs an entry in the access suite"
    assert (set(ANONYMOUS_GET) | set(ANONYMOUS_POST)) - public == set(), "stale entries"


def test_anonymous_answers(app: Flask, client, world) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, **_args(rule, world))
        if rule.endpoint in ANONYMOUS_GET:
            response = client.get(url)
            response.get_data()  # streamed exports run to the end
            assert response.status_code == ANONYMOUS_GET[rule.endpoint], (rule.endpoint, url)
        else:
            response = client.post(url, data={})
            assert response.status_code == ANONYMOUS_POST[rule.endpoint], (rule.endpoint, url)


def test_undisclosed_cases_answer_404_everywhere_public(client, world) -> None:
    hidden = world["hidden"]
    assert client.get(f"/disclosures/unit/{hidden.unit_id}").status_code == 404
    assert client.get(f"/media/{world['hidden_photo'].stored_name}").status_code == 404
    assert client.get(f"/open311/v2/requests/{hidden.id}.json").status_code == 404
    assert client.get("/bulletins/" + str(world["draft"].id)).status_code == 404
    for path in ("/disclosures", "/disclosures.json", "/disclosures.csv",
                 "/disclosures/feed.atom", "/open311/v2/requests.json"):
        assert "不公开" not in client.get(path).get_data(as_text=True)


def test_a_receipt_opens_only_its_own_tip(client, world) -> None:
    mine, _other = world["tips"]
    client.post("/track", data={"csrf_token": csrf_token(client, "/track"),
                                "code": mine.receipt_code})
    page = client.get("/track/status").get_data(as_text=True)
    assert "店1" in page and "店2" not in page and "举报人" not in page
    assert client.get(f"/media/{world['other_photo'].stored_name}").status_code == 404


def test_officers_get_404_for_every_case_page_of_another_department(
    app: Flask, client, db_session: Session, world
) -> None:
    make_user(db_session, "police-matrix", Role.OFFICER, "POLICE")
    login(client, "police-matrix")
    foreign = world["disclosed"]  # assigned to the fire station
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or "GET" not in rule.methods:
            continue
        if set(rule.arguments) != {"case_id"}:
            continue
        with app.test_request_context():
            url = url_for(rule.endpoint, case_id=foreign.id)
        status = client.get(url).status_code
        assert status in (403, 404), (rule.endpoint, status)
        checked += 1
    assert checked >= 2
