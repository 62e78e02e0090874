"""the whole legal clock: per-category check limits, case clocks, documents, unfounded review

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02

Issue 20. Categories carry their own §18 check limit (hours or working days; neither keeps
the legal maximum, so every existing category counts as before). The limits after the check
(§19 order, §20 re-inspection, §21 major-hazard report and notice, 87号 listing decision) are
rows of ``case_clocks``; the documents they require are ``case_documents``, numbered per
issuing department, kind and year. Departments say whether fire-supervision powers were
delegated to them and how they number documents (generated, the default, or typed in). Cases
gain the status ``unfounded``: a check that found the tip unfounded now waits for the
supervisor's review instead of closing the case; the cases already closed as unfounded stay
closed. The timeline gains the kinds of event these steps write. Existing rows are kept as they are; nothing is back-filled: a case routed before this
migration keeps the check-by it was given.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from portal.migrate import sqlite_rebuild

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ('triage', 'routed', 'checking', 'rectifying', 'rectified', 'closed')
NEW_STATUSES = ('triage', 'routed', 'checking', 'rectifying', 'rectified', 'unfounded',
                'closed')
OPEN = sa.text("met_at IS NULL AND cancelled_at IS NULL")


OLD_EVENTS = ('opened', 'tip_linked', 'routed', 'accepted', 'returned', 'transferred',
              'check_confirmed', 'check_unfounded', 'deadline_set', 'progress',
              'extension_requested', 'extension_decided', 'rectification_reported',
              'sent_back', 'closed', 'follow_up_ok', 'reopened', 'severity_changed',
              'supervision_changed', 'urged', 'disclosed', 'disclosure_withdrawn', 'note')
NEW_EVENTS = (*OLD_EVENTS, 'unfounded_approved', 'unfounded_refused', 'document_issued',
              'reinspection_applied', 'major_suspected', 'major_judged', 'expert_review')


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _set_values(table: str, constraint: str, column: str, old: Sequence[str],
                new: Sequence[str]) -> None:
    """Change the values an enum column's CHECK constraint allows."""
    name = f"ck_{table}_{constraint}"
    if op.get_bind().dialect.name == 'sqlite':
        # These tables are referenced by others: rebuilt in place (see sqlite_rebuild).
        def edit(sql: str) -> str:
            before = _in(column, old)
            if sql.count(before) != 1:
                raise RuntimeError(f"unexpected table definition, cannot apply 0019: {sql}")
            return sql.replace(before, _in(column, new))
        sqlite_rebuild(table, edit)
        return
    op.drop_constraint(op.f(name), table, type_='check')
    op.create_check_constraint(op.f(name), table, _in(column, new))


def upgrade() -> None:
    op.add_column('categories', sa.Column('check_hours', sa.Integer(), nullable=True))
    op.add_column('categories', sa.Column('check_working_days', sa.Integer(), nullable=True))
    op.add_column('departments', sa.Column('fire_powers_delegated', sa.Boolean(),
                                           nullable=False, server_default=sa.false()))
    op.add_column('departments', sa.Column('document_numbering', sa.String(length=16),
                                           nullable=False, server_default='auto'))
    op.add_column('departments', sa.Column('document_prefix', sa.String(length=32),
                                           nullable=False, server_default=sa.text("''")))
    _set_values('cases', 'case_status', 'status', OLD_STATUSES, NEW_STATUSES)
    _set_values('case_events', 'case_event_kind', 'kind', OLD_EVENTS, NEW_EVENTS)

    op.create_table(
        'case_clocks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('rule', sa.String(length=32), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('met_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('met_at IS NULL OR cancelled_at IS NULL',
                           name=op.f('ck_case_clocks_met_or_cancelled')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                                name=op.f('fk_case_clocks_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_clocks')),
    )
    op.create_index('ix_case_clocks_open_due', 'case_clocks', ['due_at', 'case_id'],
                    postgresql_where=OPEN, sqlite_where=OPEN)
    op.create_index(op.f('ix_case_clocks_case_id_rule'), 'case_clocks', ['case_id', 'rule'])

    op.create_table(
        'case_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=True),
        sa.Column('number', sa.String(length=64), nullable=False),
        sa.Column('issued_on', sa.Date(), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.CheckConstraint("seq IS NOT NULL OR number <> ''",
                           name=op.f('ck_case_documents_numbered')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                                name=op.f('fk_case_documents_case_id_cases')),
        sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                                name=op.f('fk_case_documents_department_id_departments')),
        sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'],
                                name=op.f('fk_case_documents_issued_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_documents')),
        sa.UniqueConstraint('department_id', 'kind', 'year', 'seq',
                            name=op.f('uq_case_documents_department_id_kind_year_seq')),
    )
    op.create_index(op.f('ix_case_documents_case_id'), 'case_documents', ['case_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_case_documents_case_id'), table_name='case_documents')
    op.drop_table('case_documents')
    op.drop_index(op.f('ix_case_clocks_case_id_rule'), table_name='case_clocks')
    op.drop_index('ix_case_clocks_open_due', table_name='case_clocks')
    op.drop_table('case_clocks')
    # A case waiting for its unfounded check's review is closed as unfounded, as it was.
    op.execute("UPDATE cases SET status = 'closed', outcome = 'unfounded', "
               "closed_at = COALESCE(checked_at, updated_at) WHERE status = 'unfounded'")
    op.execute("DELETE FROM case_events WHERE kind IN (" + ", ".join(
        f"'{k}'" for k in NEW_EVENTS if k not in OLD_EVENTS) + ")")
    _set_values('case_events', 'case_event_kind', 'kind', NEW_EVENTS, OLD_EVENTS)
    _set_values('cases', 'case_status', 'status', NEW_STATUSES, OLD_STATUSES)
    for column in ('document_prefix', 'document_numbering', 'fire_powers_delegated'):
        op.drop_column('departments', column)
    for column in ('check_working_days', 'check_hours'):
        op.drop_column('categories', column)
