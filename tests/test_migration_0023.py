"""0023 (issue 22): the register of places, inspections, self-checks and warnings. Existing
units, cases, tips and users are kept: units are "normal" risk and come from reports, cases
are not imported; grid inspectors become a role; going back drops only what 0023 added."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from portal import migrate
from tests.test_migration_0017 import CASE_COLUMNS, _case, _places
from tests.test_migration_0019 import _department
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)

NEW_TABLES = {"inspection_rounds", "inspection_tasks", "random_draws", "self_check_codes",
              "self_checks", "risk_warnings"}


def _user(conn, user_id: int, role: str, department: int | None = None) -> None:
    conn.execute(text(
        "INSERT INTO users (id, username, display_name, password_hash, role, active, "
        "failed_logins, totp_required, password_changed_at, created_at, mobile, notify_sms, "
        "department_id) VALUES (:id, :name, '', 'x', :role, true, 0, false, "
        "'2026-11-01 08:00:00', '2026-11-01 08:00:00', '', false, :department)"),
        {"id": user_id, "name": f"u{user_id}", "role": role, "department": department})


def test_0023_keeps_every_row_and_goes_back(empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0022")
        _places(conn)
        _department(conn)
        _user(conn, 1, "moderator")
        conn.execute(text("INSERT INTO units (id, name, normalized_name, village_id, "
                          "address, created_at) VALUES (1, '张三小卖部', '张三小卖部', 1, "
                          "'东街1号', '2026-11-01 08:00:00')"))
        _case(conn, 10, 1)
        conn.commit()
        cases = conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all()  # noqa: S608
        migrate.upgrade(connection=conn, revision="0023")
        conn.commit()
        assert conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all() == cases  # noqa: S608
        assert tuple(conn.execute(text(
            "SELECT name, address, risk_level, source, census_ref, merged_into_id, "
            "responsible_enc FROM units")).one()) == (
            "张三小卖部", "东街1号", "normal", "report", "", None, None)
        assert tuple(conn.execute(text("SELECT imported, import_key FROM cases")).one()) == \
            (False, None)
        assert conn.execute(text("SELECT role FROM users")).scalar_one() == "moderator"
        assert set(inspect(conn).get_table_names()) >= NEW_TABLES
        # A grid inspector is a role now, with a department or without; a role that does not
        # exist is still refused, and so is a moderator bound to a department.
        _user(conn, 2, "grid_inspector", 1)
        _user(conn, 3, "grid_inspector")
        conn.commit()
        for role, department in (("inspector", None), ("moderator", 1)):
            with pytest.raises(IntegrityError):
                _user(conn, 4, role, department)
            conn.rollback()
        # Going back refuses while a grid inspector serves no department.
        with pytest.raises(RuntimeError, match="u3"):
            migrate.downgrade(connection=conn, revision="0022")
        conn.rollback()
        conn.execute(text("DELETE FROM users WHERE id = 3"))
        conn.commit()
        migrate.downgrade(connection=conn, revision="0022")
        conn.commit()
        assert conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all() == cases  # noqa: S608
        # The grid inspector's account stays, switched off, as an officer without a desk.
        assert [tuple(r) for r in conn.execute(text(
            "SELECT id, role, active FROM users ORDER BY id"))] == [
            (1, "moderator", True), (2, "officer", False)]
        assert not NEW_TABLES & set(inspect(conn).get_table_names())
        assert "risk_level" not in {c["name"] for c in inspect(conn).get_columns("units")}
        migrate.upgrade(connection=conn, revision="0023")
        conn.commit()
        assert conn.execute(text("SELECT count(*) FROM units")).scalar_one() == 1
