"""0018 gives the public filter indexes the other filters' columns (PostgreSQL) and the ledger
its (column, id) indexes: no row changes, and it goes back and again cleanly."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from portal import migrate
from tests.test_migration_0017 import CASE_COLUMNS, _case, _places
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)

LEDGER = {"ix_cases_ledger_village_id", "ix_cases_ledger_category_id",
          "ix_cases_ledger_severity", "ix_cases_ledger_listed"}


def _definitions(conn) -> dict[str, str]:
    if conn.dialect.name != "postgresql":
        return {}
    return dict(conn.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases'")).all())


def test_0018_adds_the_covering_and_ledger_indexes_and_keeps_every_row(
        empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0017")
        _places(conn)
        conn.execute(text("INSERT INTO units (id, name, normalized_name, village_id, "
                          "address, created_at) VALUES (1, '店', '店', 1, '', "
                          "'2026-11-01 08:00:00')"))
        _case(conn, 10, 1)
        _case(conn, 11, 1)
        conn.commit()
        before = conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all()  # noqa: S608
        old = _definitions(conn)
        migrate.upgrade(connection=conn, revision="0018")
        conn.commit()
        assert conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all() == before  # noqa: S608
        indexes = {i["name"] for i in inspect(conn).get_indexes("cases")}
        assert indexes >= LEDGER and "ix_cases_public_village_id" in indexes
        new = _definitions(conn)
        if conn.dialect.name == "postgresql":
            assert "INCLUDE (category_id, venue_type_id, status, severity, supervision_level)" \
                in new["ix_cases_public_village_id"]
            assert "WHERE (disclosed IS TRUE)" in new["ix_cases_public_village_id"]
            assert "INCLUDE" in new["ix_cases_ledger_listed"]
        migrate.downgrade(connection=conn, revision="0017")
        conn.commit()
        assert not LEDGER & {i["name"] for i in inspect(conn).get_indexes("cases")}
        assert _definitions(conn) == old
        assert conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all() == before  # noqa: S608
        migrate.upgrade(connection=conn, revision="0018")
        conn.commit()
        assert {i["name"] for i in inspect(conn).get_indexes("cases")} >= LEDGER
