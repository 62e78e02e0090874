"""case tallies: running counts for whole-ledger figures

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

``case_tallies``, ``category_tallies`` and ``department_tallies`` hold the number of cases per combination of the
dimensions the dashboard and the statistics cut by; the application keeps them exact in the
transaction of every change (portal/domain/tallies.py). Upgrading counts the existing cases
once. The (severity, status) index gains created_at and closed_at, so that the plan's goals
(major hazards open at each month end) are counted from the index alone; tips.created_at and
cases.confirmed_at get indexes for the statistics' months.

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAD_STATES = "('pending', 'accepted', 'completed')"


def upgrade() -> None:
    op.create_table('case_tallies',
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=32), nullable=False),
    sa.Column('supervision_level', sa.String(length=32), nullable=False),
    sa.Column('disclosed', sa.Boolean(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_case_tallies_village_id_villages')),
    sa.PrimaryKeyConstraint('status', 'outcome', 'severity', 'supervision_level', 'disclosed', 'village_id', name=op.f('pk_case_tallies'))
    )
    op.create_table('category_tallies',
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_category_tallies_category_id_categories')),
    sa.PrimaryKeyConstraint('category_id', 'status', 'outcome', name=op.f('pk_category_tallies'))
    )
    op.create_table('department_tallies',
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_department_tallies_department_id_departments')),
    sa.PrimaryKeyConstraint('department_id', 'status', name=op.f('pk_department_tallies'))
    )
    op.execute(
        "INSERT INTO case_tallies (status, outcome, severity, supervision_level, disclosed, "
        "village_id, n) SELECT status, COALESCE(outcome, ''), severity, supervision_level, "
        "disclosed, village_id, count(*) FROM cases GROUP BY status, COALESCE(outcome, ''), "
        "severity, supervision_level, disclosed, village_id")
    op.execute(
        "INSERT INTO category_tallies (category_id, status, outcome, n) "
        "SELECT category_id, status, COALESCE(outcome, ''), count(*) FROM cases "
        "GROUP BY category_id, status, COALESCE(outcome, '')")
    op.execute(
        "INSERT INTO department_tallies (department_id, status, n) "
        "SELECT leads.department_id, cases.status, count(*) FROM "
        "(SELECT DISTINCT case_id, department_id FROM assignments "
        f"WHERE role = 'lead' AND state IN {LEAD_STATES}) AS leads "
        "JOIN cases ON cases.id = leads.case_id GROUP BY leads.department_id, cases.status")
    # Plain index operations: no batch mode, so SQLite never copies the cases table.
    op.drop_index(op.f('ix_cases_severity_status'), table_name='cases')
    op.create_index(op.f('ix_cases_severity_status_created_at_closed_at'), 'cases',
                    ['severity', 'status', 'created_at', 'closed_at'], unique=False)
    # The statistics' months: tips received and hazards confirmed, counted on a range each.
    op.create_index(op.f('ix_tips_created_at'), 'tips', ['created_at'], unique=False)
    op.create_index(op.f('ix_cases_confirmed_at'), 'cases', ['confirmed_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_cases_confirmed_at'), table_name='cases')
    op.drop_index(op.f('ix_tips_created_at'), table_name='tips')
    op.drop_index(op.f('ix_cases_severity_status_created_at_closed_at'), table_name='cases')
    op.create_index(op.f('ix_cases_severity_status'), 'cases', ['severity', 'status'],
                    unique=False)
    op.drop_table('department_tallies')
    op.drop_table('category_tallies')
    op.drop_table('case_tallies')
