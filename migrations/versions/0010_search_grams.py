"""search index of the public disclosures: documents and character grams

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

``search_documents`` holds each disclosed case's public text (unit name, public address,
public summary; masked and normalised) and ``search_grams`` every character and adjacent pair
of it, on an ordinary (gram, disclosed_at, case_id) index: the public search looks the
query's grams up there and checks the candidates with an exact LIKE (issue 19,
portal/domain/disclosure/search.py). Upgrading indexes the cases disclosed now, in batches,
so an upgraded database searches at once; no existing row changes.

The backfill calls the domain's pure string functions (``search.normalize``,
``search.grams_of``, ``redaction.mask_personal_data``) and restates, on plain columns, the two
lines of ``publication.public_location`` it needs (a home shows only its village; a business
its village and masked address) and the residential venue types as of this revision: a
migration must not load ORM models, whose columns follow the newest schema.
tests/test_migration_0010.py checks that the result equals the domain's own index. Should the
searchable text ever change, ``flask --app wsgi search rebuild`` (or a later migration calling
it) rewrites the index.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
# portal.domain.disclosure.publication.RESIDENTIAL_VENUE_TYPES at this revision.
HOMES = frozenset({"self_built_business", "family_workshop", "old_residential",
                   "经营性自建房", "家庭作坊", "老旧住宅"})


def upgrade() -> None:
    op.create_table('search_documents',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'],
                            name=op.f('fk_search_documents_case_id_cases'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_search_documents'))
    )
    op.create_table('search_grams',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('gram', sa.String(length=2), nullable=False),
    sa.Column('disclosed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_search_grams_case_id_cases'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'gram', name=op.f('pk_search_grams'))
    )
    op.create_index(op.f('ix_search_grams_gram_disclosed_at_case_id'), 'search_grams',
                    ['gram', 'disclosed_at', 'case_id'], unique=False)
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    from portal.domain.disclosure.redaction import mask_personal_data
    from portal.domain.disclosure.search import FIELD_SEPARATOR, grams_of, normalize

    documents = sa.table('search_documents', sa.column('case_id'), sa.column('text'))
    grams = sa.table('search_grams', sa.column('case_id'), sa.column('gram'),
                     sa.column('disclosed_at'))
    query = sa.text(
        "SELECT cases.id, cases.disclosed_at, cases.public_summary, units.name, "
        "units.address, venue_types.code, venue_types.name, villages.name "
        "FROM cases JOIN units ON units.id = cases.unit_id "
        "LEFT JOIN venue_types ON venue_types.id = units.venue_type_id "
        "LEFT JOIN villages ON villages.id = units.village_id "
        "WHERE cases.disclosed AND cases.disclosed_at IS NOT NULL "
        "AND cases.confirmed_at IS NOT NULL AND cases.id > :last ORDER BY cases.id LIMIT :n")
    last = 0
    while True:
        rows = conn.execute(query, {"last": last, "n": BATCH}).all()
        if not rows:
            return
        document_rows, gram_rows = [], []
        for case_id, at, summary, name, address, code, venue, village in rows:
            home = bool({code, venue} & HOMES)
            where = " ".join(p for p in (village or "", "" if home
                                         else mask_personal_data(address)) if p)
            text = FIELD_SEPARATOR.join(normalize(f) for f in (
                mask_personal_data(name), where, mask_personal_data(summary)))
            document_rows.append({"case_id": case_id, "text": text})
            gram_rows += [{"case_id": case_id, "gram": g, "disclosed_at": at}
                          for g in sorted(grams_of(text))]
        conn.execute(sa.insert(documents), document_rows)
        conn.execute(sa.insert(grams), gram_rows)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index(op.f('ix_search_grams_gram_disclosed_at_case_id'), table_name='search_grams')
    op.drop_table('search_grams')
    op.drop_table('search_documents')
