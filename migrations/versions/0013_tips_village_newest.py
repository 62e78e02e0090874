"""an index on tips (village_id, id): a township's newest tip without a walk

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04

Every request to a township's public pages reads that township's newest tip (the data
version of ``portal/web/caching.py``). Without this index the lookup walked the tips' primary
key back past every newer tip of the other townships: 45 ms per request at a county's size.
With it the lookup is one index probe per village. No existing row changes.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f('ix_tips_village_id_id'), 'tips', ['village_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_tips_village_id_id'), table_name='tips')
