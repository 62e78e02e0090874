"""Editing a unit of the register (issue 22): audited before and after, the responsible person
and contact encrypted, and never in clear in the database or the audit trail."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.domain.inspection import register
from portal.domain.models import AuditLog, Case, Unit, User
from portal.domain.reporting.identity import IdentityCipher
from tests import factories
from tests.admin import conftest as admin_fixtures
from tests.admin.conftest import (  # noqa: F401 (fixtures)
    fast_password_hashing,
    sign_in,
)
from tests.admin.conftest import text as page_text
from tests.conftest import csrf_token

# The two townships' staff (tests/admin/conftest.py), as a fixture of this module.
township_staff = admin_fixtures.township_staff


def form(session: Session, **values: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "阳高 小卖部（东）", "village": factories.village(session, "V02").id,
        "address": "东街1号", "venue_type": factories.venue_type(session).id,
        "responsible": "王五", "contact": "13800138000", "lat": "36.1", "lon": "113.4",
        "risk_level": "high"}
    return {**data, **values}


def test_an_edit_is_saved_encrypted_and_audited(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User]
) -> None:
    unit = Unit(name="小卖部", normalized_name="小卖部", village=factories.village(db_session))
    db_session.add(unit)
    case = factories.make_case(db_session, unit=unit)
    db_session.commit()
    sign_in(client, township_staff["moderator_a"])
    url = f"/admin/register/{unit.id}/edit"
    response = client.post(url, data={"csrf_token": csrf_token(client, url),
                                      **form(db_session)})
    assert response.status_code == 303, response.get_data(as_text=True)
    db_session.expire_all()
    saved = db_session.get(Unit, unit.id)
    assert saved is not None
    assert (saved.name, saved.normalized_name) == ("阳高 小卖部（东）", "阳高小卖部东")
    assert saved.village_id == factories.village(db_session, "V02").id
    assert (saved.lat, saved.lon, saved.risk_level) == (36.1, 113.4, "high")
    # The case follows its unit to the other village (and the tallies with it).
    assert db_session.get(Case, case.id).village_id == saved.village_id  # type: ignore[union-attr]
    # No clear responsible person or contact anywhere in the database's rows.
    raw = db_session.execute(text("SELECT responsible_enc, contact_enc FROM units WHERE id = :i"),
                             {"i": unit.id}).one()
    assert all(value and "王五".encode() not in bytes(value)
               and b"13800138000" not in bytes(value) for value in raw)
    row = db_session.scalars(select(AuditLog).where(AuditLog.action == "unit.edit")).one()
    assert row.object_id == str(unit.id) and row.actor_id == township_staff["moderator_a"].id
    assert row.before["name"] == "小卖部" and row.after["name"] == "阳高 小卖部（东）"
    assert row.after["risk_level"] == "high" and row.before["risk_level"] == "normal"
    assert row.after["responsible_changed"] is True and row.after["contact_changed"] is True
    assert "王五" not in str(row.before) + str(row.after)
    assert "13800138000" not in str(row.after)
    # Shown decrypted to the register's managers, on the page and in the edit form.
    assert "王五" in page_text(client, f"/admin/register/{unit.id}")
    assert 'value="13800138000"' in page_text(client, url)
    # Saving the same again changes nothing and records nothing.
    client.post(url, data={"csrf_token": csrf_token(client, url), **form(db_session)})
    assert db_session.scalar(select(AuditLog.id).where(AuditLog.action == "unit.edit")
                             .order_by(AuditLog.id.desc())) == row.id


@pytest.mark.parametrize(("values", "message"), [
    ({"village": "BS-V01"}, "只能选择本乡镇的村"),
    ({"name": ""}, "此项必填"),
    ({"lat": "95"}, "纬度须在 -90 到 90 之间"),
    ({"lat": ""}, "经度和纬度须同时填写"),
    ({"contact": "12345"}, "联系电话不是有效的手机或固定电话号码"),
])
def test_a_bad_edit_is_refused_with_its_reason_and_changes_nothing(
    client: FlaskClient, db_session: Session, township_staff: dict[str, User],
    values: dict[str, str], message: str,
) -> None:
    unit = Unit(name="小卖部", normalized_name="小卖部", village=factories.village(db_session))
    db_session.add(unit)
    db_session.commit()
    if values.get("village") == "BS-V01":
        values = {"village": str(factories.village(db_session, "BS-V01").id)}
    sign_in(client, township_staff["moderator_a"])
    url = f"/admin/register/{unit.id}/edit"
    response = client.post(url, data={"csrf_token": csrf_token(client, url),
                                      **form(db_session, **values)})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Unit, unit.id).name == "小卖部"  # type: ignore[union-attr]


def test_the_domain_edit_refuses_a_merged_unit(app: Flask, db_session: Session) -> None:
    village = factories.village(db_session)
    kept = register.unit_for(db_session, village_id=village.id, name="甲")
    gone = register.unit_for(db_session, village_id=village.id, name="乙")
    gone.merged_into_id = kept.id
    db_session.flush()
    with pytest.raises(register.RegisterError, match="已合并"):
        register.edit_unit(db_session, gone, register.UnitChange(name="乙", village_id=village.id),
                           cipher=IdentityCipher(app.config["FIELD_KEYS"]), actor=None)  # type: ignore[arg-type]
