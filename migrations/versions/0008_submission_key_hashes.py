"""tips: submission keys as keyed hashes; when a reporter withdrew their identity

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01

A tip's ``submission_key`` was the form's token in clear, and the confirmation URL carried it:
an access log tied the reporter's address to the tip. From now on the column holds
``identity.submission_hash(RECEIPT_KEY, key)`` (computed here as it was then); the existing clear keys are hashed in place with
the ``RECEIPT_KEY`` of the settings the migration runs under (``portal.config.load_settings``,
as ``migrations/env.py`` reads the database URL), so a form resubmitted within 24 hours still
finds its tip. Run it with the deployment's ``PORTAL_RECEIPT_KEY``, as every receipt code
depends on that key anyway. Where the settings cannot be loaded (a bare ``alembic`` run given
only a URL), the old keys are nulled instead: they serve only resubmits within 24 hours. The hashes cannot be turned back: the downgrade leaves them (the
old code would not find them, so a resubmit would then make a second tip).

``identity_withdrawn_at`` records that a reporter withdrew their name and phone.
"""
import hashlib
import hmac
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from portal.config import ConfigError, load_settings

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HASH_LENGTH = 64

# As portal.domain.reporting.identity.submission_hash computed it when this was written.
SUBMISSION_LABEL = b"submission-key\x00"

tips = sa.table('tips', sa.column('id', sa.Integer), sa.column('submission_key', sa.String))


def upgrade() -> None:
    with op.batch_alter_table('tips') as batch:
        batch.add_column(sa.Column('identity_withdrawn_at', sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    clear = connection.execute(
        sa.select(tips.c.id, tips.c.submission_key).where(
            tips.c.submission_key.is_not(None),
            sa.func.length(tips.c.submission_key) < HASH_LENGTH)).all()
    if not clear:
        return
    try:
        key = load_settings()["RECEIPT_KEY"]
    except ConfigError:
        op.execute(sa.update(tips).where(tips.c.id.in_([tip_id for tip_id, _ in clear]))
                   .values(submission_key=None))
        return
    for tip_id, submission_key in clear:
        hashed = hmac.new(key.encode(), SUBMISSION_LABEL + submission_key.encode(),
                          hashlib.sha256).hexdigest()
        connection.execute(sa.update(tips).where(tips.c.id == tip_id).values(
            submission_key=hashed))


def downgrade() -> None:
    with op.batch_alter_table('tips') as batch:
        batch.drop_column('identity_withdrawn_at')
