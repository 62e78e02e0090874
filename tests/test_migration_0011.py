"""0011 adds the background jobs' table; no existing row changes, and it goes again cleanly."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from portal import migrate
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)


def test_0011_adds_the_jobs_table_and_keeps_every_row(empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0010")
        conn.execute(text(
            "INSERT INTO users (id, username, display_name, password_hash, role, active, "
            "failed_logins, totp_required, password_changed_at, created_at) VALUES (1, 'sup', "
            "'督办员', 'x', 'supervisor', true, 0, false, '2026-11-01 08:00:00', "
            "'2026-11-01 08:00:00')"))
        conn.execute(text("INSERT INTO villages (id, code, name, active, sort_order) "
                          "VALUES (1, 'V01', '东村', true, 1)"))
        conn.commit()
        migrate.upgrade(connection=conn, revision="0011")
        conn.commit()
        assert "jobs" in inspect(conn).get_table_names()
        indexes = {i["name"] for i in inspect(conn).get_indexes("jobs")}
        assert "ix_jobs_status_run_after" in indexes
        conn.execute(text(
            "INSERT INTO jobs (kind, params, status, attempts, max_attempts, run_after, "
            "created_by_id, created_at) VALUES ('ledger.export', '{}', 'queued', 0, 3, "
            "'2026-12-01 08:00:00', 1, '2026-12-01 08:00:00')"))
        conn.commit()
        assert conn.execute(text("SELECT username FROM users")).scalar() == "sup"
        assert conn.execute(text("SELECT count(*) FROM villages")).scalar() == 1
        migrate.downgrade(connection=conn, revision="0010")
        conn.commit()
        assert "jobs" not in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 1
        migrate.upgrade(connection=conn, revision="0011")
        conn.commit()
        assert conn.execute(text("SELECT count(*) FROM jobs")).scalar() == 0
