"""The register's one rule for "the same place" (issue 22): reports, filings and imports all
find their unit through ``register.match_unit``."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from portal.domain.inspection import register
from tests import factories

pytestmark = pytest.mark.usefixtures("app")


def test_the_same_name_in_a_village_is_the_same_place_unless_the_addresses_differ(
    db_session: Session,
) -> None:
    village = factories.village(db_session)
    shop = register.unit_for(db_session, village_id=village.id, name="张三 小卖部",
                             address="东街1号")
    assert register.match_unit(db_session, village_id=village.id, name="张三小卖部",
                               address="东街 1 号") is shop
    assert register.match_unit(db_session, village_id=village.id, name="张三小卖部") is shop
    # Another shop of that name on another street is another place.
    assert register.match_unit(db_session, village_id=village.id, name="张三小卖部",
                               address="西街8号") is None
    other = register.unit_for(db_session, village_id=village.id, name="张三小卖部",
                              address="西街8号", source="census")
    assert other is not shop and other.source == "census"
    # A unit merged into another is never matched again.
    other.merged_into_id = shop.id
    db_session.flush()
    assert register.match_unit(db_session, village_id=village.id, name="张三小卖部",
                               address="西街8号") is None
    # Another village's unit of that name is another place.
    assert register.match_unit(db_session, village_id=factories.village(db_session, "V02").id,
                               name="张三小卖部") is None
