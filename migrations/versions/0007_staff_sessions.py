"""staff sessions: signed-in sessions kept in the database; a TOTP code works once

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

``staff_sessions`` holds one row per signed-in back-office session; the session cookie names
its row and the user loader checks it on every request, so signing out (which deletes the row),
"sign out everywhere" and a role or department change end a session on the server, and a copy
of the cookie taken earlier no longer works. ``users.totp_last_step`` remembers the time step of
the last accepted authenticator code, so a code is refused the second time.

Existing users and their rows are kept as they are and can sign in as before. Sessions signed
in before the upgrade have no row, so the upgrade signs every staff member out once.

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_staff_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_sessions'))
    )
    op.create_index(op.f('ix_staff_sessions_user_id'), 'staff_sessions', ['user_id'], unique=False)
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('totp_last_step')
    op.drop_index(op.f('ix_staff_sessions_user_id'), table_name='staff_sessions')
    op.drop_table('staff_sessions')
