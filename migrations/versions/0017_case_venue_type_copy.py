"""cases carry a copy of their unit's venue type, with a public-list index

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04

A venue-type filter of the public list joined the units; with a second filter (major
hazards, the listed ones) neither index was selective, and a later page walked tens of
thousands of cases: 90 ms at the 2-million-case county seed. Like the village, the venue
type is now copied onto the case (kept by a flush listener in portal/domain/models/cases.py)
and has a partial index of the disclosed cases like the other filters. No foreign key on the
copy (the unit's own column holds the reference; SQLite then drops the column on downgrade
without rebuilding a table others refer to). Every existing case takes its unit's venue type.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('cases', sa.Column('venue_type_id', sa.Integer(), nullable=True))
    op.execute("UPDATE cases SET venue_type_id = "
               "(SELECT units.venue_type_id FROM units WHERE units.id = cases.unit_id)")
    op.create_index("ix_cases_public_venue_type_id", "cases",
                    ["venue_type_id", "disclosed_at", "id"],
                    postgresql_where=sa.text("disclosed IS true"),
                    sqlite_where=sa.text("disclosed IS 1"))


def downgrade() -> None:
    op.drop_index("ix_cases_public_venue_type_id", table_name="cases")
    op.drop_column('cases', 'venue_type_id')
