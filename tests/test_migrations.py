"""Alembic owns the schema: migrations build it, match the models, and unwind cleanly."""

from __future__ import annotations

import os
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


def _diff(conn: Connection, metadata: MetaData) -> list:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True}
    )
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
