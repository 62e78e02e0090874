"""Alembic, driven from the application's settings (no alembic.ini needed).

Alembic (and Mako) are imported when a migration runs, not with the app: a web worker never
migrates, and they add about 10 MB to each (issue 19's memory target)."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

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
