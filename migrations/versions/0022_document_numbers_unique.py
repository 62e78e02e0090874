"""a document number names one document of its kind per department, typed or generated

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02

Issue 20. A department that types its documents' numbers was checked by a query only, so two
officers typing the same number at the same moment could both pass; the unique constraint on
(department, kind, number) now decides, as (department, kind, year, seq) does for generated
numbers. Existing rows are kept; if two already share a number the migration stops and names
them (an admin corrects one by hand) instead of dropping either.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 'uq_case_documents_department_id_kind_number'


def upgrade() -> None:
    repeated = op.get_bind().execute(sa.text(
        "SELECT department_id, kind, number FROM case_documents "
        "GROUP BY department_id, kind, number HAVING count(*) > 1")).all()
    if repeated:
        raise RuntimeError("these document numbers are used twice; correct them first: "
                           + "; ".join(f"department {d}, {k}, {n}" for d, k, n in repeated))
    # No table refers to this one: SQLite's batch mode may copy it under a new constraint.
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.create_unique_constraint(NAME, ['department_id', 'kind', 'number'])


def downgrade() -> None:
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_='unique')
