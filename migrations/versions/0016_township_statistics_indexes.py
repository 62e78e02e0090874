"""indexes for a township's statistics at a county's size

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04

A township's /t/<code>/stats counts its villages' tips and confirmed hazards per month, its
open major hazards at each month's end and its hazards rectified on time. Those counts walked the county-wide time (or
severity) index and checked every row's village: 1.5 s for one township's monthly counts on
the 2-million-case county seed, recomputed per township and per process. Keyed by village
first, each count is a few index ranges per village (55 ms for the whole page's queries).
No existing row changes.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f('ix_cases_village_id_confirmed_at'), 'cases',
                    ['village_id', 'confirmed_at'], unique=False)
    op.create_index(op.f('ix_cases_village_id_severity_confirmed_at_closed_at'), 'cases',
                    ['village_id', 'severity', 'confirmed_at', 'closed_at'], unique=False)
    op.create_index(op.f('ix_cases_village_id_rectified_at_rectify_by'), 'cases',
                    ['village_id', 'rectified_at', 'rectify_by'], unique=False)
    op.create_index(op.f('ix_tips_village_id_created_at'), 'tips',
                    ['village_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_tips_village_id_created_at'), table_name='tips')
    op.drop_index(op.f('ix_cases_village_id_rectified_at_rectify_by'), table_name='cases')
    op.drop_index(op.f('ix_cases_village_id_severity_confirmed_at_closed_at'),
                  table_name='cases')
    op.drop_index(op.f('ix_cases_village_id_confirmed_at'), table_name='cases')
