"""inspections and the register of places: rounds, tasks, random draws, self-checks, warnings

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02

Issue 22. Units become the register of places (底数): they gain the responsible person and
contact (encrypted), a risk level, where the portal first knew them, the census file's own
reference, the unit a duplicate was merged into, and when they were last edited. Every
existing unit keeps its row, is "normal" risk and comes from a report. Tips gain the unit a
field filing names; cases gain whether they were imported from an existing ledger and the
key that makes a re-import change nothing (existing cases: not imported, no key). Photos
gain the inspection task they were taken on. Users may be grid inspectors (网格员). New
tables: inspection rounds and their tasks, random draws, self-check codes and self-checks,
risk warnings.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from portal.migrate import set_enum_values, sqlite_rebuild

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMPTY = sa.text("''")
OLD_ROLES = ('admin', 'moderator', 'supervisor', 'officer')
NEW_ROLES = (*OLD_ROLES, 'grid_inspector')
OLD_DEPARTMENT_RULE = "(role = 'officer') = (department_id IS NOT NULL)"
NEW_DEPARTMENT_RULE = f"role = 'grid_inspector' OR {OLD_DEPARTMENT_RULE}"


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable column referencing ``target.id``, with its named foreign key."""
    fk = f"fk_{table}_{column}_{target}"
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a referencing column in place (no table rebuild), naming its constraint.
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
                   f"CONSTRAINT {fk} REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(fk), table, target, [column], ['id'])


def _fk(column: str, target: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f'{target}.id'],
                                   name=op.f(f'fk_{table}_{column}_{target}'))


