"""supervision: listings, interviews, bulletins

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Major hazards listed for supervision (挂牌督办) with their interviews (约谈) and the signed
commitment letter, and the periodic bulletins (通报) with the figures they were drafted from.

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The attachment owner columns before this revision; a letter adds listing_id.
OWNERS = ('tip_id', 'case_event_id', 'message_id')


def _one_owner(columns: tuple[str, ...]) -> str:
    return " + ".join(f"(CASE WHEN {col} IS NULL THEN 0 ELSE 1 END)" for col in columns) + " <= 1"


def upgrade() -> None:
    op.create_table('bulletins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_bulletins_period_ordered')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_bulletins_created_by_id_users')),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_bulletins_published_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulletins'))
    )
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulletins_published_at'), ['published_at'], unique=False)

    op.create_table('listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Enum('none', 'township', 'county', 'city', 'province', name='listing_level', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('responsible_leader', sa.String(length=100), nullable=False),
    sa.Column('listed_by_id', sa.Integer(), nullable=False),
    sa.Column('listed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delisted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delisted_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("level <> 'none'", name=op.f('ck_listings_level_is_set')),
    sa.CheckConstraint('delisted_by_id IS NULL OR delisted_at IS NOT NULL', name=op.f('ck_listings_delisted_has_time')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_listings_case_id_cases')),
    sa.ForeignKeyConstraint(['delisted_by_id'], ['users.id'], name=op.f('fk_listings_delisted_by_id_users')),
    sa.ForeignKeyConstraint(['listed_by_id'], ['users.id'], name=op.f('fk_listings_listed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listings'))
    )
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listings_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listings_delisted_at_deadline'), ['delisted_at', 'deadline'], unique=False)

    op.create_table('listing_interviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('participants', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_listing_interviews_listing_id_listings')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_listing_interviews_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_interviews'))
    )
    with op.batch_alter_table('listing_interviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_interviews_listing_id'), ['listing_id'], unique=False)

    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listing_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_attachments_listing_id'), ['listing_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_attachments_listing_id_listings'), 'listings', ['listing_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_attachments_one_owner'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_attachments_one_owner'), _one_owner(OWNERS + ('listing_id',)))



def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_attachments_one_owner'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_attachments_one_owner'), _one_owner(OWNERS))
        batch_op.drop_constraint(batch_op.f('fk_attachments_listing_id_listings'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_attachments_listing_id'))
        batch_op.drop_column('listing_id')

    with op.batch_alter_table('listing_interviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listing_interviews_listing_id'))

    op.drop_table('listing_interviews')
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listings_delisted_at_deadline'))
        batch_op.drop_index(batch_op.f('ix_listings_case_id'))

    op.drop_table('listings')
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulletins_published_at'))

    op.drop_table('bulletins')
