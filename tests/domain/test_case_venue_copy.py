"""A case's copy of its unit's venue type (the public venue filter's index, migration 0017)
follows the unit: set when the case opens or moves to another unit, moved when the unit's
venue type changes, whichever session or request does it."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.domain.disclosure import publication
from portal.domain.models import Case, Unit
from tests import factories

pytestmark = pytest.mark.usefixtures("app")


def _stored(session: Session, case: Case) -> int | None:
    session.flush()
    return session.execute(text("SELECT venue_type_id FROM cases WHERE id = :id"),
                           {"id": case.id}).scalar()


def test_a_case_takes_its_units_venue_type_and_follows_it(db_session: Session) -> None:
    shop, workshop = (factories.venue_type(db_session, c)
                      for c in ("street_shop", "family_workshop"))
    unit = Unit(name="王记超市", normalized_name="王记超市",
                village=factories.village(db_session), venue_type=shop)
    case = factories.make_case(db_session, unit=unit)
    other = factories.make_case(db_session, unit=unit)
    assert _stored(db_session, case) == _stored(db_session, other) == shop.id

    unit.venue_type_id = workshop.id  # the unit is corrected: every case of it follows
    assert _stored(db_session, case) == _stored(db_session, other) == workshop.id

    bare = Unit(name="无类型小店", normalized_name="无类型小店",
                village=factories.village(db_session))
    db_session.add(bare)
    db_session.flush()
    case.unit_id = bare.id  # moved to another unit (a merge): it takes that unit's
    assert _stored(db_session, case) is None and _stored(db_session, other) == workshop.id


def test_the_public_venue_filter_reads_the_copy(db_session: Session) -> None:
    shop, workshop = (factories.venue_type(db_session, c)
                      for c in ("street_shop", "family_workshop"))
    case = factories.make_case(db_session, unit=Unit(
        name="李记饭店", normalized_name="李记饭店", village=factories.village(db_session),
        venue_type=shop))
    db_session.flush()
    query = publication._filtered(select(Case.id), publication.DisclosureFilters(
        venue_type_id=workshop.id))
    assert case.id not in db_session.scalars(query).all()
    case.unit.venue_type = workshop
    db_session.flush()
    assert case.id in db_session.scalars(query).all()
