"""Partner keys: shown once, stored hashed, revocable, managed from the command line."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.domain.access import api_keys
from portal.domain.models import ApiKey, AuditLog

KEY_RE = re.compile(r"[0-9a-f]{8}\.[A-Za-z0-9_-]{43}")


def test_a_key_is_stored_only_as_its_hash(app, db_session) -> None:
    issued = api_keys.issue(db_session, "  12345热线  ")
    row = issued.api_key
    assert row.partner == "12345热线"
    assert KEY_RE.fullmatch(issued.key)
    assert issued.key.startswith(row.prefix + ".")
    secret = issued.key.partition(".")[2]
    assert secret not in row.key_hash
    assert api_keys.authenticate(db_session, issued.key) is row
    assert api_keys.authenticate(db_session, issued.key + "x") is None
    assert api_keys.authenticate(db_session, None) is None


def test_revoking_stops_the_key_and_is_audited(app, db_session) -> None:
    issued = api_keys.issue(db_session, "网格平台")
    api_keys.revoke(db_session, issued.api_key)
    assert api_keys.authenticate(db_session, issued.key) is None
    with pytest.raises(api_keys.ApiKeyError):
        api_keys.revoke(db_session, issued.api_key)
    actions = db_session.scalars(
        select(AuditLog.action).where(AuditLog.object_type == "api_key",
                                      AuditLog.object_id == str(issued.api_key.id))).all()
    assert actions == ["api_key.issue", "api_key.revoke"]


@pytest.mark.parametrize("name", ["", "   ", "渠" * 101])
def test_a_partner_needs_a_name(app, db_session, name) -> None:
    with pytest.raises(api_keys.ApiKeyError):
        api_keys.issue(db_session, name)


def test_the_cli_issues_lists_and_revokes(runner, db_session) -> None:
    result = runner.invoke(args=["apikeys", "issue", "12345热线"])
    assert result.exit_code == 0, result.output
    key = KEY_RE.search(result.output).group(0)
    row = db_session.scalars(select(ApiKey).where(ApiKey.partner == "12345热线")).one()
    assert api_keys.authenticate(db_session, key) is not None

    listed = runner.invoke(args=["apikeys", "list"]).output
    assert "12345热线" in listed and row.prefix in listed and key not in listed

    result = runner.invoke(args=["apikeys", "revoke", str(row.id)])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    assert api_keys.authenticate(db_session, key) is None
    assert "已停用" in runner.invoke(args=["apikeys", "list"]).output
    assert runner.invoke(args=["apikeys", "revoke", str(row.id)]).exit_code != 0
    assert runner.invoke(args=["apikeys", "revoke", "999999"]).exit_code != 0
