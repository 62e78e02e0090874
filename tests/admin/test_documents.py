"""A case's documents over HTTP: issued from the case, printed on A4 with their number."""

from __future__ import annotations

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.casework import documents
from portal.domain.enums import Role, Severity
from portal.domain.models import AuditLog, Case, CaseDocument, User
from tests import factories
from tests.admin.conftest import make_user, sign_in
from tests.conftest import csrf_token
from tests.domain.supervision_helpers import case_at


@pytest.fixture
def fire(db_session: Session) -> User:
    return make_user(db_session, "fire-doc", Role.OFFICER, "FIRE")


@pytest.fixture
def major(db_session: Session) -> Case:
    case = case_at(db_session, "rectifying", severity=Severity.MAJOR, unit_name="红星超市")
    db_session.commit()
    return case


def _post(client: FlaskClient, case: Case, kind: str, **data: str):
    token = csrf_token(client, "/admin/")
    return client.post(f"/admin/desk/cases/{case.id}/documents/{kind}",
                       data={"csrf_token": token, **data})


def test_each_of_the_four_documents_prints_with_its_number(
        client: FlaskClient, db_session: Session, fire: User, major: Case) -> None:
    sign_in(client, fire)
    for kind, document_kind in documents.kinds().items():
        response = _post(client, major, kind, findings=f"{document_kind.title}的检查情况")
        assert response.status_code == 303, response.get_data(as_text=True)
        page = client.get(response.headers["Location"])
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        document = db_session.scalars(select(CaseDocument).where(
            CaseDocument.case_id == major.id, CaseDocument.kind == kind)).one()
        assert document.number in html and document.number.endswith("第1号")
        assert document_kind.title in html and document_kind.basis in html
        assert "（印章）" in html and "data-print" in html and "admin printable" in html
        assert f"{document_kind.title}的检查情况" in html
        audited = db_session.scalars(select(AuditLog).where(
            AuditLog.action == "document.issue", AuditLog.object_id == str(document.id))).one()
        assert audited.after["number"] == document.number
    order = client.get(f"/admin/desk/cases/{major.id}/documents/"
                       f"{major.documents[0].id}").get_data(as_text=True)
    assert "红星超市：" in order and "责令你单位" in order


def test_manual_numbering_over_http(client: FlaskClient, db_session: Session, fire: User,
                                    major: Case) -> None:
    factories.department(db_session, "FIRE").document_numbering = "manual"
    db_session.commit()
    sign_in(client, fire)
    refused = _post(client, major, "rectify_order")
    assert refused.status_code == 303
    shown = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "请填写《责令限期改正通知书》的文号" in shown
    done = _post(client, major, "rectify_order", number="阳消行责改字〔2026〕第0012号")
    assert "阳消行责改字〔2026〕第0012号" in client.get(done.headers["Location"]).get_data(
        as_text=True)
    again = _post(client, major, "rectify_order", number="阳消行责改字〔2026〕第0012号")
    assert "已用于案件" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert len(db_session.scalars(select(CaseDocument)).all()) == 1


def test_a_post_without_the_csrf_token_is_refused(client: FlaskClient, db_session: Session,
                                                   fire: User, major: Case) -> None:
    sign_in(client, fire)
    response = client.post(f"/admin/desk/cases/{major.id}/documents/rectify_order", data={})
    assert response.status_code == 400
    assert db_session.scalars(select(CaseDocument)).all() == []


def test_a_village_committee_cannot_issue(client: FlaskClient, db_session: Session) -> None:
    case = case_at(db_session, "rectifying", department="VC-V01")
    committee = make_user(db_session, "vc-doc", Role.OFFICER, "VC-V01")
    sign_in(client, committee)
    response = _post(client, case, "rectify_order")
    assert response.status_code == 303
    assert "村委会不能制发" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db_session.scalars(select(CaseDocument)).all() == []


def test_another_townships_officer_gets_404(client: FlaskClient, db_session: Session,
                                             fire: User, major: Case) -> None:
    sign_in(client, fire)
    issued = _post(client, major, "rectify_order")
    print_url = issued.headers["Location"]
    sign_in(client, make_user(db_session, "bs-police-doc", Role.OFFICER, "BS-POLICE"))
    assert client.get(print_url).status_code == 404
    assert _post(client, major, "reinspection").status_code == 404
    # Nor is a document reached through another case's address.
    sign_in(client, fire)
    other = case_at(db_session, "rectifying")
    db_session.commit()
    document_id = print_url.rsplit("/", 1)[1]
    assert client.get(f"/admin/desk/cases/{other.id}/documents/{document_id}").status_code \
        == 404
    assert _post(client, major, "no_such_kind").status_code == 404


def test_the_case_page_partial_lists_documents_and_offers_the_forms(
        app: Flask, db_session: Session, fire: User, major: Case) -> None:
    documents.issue(db_session, major, "rectify_order", actor=fire)
    with app.test_request_context():
        html = render_template("admin/documents/_case_documents.html", case=major,
                               document_choices=documents.choices(major, fire))
    assert major.documents[0].number in html
    assert "制发《复查意见书》" in html and "制发《重大火灾隐患整改通知书》" in html
    assert 'name="number"' not in html  # the fire team's numbers are generated
    assert f"/admin/desk/cases/{major.id}/documents/{major.documents[0].id}" in html
