"""background jobs: a queue table taken by the worker

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

``jobs`` holds long work (a large ledger export) queued by a view and run by
``flask --app wsgi jobs work`` (issue 19, portal/domain/jobs.py): which handler and with what,
where it stands, the attempts, the worker holding it, and what came of it. The (status,
run_after) index is the worker's lookup for the next job due. No existing row changes.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'done', 'failed', name='job_status',
                                native_enum=False, create_constraint=True, length=32),
              nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_by', sa.String(length=128), nullable=True),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status <> 'running' OR locked_at IS NOT NULL",
                       name=op.f('ck_jobs_running_locked')),
    sa.CheckConstraint("status NOT IN ('done', 'failed') OR finished_at IS NOT NULL",
                       name=op.f('ck_jobs_finished_stamped')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                            name=op.f('fk_jobs_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    op.create_index(op.f('ix_jobs_created_by_id'), 'jobs', ['created_by_id'], unique=False)
    op.create_index(op.f('ix_jobs_status_run_after'), 'jobs', ['status', 'run_after'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_jobs_status_run_after'), table_name='jobs')
    op.drop_index(op.f('ix_jobs_created_by_id'), table_name='jobs')
    op.drop_table('jobs')
