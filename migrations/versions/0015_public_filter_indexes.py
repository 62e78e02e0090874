"""partial indexes for the public list filtered by one dimension

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04

Issue 19: a varied filter of /disclosures (a village, a category, a status, a severity, the
listed ones; later pages) walked the (disclosed, disclosed_at, id) index past every disclosed
case of the other villages or categories: 10 ms at 100k cases, growing with the county. Each
index here holds only the disclosed cases, keyed by the filtered column then the list's order,
so a filtered page reads its own rows. The predicates are written as each database renders
``Case.disclosed.is_(True)``, since SQLite uses a partial index only for a query term that
matches it. No existing row changes.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("village_id", "category_id", "status", "severity")
LISTED = "supervision_level <> 'none'"


def upgrade() -> None:
    for column in COLUMNS:
        op.create_index(f"ix_cases_public_{column}", "cases", [column, "disclosed_at", "id"],
                        postgresql_where=sa.text("disclosed IS true"),
                        sqlite_where=sa.text("disclosed IS 1"))
    op.create_index("ix_cases_public_listed", "cases", ["disclosed_at", "id"],
                    postgresql_where=sa.text(f"disclosed IS true AND {LISTED}"),
                    sqlite_where=sa.text(f"disclosed IS 1 AND {LISTED}"))


def downgrade() -> None:
    op.drop_index("ix_cases_public_listed", table_name="cases")
    for column in reversed(COLUMNS):
        op.drop_index(f"ix_cases_public_{column}", table_name="cases")
