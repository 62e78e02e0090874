"""0022: a document number is unique per department and kind; rows are kept, and a database
where two documents already share a number is stopped with their names, not altered."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from portal import migrate
from tests.test_migration_0017 import _case, _places
from tests.test_migration_0019 import _department
from tests.test_migrations import empty_engine  # noqa: F401  (the fixture)


def _setup(conn) -> None:
    _places(conn)
    _department(conn)
    conn.execute(text(
        "INSERT INTO users (id, username, display_name, password_hash, role, active, "
        "failed_logins, totp_required, password_changed_at, created_at, mobile, notify_sms, "
        "department_id) "
        "VALUES (1, 'fire', '', 'x', 'officer', true, 0, false, '2026-11-01 08:00:00', "
        "'2026-11-01 08:00:00', '', false, 1)"))
    conn.execute(text("INSERT INTO units (id, name, normalized_name, village_id, address, "
                      "created_at) VALUES (1, '店', '店', 1, '', '2026-11-01 08:00:00')"))
    _case(conn, 10, 1)


def _document(conn, doc_id: int, number: str) -> None:
    conn.execute(text(
        "INSERT INTO case_documents (id, case_id, kind, department_id, year, seq, number, "
        "issued_on, issued_at, issued_by_id, content) VALUES (:id, 10, 'rectify_order', 1, "
        "2026, NULL, :number, '2026-12-02', '2026-12-02 08:00:00', 1, '{}')"),
        {"id": doc_id, "number": number})


def test_0022_keeps_the_documents_and_refuses_a_repeat_after(
        empty_engine: Engine) -> None:  # noqa: F811
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0021")
        _setup(conn)
        _document(conn, 1, "阳消责改字〔2026〕0001号")
        conn.commit()
        migrate.upgrade(connection=conn, revision="0022")
        conn.commit()
        assert conn.execute(text("SELECT id, number FROM case_documents")).all() == [
            (1, "阳消责改字〔2026〕0001号")]
        with pytest.raises(IntegrityError):
            _document(conn, 2, "阳消责改字〔2026〕0001号")
        conn.rollback()
        migrate.downgrade(connection=conn, revision="0021")
        conn.commit()
        _document(conn, 2, "阳消责改字〔2026〕0001号")
        conn.commit()
        with pytest.raises(RuntimeError, match="used twice"):
            migrate.upgrade(connection=conn, revision="0022")
