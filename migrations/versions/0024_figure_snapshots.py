"""figure snapshots: the public statistics computed once for every process

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04

Issue 19. Each worker process kept its own copy of every township's public figures and
recomputed it each minute; a county on several machines computed each township's figures
once per worker. The first process to need an entry now stores it here and the others read
it. A new table only: no existing row changes, and a downgrade drops it (the figures are
computed again on the next request).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'figure_snapshots',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('stamp', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_figure_snapshots')),
    )


def downgrade() -> None:
    op.drop_table('figure_snapshots')