def _set_department_rule(old: str, new: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        def edit(sql: str) -> str:
            if sql.count(old) != 1:
                raise RuntimeError(f"unexpected definition of users, cannot apply 0023: {sql}")
            return sql.replace(old, new)
        sqlite_rebuild('users', edit)
        return
    op.drop_constraint(op.f('ck_users_officer_has_department'), 'users', type_='check')
    op.create_check_constraint(op.f('ck_users_officer_has_department'), 'users', new)


def upgrade() -> None:
    op.add_column('units', sa.Column('responsible_enc', sa.LargeBinary(), nullable=True))
    op.add_column('units', sa.Column('contact_enc', sa.LargeBinary(), nullable=True))
    op.add_column('units', sa.Column('risk_level', sa.String(length=16), nullable=False,
                                     server_default=sa.text("'normal'")))
    op.add_column('units', sa.Column('source', sa.String(length=16), nullable=False,
                                     server_default=sa.text("'report'")))
    op.add_column('units', sa.Column('census_ref', sa.String(length=64), nullable=False,
                                     server_default=EMPTY))
    _add_reference('units', 'merged_into_id', 'units')
    op.add_column('units', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    _add_reference('tips', 'unit_id', 'units')
    op.add_column('cases', sa.Column('imported', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column('cases', sa.Column('import_key', sa.String(length=64), nullable=True))
    op.create_index(op.f('ix_cases_import_key'), 'cases', ['import_key'], unique=True)
    set_enum_values('users', 'user_role', 'role', OLD_ROLES, NEW_ROLES)
    # A grid inspector may serve a village committee's department.
    _set_department_rule(OLD_DEPARTMENT_RULE, NEW_DEPARTMENT_RULE)

    op.create_table(
        'inspection_rounds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('township_id', sa.Integer(), nullable=False),
        sa.Column('kind', _enum('round_kind', 'round', 'random'), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=True),
        sa.Column('venue_type_ids', sa.JSON(), nullable=False),
        sa.Column('village_ids', sa.JSON(), nullable=False),
        sa.Column('department_ids', sa.JSON(), nullable=False),
        sa.Column('inspector_ids', sa.JSON(), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        _fk('township_id', 'townships', 'inspection_rounds'),
        _fk('department_id', 'departments', 'inspection_rounds'),
        _fk('created_by_id', 'users', 'inspection_rounds'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_rounds')),
    )
    op.create_index(op.f('ix_inspection_rounds_township_id'), 'inspection_rounds',
                    ['township_id'])
    op.create_table(
        'inspection_tasks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('inspector_id', sa.Integer(), nullable=True),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('status', _enum('task_status', 'open', 'done', 'cancelled'), nullable=False),
        sa.Column('result', _enum('task_result', 'passed', 'corrected', 'finding', 'not_found'),
                  nullable=True),
        sa.Column('checklist_code', sa.String(length=32), nullable=False),
        sa.Column('checklist_version', sa.Integer(), nullable=False),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('lat', sa.Float(), nullable=True),
        sa.Column('lon', sa.Float(), nullable=True),
        sa.Column('location_source', sa.String(length=16), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completed_by_id', sa.Integer(), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('publication', _enum('publication', 'none', 'pending', 'approved', 'refused'),
                  nullable=False),
        sa.Column('published_by_id', sa.Integer(), nullable=True),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("(status = 'done') = (completed_at IS NOT NULL AND result IS NOT NULL)",
                           name=op.f('ck_inspection_tasks_done_has_result')),
        sa.CheckConstraint("result IS NULL OR result <> 'finding' OR case_id IS NOT NULL",
                           name=op.f('ck_inspection_tasks_finding_has_case')),
        _fk('round_id', 'inspection_rounds', 'inspection_tasks'),
        _fk('unit_id', 'units', 'inspection_tasks'),
        _fk('inspector_id', 'users', 'inspection_tasks'),
        _fk('completed_by_id', 'users', 'inspection_tasks'),
        _fk('case_id', 'cases', 'inspection_tasks'),
        _fk('published_by_id', 'users', 'inspection_tasks'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_tasks')),
        sa.UniqueConstraint('round_id', 'unit_id',
                            name=op.f('uq_inspection_tasks_round_id_unit_id')),
    )
    op.create_index(op.f('ix_inspection_tasks_round_id'), 'inspection_tasks', ['round_id'])
    op.create_index(op.f('ix_inspection_tasks_unit_id'), 'inspection_tasks', ['unit_id'])
    op.create_index(op.f('ix_inspection_tasks_case_id'), 'inspection_tasks', ['case_id'])
    op.create_index(op.f('ix_inspection_tasks_inspector_id_status'), 'inspection_tasks',
                    ['inspector_id', 'status'])
    _add_reference('attachments', 'inspection_task_id', 'inspection_tasks')
    op.create_index(op.f('ix_attachments_inspection_task_id'), 'attachments',
                    ['inspection_task_id'])
    op.create_table(
        'random_draws',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('township_id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('seed', sa.String(length=64), nullable=False),
        sa.Column('weights', sa.JSON(), nullable=False),
        sa.Column('scope', sa.JSON(), nullable=False),
        sa.Column('unit_count', sa.Integer(), nullable=False),
        sa.Column('inspector_count', sa.Integer(), nullable=False),
        sa.Column('unit_ids', sa.JSON(), nullable=False),
        sa.Column('inspector_ids', sa.JSON(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=True),
        sa.Column('drawn_by_id', sa.Integer(), nullable=False),
        sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=False),
        _fk('township_id', 'townships', 'random_draws'),
        _fk('department_id', 'departments', 'random_draws'),
        _fk('round_id', 'inspection_rounds', 'random_draws'),
        _fk('drawn_by_id', 'users', 'random_draws'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_random_draws')),
    )
    op.create_index(op.f('ix_random_draws_township_id'), 'random_draws', ['township_id'])
    op.create_table(
        'self_check_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('cycle', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by_id', sa.Integer(), nullable=True),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        _fk('unit_id', 'units', 'self_check_codes'),
        _fk('created_by_id', 'users', 'self_check_codes'),
        _fk('revoked_by_id', 'users', 'self_check_codes'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_self_check_codes')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_self_check_codes_code_hash')),
    )
    op.create_index(op.f('ix_self_check_codes_unit_id'), 'self_check_codes', ['unit_id'])
    op.create_table(
        'self_checks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('code_id', sa.Integer(), nullable=False),
        sa.Column('checklist_code', sa.String(length=32), nullable=False),
        sa.Column('checklist_version', sa.Integer(), nullable=False),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.Column('problems', sa.Text(), nullable=False),
        sa.Column('fix_by', sa.Date(), nullable=True),
        sa.Column('fixed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('signer_enc', sa.LargeBinary(), nullable=True),
        sa.Column('commitment_version', sa.Integer(), nullable=False),
        sa.Column('commitment_text', sa.Text(), nullable=False),
        sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        _fk('unit_id', 'units', 'self_checks'),
        _fk('code_id', 'self_check_codes', 'self_checks'),
        _fk('case_id', 'cases', 'self_checks'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_self_checks')),
        sa.UniqueConstraint('code_id', name=op.f('uq_self_checks_code_id')),
    )
    op.create_index(op.f('ix_self_checks_unit_id'), 'self_checks', ['unit_id'])
    op.create_table(
        'risk_warnings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('township_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('venue_type_ids', sa.JSON(), nullable=False),
        sa.Column('village_ids', sa.JSON(), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sms_count', sa.Integer(), nullable=False),
        _fk('township_id', 'townships', 'risk_warnings'),
        _fk('created_by_id', 'users', 'risk_warnings'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_warnings')),
    )
    op.create_index(op.f('ix_risk_warnings_township_id'), 'risk_warnings', ['township_id'])


def _drop_reference(table: str, column: str, target: str) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f(f'fk_{table}_{column}_{target}'), table, type_='foreignkey')
    op.drop_column(table, column)


def downgrade() -> None:
    op.drop_index(op.f('ix_risk_warnings_township_id'), table_name='risk_warnings')
    op.drop_table('risk_warnings')
    op.drop_index(op.f('ix_self_checks_unit_id'), table_name='self_checks')
    op.drop_table('self_checks')
    op.drop_index(op.f('ix_self_check_codes_unit_id'), table_name='self_check_codes')
    op.drop_table('self_check_codes')
    op.drop_index(op.f('ix_random_draws_township_id'), table_name='random_draws')
    op.drop_table('random_draws')
    op.drop_index(op.f('ix_attachments_inspection_task_id'), table_name='attachments')
    # Inspection photos have no owner without their tasks: they go with them.
    op.execute("DELETE FROM attachments WHERE inspection_task_id IS NOT NULL")
    _drop_reference('attachments', 'inspection_task_id', 'inspection_tasks')
    for index in ('inspector_id_status', 'case_id', 'unit_id', 'round_id'):
        op.drop_index(op.f(f'ix_inspection_tasks_{index}'), table_name='inspection_tasks')
    op.drop_table('inspection_tasks')
    op.drop_index(op.f('ix_inspection_rounds_township_id'), table_name='inspection_rounds')
    op.drop_table('inspection_rounds')
    # Grid inspectors have no role before this revision: one serving a department becomes
    # a switched-off officer of it; one serving none has no role to become.
    conn = op.get_bind()
    left = conn.execute(sa.text("SELECT username FROM users WHERE role = 'grid_inspector' "
                                "AND department_id IS NULL")).scalars().all()
    if left:
        raise RuntimeError("grid inspectors without a department have no role before 0023; "
                           f"delete or change these accounts first: {', '.join(left)}")
    op.execute("UPDATE users SET active = false, role = 'officer' WHERE role = 'grid_inspector'")
    _set_department_rule(NEW_DEPARTMENT_RULE, OLD_DEPARTMENT_RULE)
    set_enum_values('users', 'user_role', 'role', NEW_ROLES, OLD_ROLES)
    op.drop_index(op.f('ix_cases_import_key'), table_name='cases')
    op.drop_column('cases', 'import_key')
    op.drop_column('cases', 'imported')
    _drop_reference('tips', 'unit_id', 'units')
    _drop_reference('units', 'merged_into_id', 'units')
    for column in ('updated_at', 'census_ref', 'source', 'risk_level', 'contact_enc',
                   'responsible_enc'):
        op.drop_column('units', column)
