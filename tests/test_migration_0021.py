"""0021 (issue 21): the rewards table. Existing rows stay as they are; going back drops only
the table 0021 added."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from portal import migrate
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)


def test_0021_keeps_every_row_and_goes_back_cleanly(empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0020")
        conn.execute(text(
            "INSERT INTO users (id, username, display_name, password_hash, role, active, "
            "failed_logins, totp_required, password_changed_at, created_at, mobile, notify_sms) "
            "VALUES (1, 'mod', '', 'x', 'moderator', true, 0, false, '2026-11-01 08:00:00', "
            "'2026-11-01 08:00:00', '', false)"))
        conn.commit()
        migrate.upgrade(connection=conn, revision="0021")
        conn.commit()
        assert conn.execute(text("SELECT id, username FROM users")).one() == (1, "mod")
        assert "rewards" in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT count(*) FROM rewards")).scalar() == 0
        migrate.downgrade(connection=conn, revision="0020")
        conn.commit()
        assert "rewards" not in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT id, username FROM users")).one() == (1, "mod")
