"""The plan's three targets, measured on a seeded ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.enums import Severity
from portal.domain.supervision import goals, ledger
from tests.domain.supervision_helpers import case_at, seed_ledger

pytestmark = pytest.mark.usefixtures("app")


def test_the_three_targets(db_session: Session) -> None:
    seed_ledger(db_session)
    in_2025 = dt.datetime(2025, 5, 1, 2, tzinfo=dt.UTC)
    case_at(db_session, "rectifying", severity=Severity.MAJOR, created_at=in_2025)
    case_at(db_session, "closed", severity=Severity.MAJOR, created_at=in_2025)
    case_at(db_session, "rectifying", created_at=in_2025)  # not major: not counted
    result = goals.plan_goals(db_session, utcnow())

    # Found by the end of 2023 and still open: the one old major hazard not yet closed.
    assert result.stock_open.value == 1
    assert result.stock_deadline_passed and not result.stock_met
    assert (result.increment.value, result.increment_before.value) == (2, 0)
    assert not result.increment_curbed
    # Open now: the two seeded open major hazards and the open one from 2025.
    assert result.open_now.value == 3
    assert len(result.series) == goals.SERIES_MONTHS + 1
    # At every past month-end within the year: both 2023 hazards (one closed only today)
    # and the two 2025 ones (one closed only today).
    assert [f.value for f in result.series[:-1]] == [4] * goals.SERIES_MONTHS
    for figure in result.series:
        assert ledger.count(db_session, figure.filter) == figure.value
    assert all(f.filter.open_on is not None for f in result.series[:-1])
