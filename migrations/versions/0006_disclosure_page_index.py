"""disclosure pages: the (disclosed, disclosed_at) index carries the case id

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

The public list pages by taking the page's ids from the index alone and then loading those
rows, so a deep page skips index entries instead of table rows; for that the id must be in the
index (PostgreSQL's index-only scan).

"""
from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f('ix_cases_disclosed_disclosed_at'), table_name='cases')
    op.create_index(op.f('ix_cases_disclosed_disclosed_at_id'), 'cases',
                    ['disclosed', 'disclosed_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_cases_disclosed_disclosed_at_id'), table_name='cases')
    op.create_index(op.f('ix_cases_disclosed_disclosed_at'), 'cases',
                    ['disclosed', 'disclosed_at'], unique=False)
