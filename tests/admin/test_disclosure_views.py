from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import AttachmentKind, CaseEventKind, CaseStatus
from portal.domain.models import Attachment, Case, CaseEvent, Unit
from tests.conftest import csrf_token
from tests.factories import make_case, village


def confirmed(session: Session, name: str = "后台公示商店") -> Case:
    now = utcnow()
    unit = Unit(name=name, normalized_name=name, village=village(session))
    case = make_case(session, unit=unit, status=CaseStatus.RECTIFYING, routed_at=now,
                     confirmed_at=now, internal_summary="内部：举报人说老板很凶")
    event = CaseEvent(case=case, kind=CaseEventKind.PROGRESS, public_text="已清理通道")
    session.add(event)
    session.flush()
    session.add(Attachment(stored_name="d" * 32, kind=AttachmentKind.PHOTO,
                           content_type="image/jpeg", size_bytes=1, sha256="5" * 64,
                           case_event_id=event.id))
    session.commit()
    return case


def post(client: FlaskClient, case: Case, **data):
    url = f"/admin/disclosures/{case.id}"
    return client.post(url, data={"csrf_token": csrf_token(client, url), **data})


def test_only_moderators_reach_the_disclosure_screens(client, as_role, db_session) -> None:
    case = confirmed(db_session)
    assert client.get("/admin/disclosures").status_code == 302  # to the login page
    as_role("supervisor")
    assert client.get("/admin/disclosures").status_code == 403
    assert client.get(f"/admin/disclosures/{case.id}").status_code == 403


def test_preview_shows_the_masked_text_and_publishes_nothing(
    client, as_role, db_session,
) -> None:
    case = confirmed(db_session)
    as_role("moderator")
    listing = client.get("/admin/disclosures").get_data(as_text=True)
    assert "后台公示商店" in listing
    photo = db_session.query(Attachment).filter_by(stored_name="d" * 32).one()
    response = post(client, case, summary="堵塞通道，老板电话13812345678", action="preview",
                    photos=str(photo.id))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "预览" in html and "老板电话138********" in html and "已清理通道" in html
    assert f"/admin/disclosures/photos/{photo.id}" in html
    assert "后台公示商店" not in client.get("/disclosures").get_data(as_text=True)


def test_publish_then_withdraw_with_a_reason(client, as_role, db_session) -> None:
    case = confirmed(db_session)
    as_role("moderator")
    photo = db_session.query(Attachment).filter_by(stored_name="d" * 32).one()
    response = post(client, case, summary="堵塞疏散通道，车牌晋D·12345", action="publish",
                    photos=str(photo.id))
    assert response.status_code == 302
    public = client.get(f"/disclosures/unit/{case.unit_id}").get_data(as_text=True)
    assert "堵塞疏散通道，车牌晋D*****" in public and f"/media/{'d' * 32}" in public
    assert "内部" not in public
    edited = post(client, case, summary="堵塞疏散通道，已责令清理", action="save")
    assert edited.status_code == 302
    public = client.get(f"/disclosures/unit/{case.unit_id}").get_data(as_text=True)
    assert "已责令清理" in public and f"/media/{'d' * 32}" not in public, "photo unticked"

    url = f"/admin/disclosures/{case.id}/withdraw"
    refused = client.post(url, data={"csrf_token": csrf_token(client, f"/admin/disclosures/"
                                                                       f"{case.id}"),
                                     "reason": ""})
    assert refused.status_code == 400
    done = client.post(url, data={"csrf_token": csrf_token(client, f"/admin/disclosures/"
                                                                    f"{case.id}"),
                                  "reason": "单位名称有误"})
    assert done.status_code == 302
    assert client.get(f"/disclosures/unit/{case.unit_id}").status_code == 404
    assert "后台公示商店" not in client.get("/disclosures.csv").get_data(as_text=True)


def test_an_unconfirmed_case_has_no_disclosure_screen(client, as_role, db_session) -> None:
    case = make_case(db_session, status=CaseStatus.CHECKING, routed_at=utcnow())
    db_session.commit()
    as_role("moderator")
    page = client.get(f"/admin/disclosures/{case.id}")
    assert page.status_code == 200 and "不能公开" in page.get_data(as_text=True)
    assert 'value="publish"' not in page.get_data(as_text=True)
    token = csrf_token(client, "/admin/password")
    refused = client.post(f"/admin/disclosures/{case.id}",
                          data={"csrf_token": token, "summary": "未核实", "action": "publish"})
    assert refused.status_code == 404
    assert "未核实" not in client.get("/disclosures").get_data(as_text=True)
