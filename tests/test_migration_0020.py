"""0020 (issue 21): SMS in the outbox, staff mobiles, ratings. Existing notifications stay
e-mails, existing users get no SMS; going back drops only what 0020 added."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from portal import migrate
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)


def test_0020_keeps_every_notification_and_user(empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0019")
        conn.execute(text(
            "INSERT INTO users (id, username, display_name, password_hash, role, active, "
            "failed_logins, totp_required, password_changed_at, created_at) VALUES "
            "(1, 'mod', '', 'x', 'moderator', true, 0, false, '2026-11-01 08:00:00', "
            "'2026-11-01 08:00:00')"))
        conn.execute(text(
            "INSERT INTO notifications (id, recipient_user_id, kind, subject, body, created_at, "
            "next_attempt_at, tries, last_error) VALUES (1, 1, 'assignment_new', '新派单', '', "
            "'2026-11-01 08:00:00', '2026-11-01 08:00:00', 0, '')"))
        conn.commit()
        migrate.upgrade(connection=conn, revision="0020")
        conn.commit()
        row = conn.execute(text("SELECT id, kind, channel, tip_id, provider FROM notifications")
                           ).one()
        assert tuple(row) == (1, "assignment_new", "email", None, "")
        assert tuple(conn.execute(text("SELECT mobile, notify_sms FROM users")).one()) == \
            ("", False)
        assert {"ratings", "rating_tokens"} <= set(inspect(conn).get_table_names())
        migrate.downgrade(connection=conn, revision="0019")
        conn.commit()
        assert conn.execute(text("SELECT id, kind FROM notifications")).one() == \
            (1, "assignment_new")
        assert "ratings" not in inspect(conn).get_table_names()
