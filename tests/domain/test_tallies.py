"""The running case counts: kept by every change, refused where they cannot be kept,
checked and rebuilt from the command line."""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.domain.enums import CaseStatus
from portal.domain.models import Case, CaseTally
from portal.domain.supervision import ledger, tallies
from tests.domain.supervision_helpers import seed_ledger

pytestmark = pytest.mark.usefixtures("app")


def test_a_status_change_moves_the_counts_and_a_rollback_moves_them_back(
        db_session: Session) -> None:
    cases = seed_ledger(db_session)
    open_cases = ledger.LedgerFilter(open_only=True)
    before = ledger.count(db_session, open_cases)
    nested = db_session.begin_nested()
    case = cases["rectify_soon"]
    case.status = CaseStatus.RECTIFIED
    db_session.flush()
    assert ledger.counts_by(db_session, open_cases, "status")[CaseStatus.RECTIFIED] >= 1
    nested.rollback()
    assert ledger.count(db_session, open_cases) == before
    assert tallies.differences(db_session.connection()) == {}


def test_a_bulk_update_of_cases_outside_tracked_is_refused(db_session: Session) -> None:
    seed_ledger(db_session)
    with pytest.raises(RuntimeError, match="tallies"):
        db_session.execute(update(Case).values(severity="major"))


def test_recount_check_finds_a_wrong_count_and_recount_repairs_it(db_session, runner) -> None:
    seed_ledger(db_session)
    assert runner.invoke(args=["ledger", "recount", "--check"]).exit_code == 0
    db_session.execute(update(CaseTally).values(n=CaseTally.n + 2))
    result = runner.invoke(args=["ledger", "recount", "--check"])
    assert result.exit_code == 1 and "统计计数与台账不一致" in result.output
    assert "记录" in result.output and "实际" in result.output
    result = runner.invoke(args=["ledger", "recount"])
    assert result.exit_code == 0 and "已重新计数" in result.output
    assert runner.invoke(args=["ledger", "recount", "--check"]).exit_code == 0
