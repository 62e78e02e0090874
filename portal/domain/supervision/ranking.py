"""The county's ranking of its townships (乡镇排名): the figures the county supervises each
township by, one row per township.

Every figure is read per township in one query for all townships (the tallies grouped by
township, or the ledger's ``counts_by(..., "township")``), never one query per township; each
count except the rectification rate is a ledger filter narrowed to the township, so a figure
links to exactly the cases it counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from portal.domain.administration import townships
from portal.domain.clock import utcnow
from portal.domain.disclosure.statistics import CONFIRMED
from portal.domain.supervision import goals, ledger, tallies

LedgerFilter = ledger.LedgerFilter

# The counted figures of a row: (key, label, the ledger filter before its township).
FIGURES: tuple[tuple[str, str, LedgerFilter], ...] = (
    ("check_overdue", "核查超期", LedgerFilter(overdue=ledger.Overdue.CHECK)),
    ("rectify_overdue", "整改超期", LedgerFilter(overdue=ledger.Overdue.RECTIFY)),
    ("clock_overdue", "文书、复查或报告超期", LedgerFilter(overdue=ledger.Overdue.CLOCK)),
    ("listed_open", "挂牌督办未销案", LedgerFilter(listed=True, open_only=True)),
    ("stock_open", "2023年底前重大隐患未销案", goals.stock_filter()),
    ("increment", f"{goals.INCREMENT_YEAR}年新发现重大隐患", goals.increment_filter()),
)


@dataclass(frozen=True)
class Figure:
    value: int
    filter: LedgerFilter


@dataclass(frozen=True)
class TownshipRow:
    # Plain values, not the ORM row: the dashboard caches the ranking across requests.
    township_id: int
    name: str
    figures: dict[str, Figure]
    # Of the cases a department confirmed (核查属实), those closed as rectified.
    rectified: int
    confirmed: int

    @property
    def rectification_rate(self) -> float | None:
        return round(100 * self.rectified / self.confirmed, 1) if self.confirmed else None

    @property
    def ledger(self) -> LedgerFilter:
        return LedgerFilter(township_id=self.township_id)


def township_ranking(session: Session, now: dt.datetime | None = None,
                     tz: str | ZoneInfo | None = None) -> list[TownshipRow]:
    """Every active township, most overdue (checks and rectifications) first, then the
    lowest rectification rate, then the township's own order."""
    now = now or utcnow()
    counts = {key: ledger.counts_by(session, f, "township", now, tz)
              for key, _label, f in FIGURES}
    (being, _), (closed, as_rectified) = CONFIRMED
    rectified = tallies.sums(session, closed, by="township", **as_rectified)
    being_rectified = tallies.sums(session, being, by="township")
    rows = [TownshipRow(
        township_id=township.id, name=township.name,
        figures={key: Figure(counts[key].get(township.id, 0), f.with_(township_id=township.id))
                 for key, _label, f in FIGURES},
        rectified=rectified.get(township.id, 0),
        confirmed=rectified.get(township.id, 0) + being_rectified.get(township.id, 0),
    ) for township in townships.active(session)]
    order = {row.township_id: at for at, row in enumerate(rows)}

    def rank(row: TownshipRow) -> tuple[int, float, int]:
        late = row.figures["check_overdue"].value + row.figures["rectify_overdue"].value
        rate = row.rectification_rate
        return (-late, 101.0 if rate is None else rate, order[row.township_id])

    return sorted(rows, key=rank)
