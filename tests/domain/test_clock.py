"""The local zone and "today" are PORTAL_TIMEZONE's for every domain call, whether or not the
caller passes ``tz=``: the app factory hands the setting to the one clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from portal import create_app
from portal.domain import clock
from portal.domain.casework import sla
from portal.domain.enums import CaseStatus
from portal.domain.models import Case
from tests.conftest import TEST_FIELD_KEY, TEST_SECRET


@pytest.fixture
def restore_zone() -> Iterator[None]:
    before = clock.local_zone()
    yield
    clock.configure(before.key)


def test_create_app_sets_the_zone_every_domain_call_uses(
    restore_zone: None, database_url: str, tmp_path
) -> None:
    create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
                "UPLOAD_DIR": str(tmp_path), "FIELD_KEYS": TEST_FIELD_KEY,
                "TIMEZONE": "America/New_York"})
    assert clock.local_zone().key == "America/New_York"
    # 02:00 UTC on 1 June is still 31 May in New York, already 1 June in China.
    moment = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    assert clock.local_today(moment) == dt.date(2026, 5, 31)
    assert clock.local_today(moment, tz="Asia/Shanghai") == dt.date(2026, 6, 1)
    assert clock.format_local(moment) == "2026-05-31 22:00"
    assert clock.end_of_local_day(dt.date(2026, 5, 31)) == dt.datetime(
        2026, 6, 1, 3, 59, 59, tzinfo=dt.UTC)


def test_overdue_without_tz_follows_the_setting(
    restore_zone: None, db_session: Session
) -> None:
    case = Case(status=CaseStatus.RECTIFYING, rectify_by=dt.date(2026, 5, 31))
    moment = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    clock.configure("America/New_York")  # still 31 May there: due today, not late
    assert not sla.is_overdue(case, moment)
    clock.configure("Asia/Shanghai")  # already 1 June: late
    assert sla.is_overdue(case, moment)
