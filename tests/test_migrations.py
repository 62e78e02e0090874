"""Alembic owns the schema: migrations build it, match the models, and unwind cleanly."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, create_engine, inspect
from sqlalchemy.engine import Connection

from portal import migrate
from portal.domain.models.base import Base
from tests.conftest import reset_postgres_schema

SCRATCH_SCHEMA = "migration_check"


@pytest.fixture
def empty_engine(tmp_path) -> Iterator[Engine]:
    """An engine on an empty database of the backend under test."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        reset_postgres_schema(url, SCRATCH_SCHEMA)
        engine = create_engine(
            url.replace("postgresql://", "postgresql+psycopg://", 1),
            connect_args={"options": f"-csearch_path={SCRATCH_SCHEMA}"},
        )
    else:
        from portal.db import make_engine

        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    yield engine
    engine.dispose()
    if url:
        reset_postgres_schema(url, SCRATCH_SCHEMA)


# Alembic cannot reflect an index on an expression; the one there is (urging notices numbered
# per issuing office, 0012) is checked by tests/test_migration_0012.py instead.
EXPRESSION_INDEXES = {"uq_urging_notices_office_year_seq"}


def _diff(conn: Connection, metadata: MetaData) -> list:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True,
                    "include_name": lambda name, kind, _parent: not (
                        kind == "index" and name in EXPRESSION_INDEXES),
                    "include_object": lambda _obj, name, kind, _reflected, _other: not (
                        kind == "index" and name in EXPRESSION_INDEXES)}
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based "
                                "index uq_urging_notices_office_year_seq")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified "
                                "expression-based index 'uq_urging_notices_office_year_seq'")
        return compare_metadata(context, metadata)


def test_upgrade_head_matches_models(empty_engine: Engine) -> None:
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn)
        conn.commit()
        assert _diff(conn, Base.metadata) == []


def test_the_comparison_catches_a_column_missing_from_the_migrations(
    empty_engine: Engine,
) -> None:
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["villages"].append_column(Column("population", Integer, nullable=True))
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn)
        conn.commit()
        diff = _diff(conn, drifted)
    assert [(d[0], d[3].name) for d in diff if d[0] == "add_column"] == [
        ("add_column", "population")
    ]


def test_downgrade_base_removes_every_table(empty_engine: Engine) -> None:
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn)
        conn.commit()
        migrate.downgrade(connection=conn, revision="base")
        conn.commit()
        remaining = set(inspect(conn).get_table_names()) - {"alembic_version"}
    assert remaining == set()


@pytest.mark.parametrize("env", ["development", "production"])
def test_0008_hashes_clear_submission_keys_and_keeps_every_tip(
        empty_engine: Engine, monkeypatch, env: str) -> None:
    """Tips stored before 0008 keep their rows; their clear submission keys become the keyed
    hashes a resubmitted form is looked up by, or, where the settings (and so the key) cannot
    be loaded, are nulled."""
    monkeypatch.setenv("PORTAL_ENV", env)
    for name in ("PORTAL_SECRET_KEY", "PORTAL_RECEIPT_KEY", "PORTAL_FIELD_KEYS"):
        monkeypatch.delenv(name, raising=False)
    from sqlalchemy import text

    from portal.config import load_settings
    from portal.domain.reporting.identity import submission_hash

    clear_key = "Zr0x6Qm1a7T9c2Lw8NpV4g"
    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0006")
        conn.execute(text("INSERT INTO villages (id, code, name, active, sort_order) "
                          "VALUES (1, 'V01', '东村', true, 1)"))
        conn.execute(text(
            "INSERT INTO categories (id, code, name, description, urgent, needs_penalty, "
            "active, sort_order) VALUES (1, 'wiring', '电气线路', '', false, false, true, 1)"))
        for tip_id, key in ((1, clear_key), (2, None)):
            conn.execute(text(
                "INSERT INTO tips (id, channel, status, village_id, category_id, unit_name, "
                "address, description, wants_feedback, receipt_hash, reject_message, "
                "submission_key, created_at) VALUES (:id, 'web', 'pending', 1, 1, '红星饭店', "
                "'', '厨房电线老化，插线板串接。', false, :receipt, '', :key, "
                "'2026-11-30 08:00:00')"), {"id": tip_id, "receipt": f"{tip_id:064d}",
                                             "key": key})
        conn.commit()
        migrate.upgrade(connection=conn, revision="0008")
        conn.commit()
        rows = conn.execute(text(
            "SELECT id, unit_name, receipt_hash, submission_key, identity_withdrawn_at "
            "FROM tips ORDER BY id")).all()
    hashed = submission_hash(load_settings()["RECEIPT_KEY"], clear_key) if (
        env == "development") else None
    assert [tuple(r) for r in rows] == [
        (1, "红星饭店", f"{1:064d}", hashed, None),
        (2, "红星饭店", f"{2:064d}", None, None),
    ]
    assert clear_key not in str(rows)


