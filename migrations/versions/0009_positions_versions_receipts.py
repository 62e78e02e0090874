"""villages: a position; tips: a version for optimistic locking; urging notices: receipt and answer

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

- ``villages.latitude`` / ``villages.longitude``: the village's position (its committee's
  office). Open311 publishes it instead of a home's own point for residential venue types.
  Existing villages get none (nothing is published until an admin or the jurisdiction file
  sets it).
- ``tips.version``: two moderators deciding one tip at once — the second is told, instead of
  silently overwriting the first. Existing tips start at 1.
- ``urging_notices.acknowledged_*`` and ``answer*``: the department signs for an urging notice
  (签收) and answers it (回复); existing notices are neither.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('villages') as batch:
        batch.add_column(sa.Column('latitude', sa.Float(), nullable=True))
        batch.add_column(sa.Column('longitude', sa.Float(), nullable=True))
    with op.batch_alter_table('tips') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('urging_notices') as batch:
        batch.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('acknowledged_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('answer', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('answered_by_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_urging_notices_acknowledged_by_id_users', 'users',
                                 ['acknowledged_by_id'], ['id'])
        batch.create_foreign_key('fk_urging_notices_answered_by_id_users', 'users',
                                 ['answered_by_id'], ['id'])
    # The default only filled the existing rows; the application always writes the answer.
    with op.batch_alter_table('urging_notices') as batch:
        batch.alter_column('answer', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('urging_notices') as batch:
        batch.drop_constraint('fk_urging_notices_answered_by_id_users', type_='foreignkey')
        batch.drop_constraint('fk_urging_notices_acknowledged_by_id_users', type_='foreignkey')
        for column in ('answered_by_id', 'answered_at', 'answer', 'acknowledged_by_id',
                       'acknowledged_at'):
            batch.drop_column(column)
    with op.batch_alter_table('tips') as batch:
        batch.drop_column('version')
    with op.batch_alter_table('villages') as batch:
        batch.drop_column('longitude')
        batch.drop_column('latitude')
