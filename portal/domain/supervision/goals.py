"""The plan's three targets (主要目标), measured on the ledger.

1. 存量: major hazards found up to the end of 2023 that are still open — zero by the end of
   2024. Beside it, the stock itself (open at the end of 2023) and how much of it was
   cleared (closed) by the end of 2024;
2. 增量: new major hazards found in 2025 — to be curbed (compared with 2024);
3. 动态清零: open major hazards over time — held at zero from the end of 2026.

Each figure is a ledger filter, so the panel links to exactly the cases it counts. A
township's goals are the same filters narrowed to the township.

"Found" is the case's ``created_at`` and "cleared" its ``closed_at``: for a case imported
from an existing hazard ledger (``inspection.history``) these are the ledger's dates of
discovery and of closure (销号), so the stock of 2023 is counted from the ledger's history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.clock import utcnow
from portal.domain.enums import Severity
from portal.domain.supervision import ledger

STOCK_FOUND_BY = dt.date(2023, 12, 31)
STOCK_CLEARED_BY = dt.date(2024, 12, 31)
INCREMENT_YEAR = 2025
ZERO_FROM = dt.date(2026, 12, 31)
SERIES_MONTHS = 12


@dataclass(frozen=True)
class Figure:
    label: str
    value: int
    filter: ledger.LedgerFilter


@dataclass(frozen=True)
class Goals:
    stock_open: Figure
    stock_total: Figure
    stock_cleared: Figure
    stock_deadline_passed: bool
    increment: Figure
    increment_before: Figure
    open_now: Figure
    series: list[Figure]
    zero_from: dt.date

    @property
    def stock_met(self) -> bool:
        return self.stock_open.value == 0

    @property
    def increment_curbed(self) -> bool:
        return self.increment.value <= self.increment_before.value


def _month_ends(today: dt.date, months: int) -> list[dt.date]:
    ends = []
    year, month = today.year, today.month
    for _ in range(months):
        first = dt.date(year, month, 1)
        ends.append(first - dt.timedelta(days=1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(ends)


def stock_filter(base: ledger.LedgerFilter | None = None) -> ledger.LedgerFilter:
    """Goal 1: major hazards found by the end of 2023 and still open."""
    return (base or ledger.LedgerFilter()).with_(severity=Severity.MAJOR, open_only=True,
                                                 created_to=STOCK_FOUND_BY)


def stock_total_filter(base: ledger.LedgerFilter | None = None) -> ledger.LedgerFilter:
    """The stock itself: major hazards open at the end of 2023."""
    return (base or ledger.LedgerFilter()).with_(severity=Severity.MAJOR,
                                                 open_on=STOCK_FOUND_BY)


def stock_cleared_filter(base: ledger.LedgerFilter | None = None) -> ledger.LedgerFilter:
    """Of the stock, those closed by the end of 2024 (the target's deadline)."""
    return stock_total_filter(base).with_(closed_to=STOCK_CLEARED_BY)


def increment_filter(base: ledger.LedgerFilter | None = None,
                     year: int = INCREMENT_YEAR) -> ledger.LedgerFilter:
    """Goal 2: major hazards found in ``year``."""
    return (base or ledger.LedgerFilter()).with_(severity=Severity.MAJOR,
                                                 created_from=dt.date(year, 1, 1),
                                                 created_to=dt.date(year, 12, 31))


def plan_goals(session: Session, now: dt.datetime | None = None,
               tz: str | ZoneInfo | None = None, township_id: int | None = None) -> Goals:
    """The goals for the county, or for one township (``township_id``)."""
    now = now or utcnow()
    today = clock.local_today(now, tz)
    major = ledger.LedgerFilter(severity=Severity.MAJOR, township_id=township_id)

    months = _month_ends(today, SERIES_MONTHS)
    filters = {
        "stock": stock_filter(major),
        "stock_total": stock_total_filter(major),
        "stock_cleared": stock_cleared_filter(major),
        "increment": increment_filter(major),
        "before": increment_filter(major, INCREMENT_YEAR - 1),
        **{f"{day:%Y-%m}": major.with_(open_on=day) for day in months},
        "当前": major.with_(open_only=True),
    }
    # One pass over the cases for all of them; each is still the ledger's own filter.
    values = dict(zip(filters, ledger.count_many(session, list(filters.values()), now, tz),
                      strict=True))

    def figure(key: str, label: str | None = None) -> Figure:
        return Figure(label or key, values[key], filters[key])

    series = [figure(f"{day:%Y-%m}") for day in months]
    series.append(figure("当前"))
    return Goals(
        stock_open=figure("stock", "2023年底前发现、仍未整改销案的重大火灾隐患"),
        stock_total=figure("stock_total", "2023年底存量重大火灾隐患"),
        stock_cleared=figure("stock_cleared", "其中2024年底前整改销案"),
        stock_deadline_passed=today > STOCK_CLEARED_BY,
        increment=figure("increment", f"{INCREMENT_YEAR}年新发现重大火灾隐患"),
        increment_before=figure("before", f"{INCREMENT_YEAR - 1}年新发现重大火灾隐患"),
        open_now=series[-1],
        series=series,
        zero_from=ZERO_FROM,
    )
