"""townships: the county's townships, and who and what belongs to which

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

The deployment becomes a county of townships (issue 18). ``townships`` is new; villages
belong to one (NOT NULL), tips, units and cases through their village. Departments belong to
the county (``township_id`` NULL) or to a township and serve the townships listed in
``department_townships``. Staff accounts, API keys, routing rules, bulletins and urging
notices gain a ``township_id`` (NULL: the county's). Urging notices are numbered per issuing
office and year, so the (year, seq) unique constraint becomes a unique index on
(coalesce(township_id, 0), year, seq). The category and department tallies gain the village,
so a township's figures are sums over its villages; they are recounted from the cases.

Upgrading a single-township database: if it holds any village, department or account, one
township is created, named after the jurisdiction setting's name (code ``t1``; loading a
county file later finds it by that name), and every existing village, department, account,
API key, routing rule, bulletin and urging notice lands in it, so its staff keep their logins,
roles and everything they saw. The jurisdiction setting becomes the county's: its name is the
old ``county`` when one was given, and the township keeps the office and penalty departments.
"""
import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from portal.migrate import sqlite_rebuild

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAD_STATES = "('pending', 'accepted', 'completed')"
OWNED = ('users', 'api_keys', 'routing_rules', 'bulletins', 'urging_notices')


def _setting(conn: sa.Connection) -> dict[str, Any]:
    value = conn.execute(sa.text("SELECT value FROM settings WHERE key = 'jurisdiction'")
                         ).scalar()
    if isinstance(value, str):
        value = json.loads(value)
    return dict(value or {})


def _first_township(conn: sa.Connection) -> int | None:
    """The township every existing row lands in; None for an empty database."""
    has_rows = any(conn.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()
                   for table in ('villages', 'departments', 'users'))
    if not has_rows:
        return None
    juris = _setting(conn)
    name = juris.get('name') or '本乡镇'
    conn.execute(sa.text(
        "INSERT INTO townships (code, name, active, sort_order, office_department, "
        "penalty_department, contact) VALUES ('t1', :name, true, 0, :office, :penalty, "
        ":contact)"), {
            'name': name, 'office': juris.get('office_department') or '',
            'penalty': juris.get('penalty_department') or '',
            'contact': juris.get('contact') or ''})
    if juris:
        county = dict(juris, name=juris.get('county') or name)
        conn.execute(sa.text("UPDATE settings SET value = :value WHERE key = 'jurisdiction'")
                     .bindparams(sa.bindparam('value', type_=sa.JSON())), {'value': county})
    return int(conn.execute(sa.text("SELECT id FROM townships WHERE code = 't1'")).scalar_one())


def _name_after_first_township(conn: sa.Connection) -> None:
    """The jurisdiction setting becomes the (first) township's again, as it was before the
    upgrade, so upgrading once more names the township as before; the county stays."""
    first = conn.execute(sa.text(
        "SELECT name, office_department, penalty_department FROM townships "
        "ORDER BY sort_order, id LIMIT 1")).first()
    juris = _setting(conn)
    if first is None or not juris:
        return
    township = dict(juris, name=first.name, county=juris.get('county') or juris.get('name'))
    for key in ('office_department', 'penalty_department'):
        if getattr(first, key):
            township[key] = getattr(first, key)
    conn.execute(sa.text("UPDATE settings SET value = :value WHERE key = 'jurisdiction'")
                 .bindparams(sa.bindparam('value', type_=sa.JSON())), {'value': township})


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _add_township_column(table: str, *, index: bool = True) -> None:
    """A plain ADD COLUMN, no table rebuild: on SQLite, rebuilding a table that other rows
    reference cannot be done inside the migration's transaction (dropping the old table
    leaves the children's references counted as broken until the commit, which then fails;
    PRAGMA foreign_keys cannot be switched off inside a transaction)."""
    if _sqlite():  # SQLite takes the reference inline in ADD COLUMN, not as a constraint
        op.execute(f"ALTER TABLE {table} ADD COLUMN township_id INTEGER "
                   f"CONSTRAINT fk_{table}_township_id_townships REFERENCES townships (id)")
    else:
        op.add_column(table, sa.Column(
            'township_id', sa.Integer(),
            sa.ForeignKey('townships.id', name=op.f(f'fk_{table}_township_id_townships')),
            nullable=True))
    if index:
        op.create_index(op.f(f'ix_{table}_township_id'), table, ['township_id'], unique=False)


def _drop_township_column(table: str, *, index: bool = True) -> None:
    if index:
        op.drop_index(op.f(f'ix_{table}_township_id'), table_name=table)
    if _sqlite():
        sqlite_rebuild(table, lambda sql: _edited(
            sql, re.escape(_SQLITE_COLUMN.format(table=table).replace(" NOT NULL", "")).replace(
                "INTEGER", "INTEGER(?: NOT NULL)?"), ""))
        return
    op.drop_constraint(op.f(f'fk_{table}_township_id_townships'), table, type_='foreignkey')
    op.drop_column(table, 'township_id')


_SQLITE_COLUMN = (", township_id INTEGER CONSTRAINT fk_{table}_township_id_townships "
                  "REFERENCES townships (id)")
_UNIQUE_YEAR_SEQ = r",\s*CONSTRAINT uq_urging_notices_year_seq UNIQUE \(year, seq\)"


