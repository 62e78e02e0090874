"""the resident's loop: SMS in the outbox, staff mobiles, the follow-up rating

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02

Issue 21. Notifications gain a channel (e-mail, the default for every existing row, or SMS),
the tip an SMS to a reporter is about (the phone is decrypted from the tip at send time, never
copied), an encrypted recipient for staff SMS, a keyed hash of the number for the daily cap,
the template's parameters, and the provider's answer. Users gain a mobile number and whether
they want reminders by SMS (no one, to begin with). Ratings (回访/评价, one per tip) and the
one-time rating links (only their keyed hash) are new tables. Existing rows are kept as
they are.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMPTY = sa.text("''")


def upgrade() -> None:
    op.add_column('notifications', sa.Column('channel', sa.String(length=8), nullable=False,
                                             server_default='email'))
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a referencing column in place (no table rebuild), naming its constraint.
        op.execute("ALTER TABLE notifications ADD COLUMN tip_id INTEGER "
                   "CONSTRAINT fk_notifications_tip_id_tips REFERENCES tips (id)")
    else:
        op.add_column('notifications', sa.Column('tip_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_notifications_tip_id_tips'), 'notifications', 'tips',
                              ['tip_id'], ['id'])
    op.add_column('notifications', sa.Column('recipient_enc', sa.LargeBinary(), nullable=True))
    op.add_column('notifications', sa.Column('recipient_hash', sa.String(length=64),
                                             nullable=True))
    op.add_column('notifications', sa.Column('template_params', sa.JSON(), nullable=True))
    op.add_column('notifications', sa.Column('provider', sa.String(length=16), nullable=False,
                                             server_default=EMPTY))
    op.add_column('notifications', sa.Column('provider_request_id', sa.String(length=100),
                                             nullable=False, server_default=EMPTY))
    op.add_column('notifications', sa.Column('provider_status', sa.String(length=100),
                                             nullable=False, server_default=EMPTY))
    op.create_index(op.f('ix_notifications_tip_id'), 'notifications', ['tip_id'])
    op.create_index(op.f('ix_notifications_recipient_hash_sent_at'), 'notifications',
                    ['recipient_hash', 'sent_at'])
    op.add_column('users', sa.Column('mobile', sa.String(length=20), nullable=False,
                                     server_default=EMPTY))
    op.add_column('users', sa.Column('notify_sms', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))

    op.create_table(
        'ratings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tip_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('answer', sa.Enum('satisfied', 'basically', 'dissatisfied',
                                    name='rating_answer', native_enum=False,
                                    create_constraint=True, length=32), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('source', sa.Enum('track', 'sms_link', 'phone', name='rating_source',
                                    native_enum=False, create_constraint=True, length=32),
                  nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('handled_by_id', sa.Integer(), nullable=True),
        sa.Column('handling', sa.String(length=16), nullable=False),
        sa.Column('handling_text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                                name=op.f('fk_ratings_case_id_cases')),
        sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'],
                                name=op.f('fk_ratings_handled_by_id_users')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_ratings_recorded_by_id_users')),
        sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_ratings_tip_id_tips')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
        sa.UniqueConstraint('tip_id', name=op.f('uq_ratings_tip_id')),
    )
    op.create_index(op.f('ix_ratings_case_id'), 'ratings', ['case_id'])
    op.create_table(
        'rating_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tip_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tip_id'], ['tips.id'],
                                name=op.f('fk_rating_tokens_tip_id_tips')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_rating_tokens_token_hash')),
    )
    op.create_index(op.f('ix_rating_tokens_tip_id'), 'rating_tokens', ['tip_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_rating_tokens_tip_id'), table_name='rating_tokens')
    op.drop_table('rating_tokens')
    op.drop_index(op.f('ix_ratings_case_id'), table_name='ratings')
    op.drop_table('ratings')
    op.drop_column('users', 'notify_sms')
    op.drop_column('users', 'mobile')
    op.drop_index(op.f('ix_notifications_recipient_hash_sent_at'), table_name='notifications')
    op.drop_index(op.f('ix_notifications_tip_id'), table_name='notifications')
    # SMS rows have no e-mail form: they go with the columns that held them.
    op.execute("DELETE FROM notifications WHERE channel = 'sms'")
    for column in ('provider_status', 'provider_request_id', 'provider', 'template_params',
                   'recipient_hash', 'recipient_enc'):
        op.drop_column('notifications', column)
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('fk_notifications_tip_id_tips'), 'notifications',
                           type_='foreignkey')
    op.drop_column('notifications', 'tip_id')
    op.drop_column('notifications', 'channel')
