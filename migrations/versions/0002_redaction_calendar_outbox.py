"""redaction history, working-day calendar, notification outbox, case version

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Tip redaction history (tip_revisions), the admin-kept working-day calendar, the notification
outbox, structured data on case events, and optimistic locking on cases.

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('workday', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.create_table('calendar_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('notice', sa.String(length=200), nullable=False),
    sa.Column('entered_by_id', sa.Integer(), nullable=True),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entered_by_id'], ['users.id'], name=op.f('fk_calendar_years_entered_by_id_users')),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_user_id', sa.Integer(), nullable=True),
    sa.Column('recipient_department_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['recipient_department_id'], ['departments.id'], name=op.f('fk_notifications_recipient_department_id_departments')),
    sa.ForeignKeyConstraint(['recipient_user_id'], ['users.id'], name=op.f('fk_notifications_recipient_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_notifications_dedupe_key'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_recipient_user_id'), ['recipient_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_sent_at_next_attempt_at'), ['sent_at', 'next_attempt_at'], unique=False)

    op.create_table('tip_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('old_text', sa.Text(), nullable=False),
    sa.Column('new_text', sa.Text(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('editor_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['editor_id'], ['users.id'], name=op.f('fk_tip_revisions_editor_id_users')),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_tip_revisions_tip_id_tips')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tip_revisions'))
    )
    with op.batch_alter_table('tip_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tip_revisions_tip_id_created_at'), ['tip_id', 'created_at'], unique=False)

    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data', sa.JSON(), nullable=True))

    # Existing cases start at version 1; the default is only there to fill them.
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('version', sa.Integer(), nullable=False, server_default=sa.text('1'))
        )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('version', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_column('data')

    with op.batch_alter_table('tip_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tip_revisions_tip_id_created_at'))

    op.drop_table('tip_revisions')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_sent_at_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_notifications_recipient_user_id'))

    op.drop_table('notifications')
    op.drop_table('calendar_years')
    op.drop_table('calendar_days')

