"""0024: the figure snapshots are a new table; every existing row stays, and a downgrade
drops only that table."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from portal import migrate
from tests.test_migration_0017 import _case, _places
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)


def test_0024_adds_the_snapshots_and_keeps_every_case(empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0023")
        _places(conn)
        conn.execute(text("INSERT INTO units (id, name, normalized_name, village_id, address, "
                          "created_at) VALUES (1, '店', '店', 1, '', '2026-11-01 08:00:00')"))
        _case(conn, 10, 1)
        conn.commit()
        migrate.upgrade(connection=conn, revision="0024")
        conn.commit()
        assert conn.execute(text("SELECT id FROM cases")).scalars().all() == [10]
        conn.execute(text("INSERT INTO figure_snapshots (key, stamp, body, computed_at) "
                          "VALUES ('stats|charts|None', 's', '{}', '2026-12-04 02:00:00')"))
        conn.commit()
        migrate.downgrade(connection=conn, revision="0023")
        conn.commit()
        assert "figure_snapshots" not in inspect(conn).get_table_names()
        assert conn.execute(text("SELECT id FROM cases")).scalars().all() == [10]
