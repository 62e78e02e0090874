"""rewards for verified reports (举报奖励)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02

Issue 21. One new table, one row per rewarded tip: the band and its limits as proposed, the
amount a supervisor approved, the claim period's last day, that staff checked an identity
document and the reporter's declaration in person (who and when; never a document number),
and the payment. The rules themselves are data of the jurisdiction file, kept in the settings
table like the rest of it. No existing row changes.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'rewards',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('tip_id', sa.Integer(), nullable=False),
        sa.Column('band', sa.String(length=32), nullable=False),
        sa.Column('amount_min', sa.Integer(), nullable=False),
        sa.Column('amount_max', sa.Integer(), nullable=False),
        sa.Column('amount', sa.Integer(), nullable=True),
        sa.Column('status', sa.Enum('proposed', 'approved', 'refused', 'claimed', 'paid',
                                    'expired', name='reward_status', native_enum=False,
                                    create_constraint=True, length=32), nullable=False),
        sa.Column('proposed_by_id', sa.Integer(), nullable=False),
        sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=False),
        sa.Column('claim_by', sa.Date(), nullable=True),
        sa.Column('identity_checked_by_id', sa.Integer(), nullable=True),
        sa.Column('identity_checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('staff_declared', sa.Boolean(), nullable=False),
        sa.Column('paid_on', sa.Date(), nullable=True),
        sa.Column('payment_method', sa.String(length=16), nullable=False),
        sa.Column('paid_by_id', sa.Integer(), nullable=True),
        sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(status IN ('approved', 'claimed', 'paid', 'expired')) "
                           "= (amount IS NOT NULL AND claim_by IS NOT NULL)",
                           name=op.f('ck_rewards_approved_has_amount')),
        sa.CheckConstraint('amount IS NULL OR amount BETWEEN amount_min AND amount_max',
                           name=op.f('ck_rewards_amount_in_band')),
        sa.CheckConstraint("(status = 'proposed') = (decided_at IS NULL)",
                           name=op.f('ck_rewards_decided_has_time')),
        sa.CheckConstraint("(status IN ('claimed', 'paid')) = (identity_checked_at IS NOT NULL)",
                           name=op.f('ck_rewards_claimed_was_checked')),
        sa.CheckConstraint('identity_checked_at IS NULL OR staff_declared',
                           name=op.f('ck_rewards_claim_declared_not_staff')),
        sa.CheckConstraint("(status = 'paid') = (paid_on IS NOT NULL AND payment_method <> '')",
                           name=op.f('ck_rewards_paid_has_date')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                                name=op.f('fk_rewards_case_id_cases')),
        sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_rewards_tip_id_tips')),
        sa.ForeignKeyConstraint(['proposed_by_id'], ['users.id'],
                                name=op.f('fk_rewards_proposed_by_id_users')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'],
                                name=op.f('fk_rewards_decided_by_id_users')),
        sa.ForeignKeyConstraint(['identity_checked_by_id'], ['users.id'],
                                name=op.f('fk_rewards_identity_checked_by_id_users')),
        sa.ForeignKeyConstraint(['paid_by_id'], ['users.id'],
                                name=op.f('fk_rewards_paid_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rewards')),
        sa.UniqueConstraint('tip_id', name=op.f('uq_rewards_tip_id')),
    )
    op.create_index(op.f('ix_rewards_case_id'), 'rewards', ['case_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_rewards_case_id'), table_name='rewards')
    op.drop_table('rewards')