def test_0007_keeps_every_account_able_to_sign_in(empty_engine: Engine) -> None:
    """Accounts stored before 0007 keep their rows (and so their passwords and second factors);
    sessions start empty, so everyone signs in once more; downgrading keeps the accounts."""
    from sqlalchemy import text

    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0006")
        conn.execute(text(
            "INSERT INTO users (id, username, display_name, password_hash, role, active, "
            "failed_logins, totp_secret, totp_required, password_changed_at, created_at) "
            "VALUES (1, 'mod1', '老王', 'scrypt:x', 'moderator', true, 2, 'enc', true, "
            "'2026-11-30 08:00:00', '2026-11-01 08:00:00')"))
        conn.commit()
        migrate.upgrade(connection=conn, revision="0007")
        conn.commit()
        rows = conn.execute(text(
            "SELECT id, username, display_name, password_hash, role, active, failed_logins, "
            "totp_secret, totp_last_step FROM users")).all()
        assert [tuple(r) for r in rows] == [
            (1, "mod1", "老王", "scrypt:x", "moderator", True, 2, "enc", None)]
        assert conn.execute(text("SELECT count(*) FROM staff_sessions")).scalar() == 0
        migrate.downgrade(connection=conn, revision="0006")
        conn.commit()
        assert conn.execute(text("SELECT username FROM users")).scalars().all() == ["mod1"]
        assert "staff_sessions" not in inspect(conn).get_table_names()


def test_0009_keeps_tips_villages_and_urging_notices(empty_engine: Engine) -> None:
    """Rows from before 0009 stay: tips start at version 1, villages have no position yet,
    urging notices are neither signed for nor answered."""
    from sqlalchemy import text

    with empty_engine.connect() as conn:
        migrate.upgrade(connection=conn, revision="0008")
        conn.execute(text("INSERT INTO villages (id, code, name, active, sort_order) "
                          "VALUES (1, 'V01', '东村', true, 1)"))
        conn.execute(text(
            "INSERT INTO categories (id, code, name, description, urgent, needs_penalty, "
            "active, sort_order) VALUES (1, 'wiring', '电气线路', '', false, false, true, 1)"))
        conn.execute(text(
            "INSERT INTO tips (id, channel, status, village_id, category_id, unit_name, "
            "address, description, wants_feedback, receipt_hash, reject_message, created_at) "
            "VALUES (1, 'web', 'pending', 1, 1, '红星饭店', '', '厨房电线老化。', false, "
            ":receipt, '', '2026-11-30 08:00:00')"), {"receipt": "1" * 64})
        conn.execute(text(
            "INSERT INTO departments (id, code, name, kind, contact, email, active) "
            "VALUES (1, 'FIRE', '消防站', 'fire_station', '', '', true)"))
        conn.execute(text(
            "INSERT INTO users (id, username, display_name, role, password_hash, active, "
            "failed_logins, totp_required, password_changed_at, created_at) VALUES (1, 'sup', "
            "'督办', 'supervisor', 'x', true, 0, false, '2026-11-30 08:00:00', "
            "'2026-11-30 08:00:00')"))
        conn.execute(text(
            "INSERT INTO urging_notices (id, department_id, year, seq, text, issued_by_id, "
            "issued_at) VALUES (1, 1, 2026, 1, '请尽快办理', 1, '2026-11-30 08:00:00')"))
        conn.commit()
        migrate.upgrade(connection=conn, revision="0009")
        conn.commit()
        tip = conn.execute(text("SELECT unit_name, version FROM tips")).one()
        village = conn.execute(text("SELECT name, latitude, longitude FROM villages")).one()
        notice = conn.execute(text(
            "SELECT text, acknowledged_at, answer, answered_at FROM urging_notices")).one()
    assert tuple(tip) == ("红星饭店", 1)
    assert tuple(village) == ("东村", None, None)
    assert tuple(notice) == ("请尽快办理", None, "", None)
