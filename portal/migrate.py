"""Alembic, driven from the application's settings (no alembic.ini needed).

Alembic (and Mako) are imported when a migration runs, not with the app: a web worker never
migrates, and they add about 10 MB to each (issue 19's memory target)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from portal.config import ROOT

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = ROOT / "migrations"


def command() -> ModuleType:
    """``alembic.command``, loaded on first use."""
    from alembic import command as alembic_command

    return alembic_command


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        # ConfigParser interpolation: a literal % in a password must be doubled.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str | None = None, *, connection: Connection | None = None,
            revision: str = "head") -> None:
    command().upgrade(alembic_config(url, connection), revision)


def downgrade(url: str | None = None, *, connection: Connection | None = None,
              revision: str = "-1") -> None:
    command().downgrade(alembic_config(url, connection), revision)


# ---------------------------------------------------------------- helpers for migrations


def sqlite_rebuild(table: str, edit: Callable[[str], str]) -> None:
    """Rebuild a table others reference on SQLite, inside the transaction, with its CREATE
    statement changed by ``edit``. The rows wait in a temporary copy while the table is
    dropped and created again under its own name, so the references to it never change; the
    broken references the drop counts are deferred (PRAGMA defer_foreign_keys), and each
    row put back settles those that point at it before the commit checks. (Alembic's batch
    mode renames a copy into place instead, which leaves them counted as broken.)"""
    from alembic import op

    conn = op.get_bind()
    create = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' "
                               "AND name = :t"), {'t': table}).scalar_one()
    indexes = [row[0] for row in conn.execute(text(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
        "AND sql IS NOT NULL"), {'t': table})]
    columns = [c['name'] for c in inspect(conn).get_columns(table)]
    # Dropping the table deletes its rows, which fires the ON DELETE actions of the tables
    # that reference it (a notice's cases, a user's sessions): their rows are kept aside too.
    dependents = _acting_on_delete(conn, table)
    op.execute("PRAGMA defer_foreign_keys = ON")
    for child in dependents:
        op.execute(f"CREATE TEMPORARY TABLE {child}__rows AS SELECT * FROM {child}")  # nosec B608
    op.execute(f"CREATE TEMPORARY TABLE {table}__rows AS SELECT * FROM {table}")  # nosec B608
    op.execute(f"DROP TABLE {table}")
    op.execute(edit(create))
    kept = [c['name'] for c in inspect(conn).get_columns(table)]
    names = ', '.join(c for c in columns if c in kept)
    op.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {table}__rows")  # nosec B608
    op.execute(f"DROP TABLE {table}__rows")
    for index in indexes:
        op.execute(index)
    for child in dependents:
        op.execute(f"DELETE FROM {child}")  # nosec B608
        op.execute(f"INSERT INTO {child} SELECT * FROM {child}__rows")  # nosec B608
        op.execute(f"DROP TABLE {child}__rows")


def _acting_on_delete(conn: Connection, table: str) -> list[str]:
    """The tables whose references to ``table`` act when its rows are deleted."""
    names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table' "
                              "AND name NOT LIKE 'sqlite_%'")).scalars().all()
    return [name for name in names if name != table and any(
        row[2] == table and row[6] != 'NO ACTION'
        for row in conn.execute(text(f"PRAGMA foreign_key_list({name})")))]


def set_enum_values(table: str, constraint: str, column: str, old: Sequence[str],
                    new: Sequence[str]) -> None:
    """Change the values an enum column's CHECK constraint (``ck_<table>_<constraint>``)
    allows, inside a migration. SQLite cannot alter a constraint: the table is rebuilt in
    place (``sqlite_rebuild``), failing loudly if its definition is not the one expected."""
    from alembic import op

    def values(listed: Sequence[str]) -> str:
        return f"{column} IN (" + ", ".join(f"'{v}'" for v in listed) + ")"

    if op.get_bind().dialect.name == 'sqlite':
        def edit(sql: str) -> str:
            before = values(old)
            if sql.count(before) != 1:
                raise RuntimeError(f"unexpected definition of {table}, cannot change {column}")
            return sql.replace(before, values(new))
        sqlite_rebuild(table, edit)
        return
    name = f"ck_{table}_{constraint}"
    op.drop_constraint(op.f(name), table, type_='check')
    op.create_check_constraint(op.f(name), table, values(new))
