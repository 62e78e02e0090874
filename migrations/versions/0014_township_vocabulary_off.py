"""townships switch shared categories and venue types off for themselves

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

The county keeps the shared vocabularies (categories with their time limits, venue types); a
township may switch an entry off for itself (issue 18: "a township may deactivate entries for
itself"). Two association tables name the entries a township does not use; an entry off in a
township is not offered on its forms and filters and a report naming it there is refused. No
existing row changes: every township uses every active entry until it says otherwise.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('township_categories_off',
    sa.Column('township_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'],
                            name=op.f('fk_township_categories_off_category_id_categories'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['township_id'], ['townships.id'],
                            name=op.f('fk_township_categories_off_township_id_townships'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('township_id', 'category_id',
                            name=op.f('pk_township_categories_off'))
    )
    op.create_index(op.f('ix_township_categories_off_category_id'), 'township_categories_off',
                    ['category_id'], unique=False)
    op.create_table('township_venue_types_off',
    sa.Column('township_id', sa.Integer(), nullable=False),
    sa.Column('venue_type_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['township_id'], ['townships.id'],
                            name=op.f('fk_township_venue_types_off_township_id_townships'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['venue_type_id'], ['venue_types.id'],
                            name=op.f('fk_township_venue_types_off_venue_type_id_venue_types'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('township_id', 'venue_type_id',
                            name=op.f('pk_township_venue_types_off'))
    )
    op.create_index(op.f('ix_township_venue_types_off_venue_type_id'),
                    'township_venue_types_off', ['venue_type_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_township_venue_types_off_venue_type_id'),
                  table_name='township_venue_types_off')
    op.drop_table('township_venue_types_off')
    op.drop_index(op.f('ix_township_categories_off_category_id'),
                  table_name='township_categories_off')
    op.drop_table('township_categories_off')
