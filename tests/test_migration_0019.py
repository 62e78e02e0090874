"""0019 (issue 20): categories' own check limits, departments' document settings, the case
clocks and documents, and the status ``unfounded`` awaiting review. Existing rows are kept;
going back closes a case waiting for its unfounded check's review, as it was before."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from portal import migrate
from tests.test_migration_0017 import CASE_COLUMNS, _case, _places
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)


def _department(conn) -> None:
    conn.execute(text("INSERT INTO departments (id, code, name, kind, contact, email, active, "
                      "township_id) VALUES (1, 'fire', '消防救援站', 'fire_station', '', '', "
                      "true, 1)"))


def test_0019_keeps_every_row_and_goes_back(empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0018")
        _places(conn)
        _department(conn)
        conn.execute(text("INSERT INTO units (id, name, normalized_name, village_id, "
                          "address, created_at) VALUES (1, '店', '店', 1, '', "
                          "'2026-11-01 08:00:00')"))
        _case(conn, 10, 1)
        _case(conn, 11, 1)
        conn.commit()
        before = conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all()  # noqa: S608
        migrate.upgrade(connection=conn, revision="0019")
        conn.commit()
        assert conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all() == before  # noqa: S608
        # Existing categories keep the legal maximum; existing departments number documents
        # themselves, with no delegated powers.
        assert conn.execute(text("SELECT check_hours, check_working_days FROM categories")
                            ).one() == (None, None)
        assert tuple(conn.execute(text(
            "SELECT fire_powers_delegated, document_numbering, document_prefix "
            "FROM departments")).one()) == (False, "auto", "")
        assert {"case_clocks", "case_documents"} <= set(inspect(conn).get_table_names())
        # The new status is accepted; a case waiting for review goes back to closed.
        conn.execute(text("UPDATE cases SET status = 'unfounded', routed_at = created_at, "
                          "checked_at = '2026-11-02 08:00:00' WHERE id = 11"))
        conn.commit()
        migrate.downgrade(connection=conn, revision="0018")
        conn.commit()
        rows = conn.execute(text("SELECT id, status, outcome FROM cases ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(10, "triage", None), (11, "closed", "unfounded")]
        assert "case_clocks" not in inspect(conn).get_table_names()
        migrate.upgrade(connection=conn, revision="0019")
        conn.commit()
        assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() == 2
