"""Risk warnings (风险预警提示, issue 22): drafted, published on the public site masked, sent
by SMS (kind and period as labels) to the mobiles of the register's units in scope, withdrawn."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.casework import sms
from portal.domain.models import AuditLog, Notification, RiskWarning, Unit, User
from portal.domain.vetting.duplicates import normalize_name
from portal.identity import cipher
from tests import factories
from tests.admin.conftest import (  # noqa: F401 (fixtures)
    fast_password_hashing,
    sign_in,
    text,
    township_staff,
)
from tests.conftest import csrf_token

MOBILE = "13800138000"
TEXT = "元旦期间请各场所落实防火巡查。值班电话 13912345678。"


def unit(session: Session, name: str, village: str, venue: str, contact: str = "",
         **values: object) -> Unit:
    row = Unit(name=name, normalized_name=normalize_name(name),
               village=factories.village(session, village),
               venue_type=factories.venue_type(session, venue),
               contact_enc=cipher().encrypt(contact), source="census", **values)
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def register(app: Flask, db_session: Session) -> dict[str, Unit]:
    with app.app_context():
        units = {
            "in_scope": unit(db_session, "阳高百货店", "V01", "street_shop", "138 0013 8000"),
            "landline": unit(db_session, "东庄饭店", "V02", "street_shop", "0355-1234567"),
            "no_contact": unit(db_session, "东庄烟酒店", "V02", "street_shop"),
            "other_venue": unit(db_session, "阳高幼儿园", "V01", "kindergarten", "13700137000"),
            "other_village": unit(db_session, "西沟商店", "V03", "street_shop", "13600136000"),
            "other_township": unit(db_session, "北社商店", "BS-V02", "street_shop",
                                   "13500135000"),
        }
        units["merged"] = unit(db_session, "阳高百货", "V01", "street_shop", "13400134000",
                               merged_into_id=units["in_scope"].id)
    db_session.commit()
    return units


def draft(client: FlaskClient, session: Session, **values: object):
    data: dict[str, object] = {
        "csrf_token": csrf_token(client, "/admin/warnings/new"),
        "kind": "holiday", "title": "元旦假期消防安全风险预警", "text": TEXT,
        "township": str(factories.township(session).id),
        "villages": [str(factories.village(session, "V01").id),
                     str(factories.village(session, "V02").id)],
        "venue_types": [str(factories.venue_type(session, "street_shop").id)],
        "starts_on": "2026-12-30", "ends_on": "2027-01-03",
    }
    data.update(values)
    return client.post("/admin/warnings/new", data=data)


def newest(session: Session) -> RiskWarning:
    session.expire_all()
    return session.scalars(select(RiskWarning).order_by(RiskWarning.id.desc())).first()


def post(client: FlaskClient, url: str):
    return client.post(url, data={"csrf_token": csrf_token(client, "/admin/warnings")})


def sms_rows(session: Session) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).where(
        Notification.kind == "sms_risk_warning").order_by(Notification.id)))


def test_publishing_shows_it_masked_and_texts_the_mobiles_in_scope(
        app: Flask, client: FlaskClient, db_session: Session, register: dict[str, Unit],
        township_staff: dict[str, User]) -> None:  # noqa: F811
    sign_in(client, township_staff["supervisor_a"])
    assert draft(client, db_session).status_code == 303
    warning = newest(db_session)
    page = text(client, f"/admin/warnings/{warning.id}")
    assert "3 个" in page  # the live street shops of 阳高村 and 东庄村
    # A draft is neither public nor sent.
    assert "元旦假期" not in text(client, "/warnings")
    assert sms_rows(db_session) == []

    assert post(client, f"/admin/warnings/{warning.id}/publish").status_code == 303
    warning = newest(db_session)
    assert warning.published_at is not None and warning.sms_count == 1
    [row] = sms_rows(db_session)
    assert row.channel == "sms" and row.payload == {"warning_id": warning.id,
                                                     "unit_id": register["in_scope"].id}
    # The template's parameters are labels, never the warning's text.
    assert row.template_params == {"kind": "节假日", "period": "12.30-1.3"}
    with app.app_context():
        assert cipher().decrypt(row.recipient_enc) == MOBILE

    # The public page shows it, the phone number in its text masked.
    public = text(client, "/warnings")
    assert "元旦假期消防安全风险预警" in public and "节假日" in public
    assert "13912345678" not in public and "139" in public
    # Publishing again is refused, nothing sent twice.
    assert post(client, f"/admin/warnings/{warning.id}/publish").status_code == 303
    assert len(sms_rows(db_session)) == 1


def test_the_number_is_never_stored_or_logged_in_clear(
        app: Flask, client: FlaskClient, db_session: Session, register: dict[str, Unit],
        township_staff: dict[str, User]) -> None:  # noqa: F811
    sign_in(client, township_staff["supervisor_a"])
    draft(client, db_session)
    warning = newest(db_session)
    post(client, f"/admin/warnings/{warning.id}/publish")
    [row] = sms_rows(db_session)
    stored = " ".join(str(value) for value in (
        row.subject, row.body, row.payload, row.template_params, row.dedupe_key,
        row.recipient_enc, row.last_error))
    assert MOBILE not in stored and "0013" not in stored
    audits = db_session.scalars(select(AuditLog).where(AuditLog.object_type == "warning")).all()
    assert {a.action for a in audits} == {"warning.create", "warning.publish"}
    assert all(MOBILE not in str(a.after) for a in audits)

    # The sender decrypts it, and only the labels go to the provider.
    sent: list[tuple[str, str, list[tuple[str, str]]]] = []

    class Provider:
        name = "none"

        def send(self, phone: str, template: str, params: list[tuple[str, str]]) -> sms.Answer:
            sent.append((phone, template, params))
            return sms.Answer(sms.Verdict.OK, "OK", "req-1")

    with app.app_context():
        channel = sms.SmsChannel(Provider(), cipher(), "key",
                                 {"sms_risk_warning": "SMS_RISK"})
        delivery = channel.deliver(db_session, row, dt.datetime.now(dt.UTC))
    assert delivery.outcome is sms.Outcome.SENT
    assert sent == [(MOBILE, "SMS_RISK", [("kind", "节假日"), ("period", "12.30-1.3")])]


def test_a_withdrawn_warning_leaves_the_public_page(
        client: FlaskClient, db_session: Session, register: dict[str, Unit],
        township_staff: dict[str, User]) -> None:  # noqa: F811
    sign_in(client, township_staff["supervisor_a"])
    draft(client, db_session)
    warning = newest(db_session)
    post(client, f"/admin/warnings/{warning.id}/publish")
    assert "元旦假期消防安全风险预警" in text(client, "/t/yanggao/warnings")
    assert "元旦假期消防安全风险预警" not in text(client, "/t/beishe/warnings")
    assert post(client, f"/admin/warnings/{warning.id}/withdraw").status_code == 303
    assert newest(db_session).withdrawn_at is not None
    assert "元旦假期消防安全风险预警" not in text(client, "/warnings")
    assert "已撤回" in text(client, "/admin/warnings")
    assert "风险预警提示" in text(client, "/admin/inspections")


def test_a_whole_township_warning_reaches_every_village_and_no_other_township(
        client: FlaskClient, db_session: Session, register: dict[str, Unit],
        township_staff: dict[str, User]) -> None:  # noqa: F811
    sign_in(client, township_staff["supervisor_a"])
    draft(client, db_session, kind="fire_season", villages=[], venue_types=[])
    warning = newest(db_session)
    post(client, f"/admin/warnings/{warning.id}/publish")
    rows = sms_rows(db_session)
    reached = {row.payload["unit_id"] for row in rows}
    assert reached == {register[k].id for k in ("in_scope", "other_venue", "other_village")}
    assert {row.template_params["kind"] for row in rows} == {"火灾高发季节"}


def test_another_townships_staff_neither_see_nor_publish_it(
        client: FlaskClient, db_session: Session, register: dict[str, Unit],
        township_staff: dict[str, User]) -> None:  # noqa: F811
    sign_in(client, township_staff["supervisor_a"])
    draft(client, db_session)
    warning = newest(db_session)
    sign_in(client, township_staff["supervisor_b"])
    assert client.get(f"/admin/warnings/{warning.id}").status_code == 404
    assert post(client, f"/admin/warnings/{warning.id}/publish").status_code == 404
    assert newest(db_session).published_at is None


def test_bad_drafts_are_refused_with_a_reason(
        client: FlaskClient, db_session: Session, township_staff: dict[str, User]) -> None:  # noqa: F811
    sign_in(client, township_staff["supervisor_a"])
    response = draft(client, db_session, ends_on="2026-12-01")
    assert response.status_code == 400 and "结束日期不能早于开始日期" in response.get_data(
        as_text=True)
    response = draft(client, db_session,
                     villages=[str(factories.village(db_session, "BS-V02").id)])
    assert response.status_code == 400
    assert "所选的村须属于预警所在的乡镇" in response.get_data(as_text=True)
    response = draft(client, db_session, township=str(factories.township(db_session,
                                                                          "beishe").id))
    assert response.status_code == 400
    assert "只能发布本乡镇的风险预警提示" in response.get_data(as_text=True)
    response = draft(client, db_session, starts_on="明天")
    assert response.status_code == 400 and "请按 年-月-日 填写日期" in response.get_data(
        as_text=True)
    assert db_session.scalar(select(RiskWarning.id)) is None
