"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29

The whole domain model of docs/DESIGN.md: jurisdiction tables, tips, units, cases, the
linkage trail, messages, urging notices, attachments, staff accounts and the audit chain.

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('needs_penalty', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_categories_code'))
    )
    op.create_table('settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_settings'))
    )
    op.create_table('venue_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_types')),
    sa.UniqueConstraint('code', name=op.f('uq_venue_types_code'))
    )
    op.create_table('villages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_villages')),
    sa.UniqueConstraint('code', name=op.f('uq_villages_code'))
    )
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.Enum('safety_office', 'fire_station', 'police_station', 'law_enforcement', 'market_supervision', 'emergency', 'housing', 'cultural_relics', 'education', 'health', 'civil_affairs', 'village_committee', 'other', name='department_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_departments_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('code', name=op.f('uq_departments_code'))
    )
    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('normalized_name', sa.String(length=100), nullable=False),
    sa.Column('venue_type_id', sa.Integer(), nullable=True),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['venue_type_id'], ['venue_types.id'], name=op.f('fk_units_venue_type_id_venue_types')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_units_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units'))
    )
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_units_normalized_name'), ['normalized_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_units_village_id_normalized_name'), ['village_id', 'normalized_name'], unique=False)

    op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('venue_type_id', sa.Integer(), nullable=True),
    sa.Column('village_id', sa.Integer(), nullable=True),
    sa.Column('lead_department_id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_routing_rules_category_id_categories')),
    sa.ForeignKeyConstraint(['lead_department_id'], ['departments.id'], name=op.f('fk_routing_rules_lead_department_id_departments')),
    sa.ForeignKeyConstraint(['venue_type_id'], ['venue_types.id'], name=op.f('fk_routing_rules_venue_type_id_venue_types')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_routing_rules_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules'))
    )
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_rules_active_category_id'), ['active', 'category_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('role', sa.Enum('admin', 'moderator', 'supervisor', 'officer', name='user_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('totp_secret', sa.String(length=256), nullable=True),
    sa.Column('totp_required', sa.Boolean(), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(role = 'officer') = (department_id IS NOT NULL)", name=op.f('ck_users_officer_has_department')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_users_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_department_id'), ['department_id'], unique=False)

    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_log_actor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_log_hash'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action_created_at'), ['action', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_actor_id_created_at'), ['actor_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_object_type_object_id'), ['object_type', 'object_id'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('web', 'phone', 'visit', 'grid', 'api', 'inspection', name='case_channel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('severity', sa.Enum('general', 'major', name='severity', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('triage', 'routed', 'checking', 'rectifying', 'rectified', 'closed', name='case_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('outcome', sa.Enum('rectified', 'unfounded', name='case_outcome', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('internal_summary', sa.Text(), nullable=False),
    sa.Column('public_summary', sa.Text(), nullable=False),
    sa.Column('supervision_level', sa.Enum('none', 'township', 'county', 'city', 'province', name='supervision_level', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('routed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('check_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rectify_by', sa.Date(), nullable=True),
    sa.Column('rectify_notice_no', sa.String(length=64), nullable=False),
    sa.Column('rectified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('follow_up_by', sa.Date(), nullable=True),
    sa.Column('disclosed', sa.Boolean(), nullable=False),
    sa.Column('disclosed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL AND outcome IS NOT NULL)", name=op.f('ck_cases_closed_has_time_and_outcome')),
    sa.CheckConstraint("outcome IS NULL OR outcome <> 'rectified' OR confirmed_at IS NOT NULL", name=op.f('ck_cases_rectified_outcome_is_confirmed')),
    sa.CheckConstraint("status IN ('triage', 'routed') OR routed_at IS NOT NULL", name=op.f('ck_cases_worked_is_routed')),
    sa.CheckConstraint("status NOT IN ('rectifying', 'rectified') OR confirmed_at IS NOT NULL", name=op.f('ck_cases_rectifying_is_confirmed')),
    sa.CheckConstraint('NOT disclosed OR (disclosed_at IS NOT NULL AND confirmed_at IS NOT NULL)', name=op.f('ck_cases_disclosed_is_confirmed')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_cases_category_id_categories')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_cases_created_by_id_users')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_cases_unit_id_units')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_cases_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_category_id_status'), ['category_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_disclosed_disclosed_at'), ['disclosed', 'disclosed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_severity_status'), ['severity', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status_check_by'), ['status', 'check_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status_id'), ['status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_status_rectify_by'), ['status', 'rectify_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_supervision_level_status'), ['supervision_level', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_village_id_status'), ['village_id', 'status'], unique=False)

    op.create_table('routing_rule_assists',
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_routing_rule_assists_department_id_departments')),
    sa.ForeignKeyConstraint(['rule_id'], ['routing_rules.id'], name=op.f('fk_routing_rule_assists_rule_id_routing_rules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('rule_id', 'department_id', name=op.f('pk_routing_rule_assists'))
    )
    op.create_table('urging_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('seq > 0', name=op.f('ck_urging_notices_seq_positive')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_urging_notices_department_id_departments')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_urging_notices_issued_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_urging_notices')),
    sa.UniqueConstraint('year', 'seq', name=op.f('uq_urging_notices_year_seq'))
    )
    with op.batch_alter_table('urging_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_urging_notices_department_id_issued_at'), ['department_id', 'issued_at'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('lead', 'assist', name='assignment_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('state', sa.Enum('pending', 'accepted', 'returned', 'transferred', 'withdrawn', 'completed', name='assignment_state', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('routed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('routed_by_id', sa.Integer(), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_by_id', sa.Integer(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_by_id', sa.Integer(), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=False),
    sa.Column('transferred_to_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state <> 'accepted' OR accepted_at IS NOT NULL", name=op.f('ck_assignments_accepted_has_time')),
    sa.CheckConstraint("state NOT IN ('returned', 'transferred') OR end_reason <> ''", name=op.f('ck_assignments_return_has_reason')),
    sa.CheckConstraint("state NOT IN ('returned', 'transferred', 'withdrawn', 'completed') OR ended_at IS NOT NULL", name=op.f('ck_assignments_ended_has_time')),
    sa.ForeignKeyConstraint(['accepted_by_id'], ['users.id'], name=op.f('fk_assignments_accepted_by_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_assignments_case_id_cases')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_assignments_department_id_departments')),
    sa.ForeignKeyConstraint(['ended_by_id'], ['users.id'], name=op.f('fk_assignments_ended_by_id_users')),
    sa.ForeignKeyConstraint(['routed_by_id'], ['users.id'], name=op.f('fk_assignments_routed_by_id_users')),
    sa.ForeignKeyConstraint(['transferred_to_id'], ['assignments.id'], name=op.f('fk_assignments_transferred_to_id_assignments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_department_id_state'), ['department_id', 'state'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('opened', 'tip_linked', 'routed', 'accepted', 'returned', 'transferred', 'check_confirmed', 'check_unfounded', 'deadline_set', 'progress', 'extension_requested', 'extension_decided', 'rectification_reported', 'sent_back', 'closed', 'follow_up_ok', 'reopened', 'severity_changed', 'supervision_changed', 'urged', 'disclosed', 'disclosure_withdrawn', 'note', name='case_event_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('internal_text', sa.Text(), nullable=False),
    sa.Column('public_text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_case_events_actor_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_case_events_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id_created_at'), ['case_id', 'created_at'], unique=False)

    op.create_table('tips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('web', 'phone', 'visit', 'grid', 'api', 'inspection', name='channel', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'accepted', 'rejected', 'merged', name='tip_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('venue_type_id', sa.Integer(), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('unit_name', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reporter_name_enc', sa.LargeBinary(), nullable=True),
    sa.Column('reporter_phone_enc', sa.LargeBinary(), nullable=True),
    sa.Column('wants_feedback', sa.Boolean(), nullable=False),
    sa.Column('receipt_hash', sa.String(length=64), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=True),
    sa.Column('reject_reason', sa.Enum('spam', 'duplicate', 'out_of_scope', 'insufficient', name='reject_reason', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('reject_message', sa.Text(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name=op.f('ck_tips_decided_tip_has_time')),
    sa.CheckConstraint("(status = 'rejected') = (reject_reason IS NOT NULL)", name=op.f('ck_tips_rejected_has_reason')),
    sa.CheckConstraint("(status IN ('accepted', 'merged')) = (case_id IS NOT NULL)", name=op.f('ck_tips_decided_tip_has_case')),
    sa.CheckConstraint("channel <> 'inspection'", name=op.f('ck_tips_inspection_is_not_a_tip')),
    sa.CheckConstraint('(lat IS NULL) = (lon IS NULL) AND (lat IS NULL OR (lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180))', name=op.f('ck_tips_coordinates_valid')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_tips_case_id_cases')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_tips_category_id_categories')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_tips_created_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_tips_decided_by_id_users')),
    sa.ForeignKeyConstraint(['venue_type_id'], ['venue_types.id'], name=op.f('fk_tips_venue_type_id_venue_types')),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_tips_village_id_villages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tips')),
    sa.UniqueConstraint('receipt_hash', name=op.f('uq_tips_receipt_hash')),
    sa.UniqueConstraint('submission_key', name=op.f('uq_tips_submission_key'))
    )
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tips_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tips_status_created_at'), ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tips_village_id_category_id_created_at'), ['village_id', 'category_id', 'created_at'], unique=False)

    op.create_table('urging_notice_cases',
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_urging_notice_cases_case_id_cases')),
    sa.ForeignKeyConstraint(['notice_id'], ['urging_notices.id'], name=op.f('fk_urging_notice_cases_notice_id_urging_notices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('notice_id', 'case_id', name=op.f('pk_urging_notice_cases'))
    )
    with op.batch_alter_table('urging_notice_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_urging_notice_cases_case_id'), ['case_id'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tip_id', sa.Integer(), nullable=False),
    sa.Column('direction', sa.Enum('to_reporter', 'from_reporter', name='message_direction', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_messages_author_id_users')),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_messages_tip_id_tips')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_tip_id_created_at'), ['tip_id', 'created_at'], unique=False)

    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('thumbnail_name', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.Enum('photo', 'document', name='attachment_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('withheld', sa.Boolean(), nullable=False),
    sa.Column('derived_from_id', sa.Integer(), nullable=True),
    sa.Column('tip_id', sa.Integer(), nullable=True),
    sa.Column('case_event_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(CASE WHEN tip_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN case_event_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN message_id IS NULL THEN 0 ELSE 1 END) <= 1', name=op.f('ck_attachments_one_owner')),
    sa.CheckConstraint('size_bytes >= 0', name=op.f('ck_attachments_size_not_negative')),
    sa.ForeignKeyConstraint(['case_event_id'], ['case_events.id'], name=op.f('fk_attachments_case_event_id_case_events')),
    sa.ForeignKeyConstraint(['derived_from_id'], ['attachments.id'], name=op.f('fk_attachments_derived_from_id_attachments')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_attachments_message_id_messages')),
    sa.ForeignKeyConstraint(['tip_id'], ['tips.id'], name=op.f('fk_attachments_tip_id_tips')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_attachments_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_attachments_stored_name'))
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_case_event_id'), ['case_event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachments_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachments_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachments_tip_id'), ['tip_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_tip_id'))
        batch_op.drop_index(batch_op.f('ix_attachments_sha256'))
        batch_op.drop_index(batch_op.f('ix_attachments_message_id'))
        batch_op.drop_index(batch_op.f('ix_attachments_case_event_id'))

    op.drop_table('attachments')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_tip_id_created_at'))

    op.drop_table('messages')
    with op.batch_alter_table('urging_notice_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_urging_notice_cases_case_id'))

    op.drop_table('urging_notice_cases')
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tips_village_id_category_id_created_at'))
        batch_op.drop_index(batch_op.f('ix_tips_status_created_at'))
        batch_op.drop_index(batch_op.f('ix_tips_case_id'))

    op.drop_table('tips')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id_created_at'))

    op.drop_table('case_events')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_department_id_state'))
        batch_op.drop_index(batch_op.f('ix_assignments_case_id'))

    op.drop_table('assignments')
    with op.batch_alter_table('urging_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_urging_notices_department_id_issued_at'))

    op.drop_table('urging_notices')
    op.drop_table('routing_rule_assists')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_village_id_status'))
        batch_op.drop_index(batch_op.f('ix_cases_unit_id'))
        batch_op.drop_index(batch_op.f('ix_cases_supervision_level_status'))
        batch_op.drop_index(batch_op.f('ix_cases_status_rectify_by'))
        batch_op.drop_index(batch_op.f('ix_cases_status_id'))
        batch_op.drop_index(batch_op.f('ix_cases_status_check_by'))
        batch_op.drop_index(batch_op.f('ix_cases_severity_status'))
        batch_op.drop_index(batch_op.f('ix_cases_disclosed_disclosed_at'))
        batch_op.drop_index(batch_op.f('ix_cases_created_at'))
        batch_op.drop_index(batch_op.f('ix_cases_category_id_status'))

    op.drop_table('cases')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_object_type_object_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_created_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor_id_created_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action_created_at'))

    op.drop_table('audit_log')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_department_id'))

    op.drop_table('users')
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_rules_active_category_id'))

    op.drop_table('routing_rules')
    with op.batch_alter_table('units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_units_village_id_normalized_name'))
        batch_op.drop_index(batch_op.f('ix_units_normalized_name'))

    op.drop_table('units')
    op.drop_table('departments')
    op.drop_table('villages')
    op.drop_table('venue_types')
    op.drop_table('settings')
    op.drop_table('categories')
