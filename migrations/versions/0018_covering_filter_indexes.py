"""the filter indexes carry the other filters' columns; the ledger's filters have indexes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05

Issue 19: with two filters (a village and the listed ones, a category and a status) the public
list walked one filter's index and read each case's table row to check the other: a village's
listed cases took 74 ms at 100k and hundreds at the 2-million-case county, most of it reading
rows only to drop them. On PostgreSQL each public filter index now INCLUDEs the other filter
columns (``FILTERED`` in portal/domain/models/cases.py), so the page's ids and its capped
count come from an index-only walk. The ledger (newest case first, by id) had no index for a
village, category or severity in its order: it walked the primary key past the other
villages' cases, or read all of a village's and sorted them. ``ix_cases_ledger_*`` are
(column, id), carrying the ledger's filter columns on PostgreSQL. SQLite has no INCLUDE: there
the public indexes stay as they were and the ledger's are plain. Building them holds a write
lock on the cases for a few seconds per index at the county's size. No row changes.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in the model at this revision (a migration does not import the model).
FILTERED = ("village_id", "category_id", "venue_type_id", "status", "severity",
            "supervision_level")
LEDGER_FILTERED = (*FILTERED, "check_by", "rectify_by")
PUBLIC = ("village_id", "category_id", "venue_type_id", "status", "severity")
LEDGER = ("village_id", "category_id", "severity")
LISTED = "supervision_level <> 'none'"


def _public(include: bool) -> None:
    for column in PUBLIC:
        op.drop_index(f"ix_cases_public_{column}", table_name="cases")
        op.create_index(f"ix_cases_public_{column}", "cases", [column, "disclosed_at", "id"],
                        postgresql_where=sa.text("disclosed IS true"),
                        postgresql_include=[c for c in FILTERED if c != column] if include
                        else [])
    op.drop_index("ix_cases_public_listed", table_name="cases")
    op.create_index("ix_cases_public_listed", "cases", ["disclosed_at", "id"],
                    postgresql_where=sa.text(f"disclosed IS true AND {LISTED}"),
                    postgresql_include=list(FILTERED) if include else [])


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _public(include=True)
    for column in LEDGER:
        op.create_index(f"ix_cases_ledger_{column}", "cases", [column, "id"],
                        postgresql_include=[c for c in LEDGER_FILTERED if c != column])
    op.create_index("ix_cases_ledger_listed", "cases", ["id"],
                    postgresql_where=sa.text(LISTED), sqlite_where=sa.text(LISTED),
                    postgresql_include=list(LEDGER_FILTERED))


def downgrade() -> None:
    op.drop_index("ix_cases_ledger_listed", table_name="cases")
    for column in reversed(LEDGER):
        op.drop_index(f"ix_cases_ledger_{column}", table_name="cases")
    if op.get_bind().dialect.name == "postgresql":
        _public(include=False)
