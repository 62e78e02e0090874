"""Listing for supervision over HTTP: list, interview, the letter refused unless real, delist
only after closure; and who reaches the supervision pages at all."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain.casework import workflow
from portal.domain.enums import Severity, SupervisionLevel
from portal.domain.models import Listing
from tests import images
from tests.admin.conftest import login
from tests.conftest import csrf_token
from tests.domain.linkage_helpers import officer, supervisor
from tests.domain.supervision_helpers import case_at
from tests.domain.test_supervision import minimal_pdf

SUPERVISION_PAGES = ["/admin/supervision", "/admin/supervision/goals", "/admin/ledger",
                     "/admin/ledger.csv", "/admin/ledger.xlsx", "/admin/listings",
                     "/admin/urging", "/admin/urging/new", "/admin/bulletins", "/admin/review"]


@pytest.fixture
def major(db_session: Session):
    case = case_at(db_session, "rectifying", severity=Severity.MAJOR, unit_name="红星饭店")
    db_session.commit()
    return case


def _list(client: FlaskClient, case_id: int) -> str:
    url = f"/admin/cases/{case_id}/listing"
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "level": "county",
                                      "deadline": "2027-01-31", "responsible_leader": "王乡长"})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def test_a_supervisor_lists_records_an_interview_and_uploads_the_letter(
        client: FlaskClient, as_role, db_session: Session, major) -> None:
    as_role("supervisor")
    assert "红星饭店" in client.get("/admin/listings").get_data(as_text=True)
    page_url = _list(client, major.id)
    page = client.get(page_url).get_data(as_text=True)
    assert "县级挂牌督办：红星饭店" in page and "王乡长" in page
    listing_id = int(page_url.rsplit("/", 1)[1])

    token = csrf_token(client, page_url)
    response = client.post(f"/admin/listings/{listing_id}/interviews", data={
        "csrf_token": token, "held_at": "2026-11-20T09:30", "participants": "饭店负责人赵某",
        "notes": "承诺十日内拆除彩钢板"})
    assert response.status_code == 303
    response = client.post(f"/admin/listings/{listing_id}/letter", data={
        "csrf_token": token, "letter": (io.BytesIO(minimal_pdf()), "承诺书.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 303
    page = client.get(page_url).get_data(as_text=True)
    assert "饭店负责人赵某" in page and "当前承诺书（PDF" in page
    letter = client.get(f"/admin/listings/{listing_id}/letter")
    assert letter.status_code == 200 and letter.data == minimal_pdf()
    assert letter.headers["Content-Disposition"].startswith("attachment")
    db_session.expire_all()
    assert db_session.get(Listing, listing_id).case.supervision_level is SupervisionLevel.COUNTY


@pytest.mark.parametrize("payload, name", [
    (b"%PDF-1.4 not really", "承诺书.pdf"),
    (b"\x89PNG\r\n\x1a\n broken", "承诺书.png"),
    (b"PK\x03\x04 word document", "承诺书.docx"),
])
def test_a_letter_that_is_not_a_real_pdf_or_image_is_refused(
        client: FlaskClient, as_role, major, payload: bytes, name: str) -> None:
    as_role("supervisor")
    page_url = _list(client, major.id)
    listing_id = int(page_url.rsplit("/", 1)[1])
    response = client.post(f"/admin/listings/{listing_id}/letter", data={
        "csrf_token": csrf_token(client, page_url), "letter": (io.BytesIO(payload), name)},
        content_type="multipart/form-data")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "不是有效的 PDF" in body or "须为 PDF 或" in body
    assert "尚未上传签字的整改承诺书" in body
    assert client.get(f"/admin/listings/{listing_id}/letter").status_code == 404


def test_an_image_letter_is_accepted(client: FlaskClient, as_role, major) -> None:
    as_role("supervisor")
    page_url = _list(client, major.id)
    listing_id = int(page_url.rsplit("/", 1)[1])
    response = client.post(f"/admin/listings/{listing_id}/letter", data={
        "csrf_token": csrf_token(client, page_url),
        "letter": (io.BytesIO(images.png()), "承诺书.png")}, content_type="multipart/form-data")
    assert response.status_code == 303
    assert client.get(f"/admin/listings/{listing_id}/letter").mimetype == "image/jpeg"


def test_delisting_before_closure_is_refused_and_allowed_after(
        client: FlaskClient, as_role, db_session: Session, major) -> None:
    as_role("supervisor")
    page_url = _list(client, major.id)
    listing_id = int(page_url.rsplit("/", 1)[1])
    url = f"/admin/listings/{listing_id}/delist"
    response = client.post(url, data={"csrf_token": csrf_token(client, page_url)})
    assert response.status_code == 400
    assert "销案批准后才能摘牌" in response.get_data(as_text=True)

    db_session.expire_all()
    case = db_session.get(Listing, listing_id).case
    workflow.report_rectified(db_session, case, actor=officer(db_session, "FIRE"), report="好")
    workflow.approve_closure(db_session, case, actor=supervisor(db_session))
    db_session.commit()
    response = client.post(url, data={"csrf_token": csrf_token(client, page_url)})
    assert response.status_code == 303
    page = client.get(page_url).get_data(as_text=True)
    assert "摘牌</dt>" in page and 'action="' + url not in page


@pytest.mark.parametrize("role", ["officer", "moderator"])
def test_officers_and_moderators_get_403(client: FlaskClient, as_role, major,
                                         role: str) -> None:
    as_role(role)
    for url in [*SUPERVISION_PAGES, f"/admin/cases/{major.id}/listing"]:
        assert client.get(url).status_code == 403, url


def test_admins_read_but_do_not_act(client: FlaskClient, as_role, major) -> None:
    as_role("admin")
    for url in SUPERVISION_PAGES:
        if url == "/admin/urging/new":
            continue  # issuing is the supervisors' job
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/urging/new").status_code == 403
    assert client.get(f"/admin/cases/{major.id}/listing").status_code == 403


def test_supervision_pages_of_a_missing_listing_are_404(client: FlaskClient, as_role) -> None:
    as_role("supervisor")
    assert client.get("/admin/listings/999999").status_code == 404


def test_closed_cases_still_carrying_a_level_are_delisted_from_the_list(
        client: FlaskClient, as_role, db_session: Session) -> None:
    case = case_at(db_session, "closed", severity=Severity.MAJOR, unit_name="东风仓库")
    open_case = case_at(db_session, "rectifying", severity=Severity.MAJOR, unit_name="西风仓库")
    db_session.commit()
    as_role("supervisor")
    page = client.get("/admin/listings").get_data(as_text=True)
    section = page.split("已销案、待摘牌")[1]
    assert "东风仓库" in section and "西风仓库" not in section
    token = csrf_token(client, "/admin/listings")
    response = client.post(f"/admin/cases/{open_case.id}/delist", data={"csrf_token": token})
    assert response.status_code == 303
    assert "销案批准后才能摘牌" in client.get("/admin/listings").get_data(as_text=True)
    response = client.post(f"/admin/cases/{case.id}/delist", data={"csrf_token": token})
    assert response.status_code == 303
    page = client.get("/admin/listings").get_data(as_text=True)
    assert "已摘牌" in page and "已销案、待摘牌" not in page
    db_session.expire_all()
    assert db_session.get(type(case), case.id).supervision_level is SupervisionLevel.NONE


def test_the_listing_buttons_are_the_domain_s_answer(
        app: Flask, client: FlaskClient, as_role, staff, db_session: Session, major) -> None:
    """挂牌督办 is offered on the list and on the case page exactly while the domain would
    accept it: to a supervisor, for a major hazard not yet listed; once listed, no more."""
    new_listing = f'href="/admin/cases/{major.id}/listing"'
    reader = app.test_client()  # the admin reads the supervision desk but does not list
    assert login(reader, staff["admin"].username).status_code == 302
    assert new_listing not in reader.get("/admin/listings").get_data(as_text=True)
    as_role("supervisor")
    assert new_listing in client.get("/admin/listings").get_data(as_text=True)
    assert new_listing in client.get(f"/admin/desk/cases/{major.id}").get_data(as_text=True)
    _list(client, major.id)
    assert new_listing not in client.get(f"/admin/desk/cases/{major.id}").get_data(as_text=True)
    response = client.post(f"/admin/cases/{major.id}/listing", data={
        "csrf_token": csrf_token(client, f"/admin/cases/{major.id}/listing"), "level": "county",
        "deadline": "2027-01-31", "responsible_leader": "王乡长"})
    assert response.status_code == 400
    assert "该隐患已在挂牌督办中" in response.get_data(as_text=True)