def _edited(sql: str, pattern: str, replacement: str) -> str:
    """``sql`` with ``pattern`` replaced once; a CREATE statement that does not read as this
    migration expects stops the upgrade rather than guessing."""
    new, n = re.subn(pattern, lambda _m: replacement, sql, count=1)
    if n != 1:
        raise RuntimeError(f"unexpected table definition, cannot apply 0012: {sql}")
    return new


def upgrade() -> None:
    op.create_table('townships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.Column('office_department', sa.String(length=32), nullable=False),
    sa.Column('penalty_department', sa.String(length=32), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_townships')),
    sa.UniqueConstraint('code', name=op.f('uq_townships_code'))
    )
    conn = op.get_bind()
    first = _first_township(conn)

    for table in ('villages', 'departments', *OWNED):
        _add_township_column(table, index=table != 'api_keys')
        if first is not None:
            conn.execute(sa.text(f"UPDATE {table} SET township_id = :t"), {'t': first})
    # Every village lies in a township; numbering runs per issuing office.
    if _sqlite():
        column = _SQLITE_COLUMN.format(table='villages')
        sqlite_rebuild('villages', lambda sql: _edited(
            sql, re.escape(column), column.replace("INTEGER", "INTEGER NOT NULL")))
        sqlite_rebuild('urging_notices', lambda sql: _edited(sql, _UNIQUE_YEAR_SEQ, ""))
    else:
        op.alter_column('villages', 'township_id', existing_type=sa.Integer(), nullable=False)
        op.drop_constraint(op.f('uq_urging_notices_year_seq'), 'urging_notices', type_='unique')
    op.create_index('uq_urging_notices_office_year_seq', 'urging_notices',
                    [sa.text('coalesce(township_id, 0)'), 'year', 'seq'], unique=True)

    op.create_table('department_townships',
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('township_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                            name=op.f('fk_department_townships_department_id_departments'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['township_id'], ['townships.id'],
                            name=op.f('fk_department_townships_township_id_townships'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('department_id', 'township_id', name=op.f('pk_department_townships'))
    )
    op.create_index(op.f('ix_department_townships_township_id'), 'department_townships',
                    ['township_id'], unique=False)
    if first is not None:
        conn.execute(sa.text("INSERT INTO department_townships (department_id, township_id) "
                             "SELECT id, :t FROM departments"), {'t': first})

    _retally(with_village=True)


def _retally(*, with_village: bool) -> None:
    """Recreate the category and department tallies, keyed with or without the village, and
    recount them from the cases (as ``tallies.rebuild`` does)."""
    op.drop_table('category_tallies')
    op.drop_table('department_tallies')
    def village() -> list[sa.Column[int]]:
        return [sa.Column('village_id', sa.Integer(), nullable=False)] if with_village else []

    key = ['village_id'] if with_village else []
    op.create_table('category_tallies',
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    *village(),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'],
                            name=op.f('fk_category_tallies_category_id_categories')),
    *([sa.ForeignKeyConstraint(['village_id'], ['villages.id'],
                               name=op.f('fk_category_tallies_village_id_villages'))]
      if with_village else []),
    sa.PrimaryKeyConstraint('category_id', 'status', 'outcome', *key,
                            name=op.f('pk_category_tallies'))
    )
    op.create_table('department_tallies',
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    *village(),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'],
                            name=op.f('fk_department_tallies_department_id_departments')),
    *([sa.ForeignKeyConstraint(['village_id'], ['villages.id'],
                               name=op.f('fk_department_tallies_village_id_villages'))]
      if with_village else []),
    sa.PrimaryKeyConstraint('department_id', 'status', *key,
                            name=op.f('pk_department_tallies'))
    )
    cv = ", cases.village_id" if with_village else ""
    v = ", village_id" if with_village else ""
    op.execute(
        f"INSERT INTO category_tallies (category_id, status, outcome{v}, n) "
        f"SELECT category_id, status, COALESCE(outcome, ''){v}, count(*) FROM cases "
        f"GROUP BY category_id, status, COALESCE(outcome, ''){v}")
    op.execute(
        f"INSERT INTO department_tallies (department_id, status{v}, n) "
        f"SELECT leads.department_id, cases.status{cv}, count(*) FROM "
        "(SELECT DISTINCT a.case_id, a.department_id FROM assignments a "
        f"WHERE a.role = 'lead' AND a.state IN {LEAD_STATES} AND NOT EXISTS ("
        "SELECT 1 FROM assignments later WHERE later.case_id = a.case_id "
        f"AND later.role = 'lead' AND later.state IN {LEAD_STATES} AND later.id > a.id)"
        ") AS leads JOIN cases ON cases.id = leads.case_id "
        f"GROUP BY leads.department_id, cases.status{cv}")


def downgrade() -> None:
    """Back to one township: the rows stay, what said which township they are in goes (a
    county of several townships cannot go back without losing that)."""
    _name_after_first_township(op.get_bind())
    _retally(with_village=False)
    op.drop_index(op.f('ix_department_townships_township_id'), table_name='department_townships')
    op.drop_table('department_townships')
    op.drop_index('uq_urging_notices_office_year_seq', table_name='urging_notices')
    if _sqlite():
        sqlite_rebuild('urging_notices', lambda sql: _edited(
            sql, r"\)\s*$", ", CONSTRAINT uq_urging_notices_year_seq UNIQUE (year, seq)\n)"))
    else:
        op.create_unique_constraint(op.f('uq_urging_notices_year_seq'), 'urging_notices',
                                    ['year', 'seq'])
    for table in (*reversed(OWNED), 'departments', 'villages'):
        _drop_township_column(table, index=table != 'api_keys')
    op.drop_table('townships')
