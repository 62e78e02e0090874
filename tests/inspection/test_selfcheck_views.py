"""The self-check through its pages (issue 22): staff issue a unit's code and print its
notice, the unit opens its self-check with the code, signs, and cannot use it again."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.clock import local_today
from portal.domain.inspection import selfcheck
from portal.domain.models import Unit, User
from portal.domain.models.inspections import SelfCheck, SelfCheckCode
from portal.identity import cipher
from tests import factories
from tests.admin.conftest import (  # noqa: F401
    fast_password_hashing,
    sign_in,
    text,
    township_staff,
)
from tests.conftest import csrf_token

CODE_RE = re.compile(r'class="code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<')
SIGNER = "李负责人"


@pytest.fixture
def people(township_staff: dict[str, User]) -> dict[str, User]:  # noqa: F811
    """The staff of 阳高乡 (``_a``), 北社乡 (``_b``) and the county (tests/admin/conftest)."""
    return township_staff


@pytest.fixture
def unit(db_session: Session) -> Unit:
    """A unit of 阳高乡 (village V01)."""
    found = Unit(name="阳高自查测试饭店", normalized_name="阳高自查测试饭店",
                 village=factories.village(db_session, "V01"),
                 venue_type=factories.venue_type(db_session, "self_built_business"))
    db_session.add(found)
    db_session.commit()
    return found


def _issue(client: FlaskClient, unit: Unit) -> str:
    url = f"/admin/register/{unit.id}/selfcheck"
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "days": "30"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "单位消防安全自查通知书" in page and "<svg" in page and unit.name in page
    match = CODE_RE.search(page)
    assert match, page
    return match.group(1)


def _form(unit: Unit, code: str, **values: str) -> dict[str, str]:
    data = {f"answer-{i.code}": "ok" for i in selfcheck.checklist_of(unit).items}
    data.update({"code": code.replace("-", ""), "signer": SIGNER, "agreed": "y",
                 "problems": "", "fix_by": ""})
    data.update(values)
    return data


def _submit(client: FlaskClient, unit: Unit, code: str, **values: str):
    token = csrf_token(client, f"/selfcheck/{code.replace('-', '')}")
    return client.post("/selfcheck/submit", data={**_form(unit, code, **values),
                                                  "csrf_token": token})


def test_a_units_code_opens_its_self_check_and_works_once(
        app: Flask, client: FlaskClient, db_session: Session, people, unit) -> None:
    sign_in(client, people["moderator_a"])
    code = _issue(client, unit)
    codes_page = text(client, f"/admin/register/{unit.id}/selfcheck")
    assert "第 1 期" in codes_page and "有效" in codes_page
    assert code not in codes_page and code.replace("-", "") not in codes_page

    anonymous = app.test_client()
    # Typed in on /selfcheck, as on the notice.
    token = csrf_token(anonymous, "/selfcheck")
    page = anonymous.post("/selfcheck", data={"code": code.lower(), "csrf_token": token})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert unit.name in body and "经营性自建房消防安全检查表" in body
    assert "我已阅读并承诺" in body and "本单位是消防安全责任主体" in body
    assert page.headers["Cache-Control"] == "no-store"

    fix_by = (local_today() + dt.timedelta(days=7)).isoformat()
    done = _submit(anonymous, unit, code, **{"answer-escape": "problem", "fix_by": fix_by,
                                             "problems": "楼梯间堆放杂物"})
    assert done.status_code == 200 and "已提交" in done.get_data(as_text=True)
    db_session.expire_all()
    check = db_session.scalar(select(SelfCheck).where(SelfCheck.unit_id == unit.id))
    assert check is not None and check.fix_by == dt.date.fromisoformat(fix_by)
    assert check.answers["escape"] == "problem"
    with app.app_context():
        assert cipher().decrypt(check.signer_enc) == SIGNER

    # The same browser again (a double click, a reload): told it is done, nothing changes.
    again = anonymous.post("/selfcheck/submit", data={**_form(unit, code),
                                                      "csrf_token": token})
    assert again.status_code == 200
    assert selfcheck.ALREADY_DONE in again.get_data(as_text=True)
    # Anyone else with the used code: the one refusal.
    other = app.test_client()
    refused = other.get(f"/selfcheck/{code}")
    assert refused.status_code == 404
    assert selfcheck.CODE_REFUSED in refused.get_data(as_text=True)
    assert len(db_session.scalars(select(SelfCheck).where(SelfCheck.unit_id == unit.id))
               .all()) == 1

    listing = text(client, "/admin/selfchecks")
    assert unit.name in listing and "整改中" in listing
    assert SIGNER not in text(client, f"/admin/register/{unit.id}/selfcheck")


def test_a_second_use_after_revocation_is_refused(
        app: Flask, client: FlaskClient, db_session: Session, people, unit) -> None:
    sign_in(client, people["moderator_a"])
    code = _issue(client, unit)
    anonymous = app.test_client()
    assert anonymous.get(f"/selfcheck/{code}").status_code == 200
    # Under another township's address the code is as good as wrong.
    assert anonymous.get(f"/t/beishe/selfcheck/{code}").status_code == 404
    row = db_session.scalar(select(SelfCheckCode).where(SelfCheckCode.unit_id == unit.id))
    assert row is not None
    url = f"/admin/register/{unit.id}/selfcheck"
    revoked = client.post(f"/admin/selfcheck/codes/{row.id}/revoke",
                          data={"csrf_token": csrf_token(client, url)})
    assert revoked.status_code == 303
    assert "已撤销" in text(client, url)
    page = anonymous.get(f"/selfcheck/{code}")
    assert page.status_code == 404 and selfcheck.CODE_REFUSED in page.get_data(as_text=True)
    submitted = anonymous.post("/selfcheck/submit", data={
        **_form(unit, code), "csrf_token": csrf_token(anonymous, "/selfcheck")})
    assert submitted.status_code == 404
    assert selfcheck.CODE_REFUSED in submitted.get_data(as_text=True)
    assert db_session.scalar(select(SelfCheck).where(SelfCheck.unit_id == unit.id)) is None


def test_a_wrong_code_gets_the_same_message(app: Flask, client: FlaskClient) -> None:
    token = csrf_token(client, "/selfcheck")
    for code in ("ABCD-EFGH-JKMN", "123"):
        page = client.post("/selfcheck", data={"code": code, "csrf_token": token})
        assert page.status_code == 404
        assert selfcheck.CODE_REFUSED in page.get_data(as_text=True)
    assert client.get("/selfcheck/ABCDEFGHJKMN").status_code == 404


def test_looking_codes_up_is_rate_limited_like_tracking(app: Flask, client: FlaskClient) -> None:
    token = csrf_token(client, "/selfcheck")
    answers = [client.post("/selfcheck", data={"code": f"ABCD-EFGH-JK{n:02d}",
                                               "csrf_token": token}).status_code
               for n in range(12)]
    assert answers[0] == 404 and answers[-1] == 429


def test_a_bad_submission_keeps_what_was_typed(
        app: Flask, client: FlaskClient, db_session: Session, people, unit) -> None:
    sign_in(client, people["moderator_a"])
    code = _issue(client, unit)
    anonymous = app.test_client()
    page = _submit(anonymous, unit, code, **{"answer-escape": "problem", "agreed": "",
                                             "problems": "楼梯间堆放杂物"})
    assert page.status_code == 422
    body = page.get_data(as_text=True)
    assert "存在需整改的问题，请填写整改期限" in body and "请阅读承诺书并勾选" in body
    assert "楼梯间堆放杂物" in body and SIGNER in body
    assert 'value="problem" checked' in body
    no_token = anonymous.post("/selfcheck/submit", data=_form(unit, code))
    assert no_token.status_code == 400 and "页面已过期" in no_token.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalar(select(SelfCheckCode.used_at)
                             .where(SelfCheckCode.unit_id == unit.id)) is None


def test_another_townships_staff_cannot_issue_codes_for_the_unit(
        client: FlaskClient, db_session: Session, people, unit) -> None:
    sign_in(client, people["moderator_b"])
    url = f"/admin/register/{unit.id}/selfcheck"
    assert client.get(url).status_code == 404
    token = csrf_token(client, "/admin/password")
    assert client.post(url, data={"csrf_token": token, "days": "30"}).status_code == 404
    assert db_session.scalar(select(SelfCheckCode).where(SelfCheckCode.unit_id == unit.id)) \
        is None
    assert unit.name not in text(client, "/admin/selfchecks")


def test_the_commitment_partial_shows_text_and_date_never_the_name(
        app: Flask, db_session: Session, people, unit) -> None:
    issued = selfcheck.issue_code(db_session, unit, actor=people["moderator_a"],
                                  key="k" * 32)
    with app.app_context():
        selfcheck.submit(db_session, issued.code, answers={
            i.code: "ok" for i in selfcheck.checklist_of(unit).items}, problems="",
            fix_by=None, signer_name=SIGNER, agreed=True, cipher=cipher(), key="k" * 32)
    commitment = selfcheck.public_commitment(db_session, unit)
    with app.test_request_context():
        html = render_template("portal/_commitment.html", commitment=commitment)
        empty = render_template("portal/_commitment.html", commitment=None)
    assert "消防安全承诺书" in html and "单位负责人已签署" in html
    assert "本单位是消防安全责任主体" in html and SIGNER not in html
    today = local_today()
    assert f"{today.year}年{today.month}月{today.day}日" in html
    assert empty.strip() == ""


def test_staff_record_a_reported_problem_fixed(
        app: Flask, client: FlaskClient, db_session: Session, people, unit) -> None:
    sign_in(client, people["moderator_a"])
    code = _issue(client, unit)
    row = db_session.scalar(select(SelfCheckCode).where(SelfCheckCode.unit_id == unit.id))
    assert row is not None
    url = f"/admin/register/{unit.id}/selfcheck"
    early = client.post(f"/admin/selfcheck/codes/{row.id}/fixed",
                        data={"csrf_token": csrf_token(client, url)}, follow_redirects=True)
    assert "该自查码尚未提交自查" in early.get_data(as_text=True)
    fix_by = (local_today() + dt.timedelta(days=3)).isoformat()
    assert _submit(app.test_client(), unit, code,
                   **{"answer-wiring": "problem", "fix_by": fix_by}).status_code == 200
    assert "整改中" in text(client, url)
    fixed = client.post(f"/admin/selfcheck/codes/{row.id}/fixed",
                        data={"csrf_token": csrf_token(client, url)}, follow_redirects=True)
    assert "已登记整改完成" in fixed.get_data(as_text=True)
    db_session.expire_all()
    check = db_session.scalar(select(SelfCheck).where(SelfCheck.unit_id == unit.id))
    assert check is not None and check.fixed_at is not None
    assert "已整改" in text(client, "/admin/selfchecks")


def test_the_signed_commitment_shows_on_the_units_public_page(
        app: Flask, client: FlaskClient, db_session: Session, people, unit) -> None:
    # Nothing of the unit is public before it signs: no page.
    assert client.get(f"/disclosures/unit/{unit.id}").status_code == 404
    sign_in(client, people["moderator_a"])
    code = _issue(client, unit)
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert _submit(client, unit, code).status_code in (200, 303)
    page = client.get(f"/disclosures/unit/{unit.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "消防安全承诺书" in body and "单位负责人已签署" in body
    assert local_today().isoformat() in body or f"{local_today().month}月" in body
    assert SIGNER not in body
    # Under the unit's township's own address too, and under no other township's.
    assert client.get(f"/t/yanggao/disclosures/unit/{unit.id}").status_code == 200
    assert client.get(f"/t/beishe/disclosures/unit/{unit.id}").status_code == 404
