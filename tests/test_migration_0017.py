"""0017 copies each unit's venue type onto its cases (the public venue filter's index): every
existing case takes its unit's, no other value changes, and it goes back and again cleanly."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from portal import migrate
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)

CASE_COLUMNS = ("id, unit_id, village_id, category_id, channel, severity, status, "
                "internal_summary, public_summary, supervision_level, rectify_notice_no, "
                "disclosed, created_at, updated_at, version")


def _case(conn, case_id: int, unit_id: int) -> None:
    conn.execute(text(
        f"INSERT INTO cases ({CASE_COLUMNS}) VALUES (:id, :unit, 1, 1, 'web', 'general', "  # noqa: S608
        "'triage', '内部', '', 'none', '', false, '2026-11-01 08:00:00', "
        "'2026-11-01 08:00:00', 1)"), {"id": case_id, "unit": unit_id})


def _places(conn) -> None:
    """Township 1, its village 1 and category 1: what a case needs to exist."""
    conn.execute(text("INSERT INTO townships (id, code, name, active, sort_order, "
                      "office_department, penalty_department, contact) "
                      "VALUES (1, 't1', '一乡', true, 0, '', '', '')"))
    conn.execute(text("INSERT INTO villages (id, code, name, township_id, active, "
                      "sort_order) VALUES (1, 'V01', '东村', 1, true, 1)"))
    conn.execute(text("INSERT INTO categories (id, code, name, description, urgent, "
                      "needs_penalty, active, sort_order) "
                      "VALUES (1, 'exit', '通道', '', false, false, true, 0)"))


def test_0017_gives_every_case_its_units_venue_type(empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0016")
        _places(conn)
        conn.execute(text("INSERT INTO venue_types (id, code, name, active, sort_order) "
                          "VALUES (4, 'shop', '商铺', true, 0)"))
        for unit_id, venue in ((1, "4"), (2, "NULL")):
            conn.execute(text(
                "INSERT INTO units (id, name, normalized_name, village_id, venue_type_id, "  # noqa: S608
                f"address, created_at) VALUES ({unit_id}, '店{unit_id}', '店{unit_id}', 1, "
                f"{venue}, '', '2026-11-01 08:00:00')"))
        _case(conn, 10, 1)
        _case(conn, 11, 1)
        _case(conn, 12, 2)
        conn.commit()
        before = conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all()  # noqa: S608
        migrate.upgrade(connection=conn, revision="0017")
        conn.commit()
        assert dict(conn.execute(text("SELECT id, venue_type_id FROM cases")).all()) == {
            10: 4, 11: 4, 12: None}
        assert conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all() == before  # noqa: S608
        indexes = {i["name"] for i in inspect(conn).get_indexes("cases")}
        assert "ix_cases_public_venue_type_id" in indexes
        migrate.downgrade(connection=conn, revision="0016")
        conn.commit()
        assert "venue_type_id" not in {c["name"] for c in inspect(conn).get_columns("cases")}
        assert conn.execute(text(f"SELECT {CASE_COLUMNS} FROM cases ORDER BY id")).all() == before  # noqa: S608
        migrate.upgrade(connection=conn, revision="0017")
        conn.commit()
        assert conn.execute(text("SELECT venue_type_id FROM cases WHERE id = 10")).scalar() == 4
