"""The ledger's one filter: what each filter selects, counts by key, and the exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from portal.domain.enums import CaseStatus, Severity, SupervisionLevel
from portal.domain.supervision import exports, ledger
from portal.domain.supervision.ledger import LedgerFilter, Overdue
from tests import factories
from tests.domain.supervision_helpers import seed_ledger

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def seeded(db_session: Session):
    return seed_ledger(db_session)


def selected(session: Session, f: LedgerFilter) -> set[int]:
    return {c.id for c in session.scalars(ledger.select_cases(f))}


def ids(cases, *names: str) -> set[int]:
    return {cases[name].id for name in names}


def test_each_filter_selects_exactly_its_cases(db_session: Session, seeded) -> None:
    s = seeded
    expectations = {
        LedgerFilter(overdue=Overdue.CHECK): ids(s, "routed_late", "checking_late"),
        LedgerFilter(overdue=Overdue.RECTIFY): ids(s, "rectify_late"),
        LedgerFilter(overdue=Overdue.ANY): ids(s, "routed_late", "checking_late",
                                               "rectify_late"),
        LedgerFilter(due_soon=True): ids(s, "routed_fresh", "rectify_soon"),
        LedgerFilter(severity=Severity.MAJOR, open_only=True):
            ids(s, "rectify_late", "open_major_old"),
        LedgerFilter(statuses=(CaseStatus.RECTIFYING,)):
            ids(s, "rectify_late", "rectify_soon", "rectify_later", "open_major_old"),
        LedgerFilter(department_id=factories.department(db_session, "POLICE").id):
            ids(s, "routed_fresh", "rectify_soon", "unfounded"),
        LedgerFilter(village_id=factories.village(db_session, "V03").id):
            ids(s, "checking_late", "rectify_soon"),
        LedgerFilter(venue_type_id=factories.venue_type(db_session, "restaurant").id):
            ids(s, "rectify_later"),
        LedgerFilter(category_id=factories.category(db_session, "blocked_escape").id):
            ids(s, "rectify_later"),
        LedgerFilter(created_to=dt.date(2023, 12, 31)): ids(s, "closed_major_old",
                                                            "open_major_old"),
        LedgerFilter(open_on=dt.date(2023, 12, 31), severity=Severity.MAJOR):
            ids(s, "closed_major_old", "open_major_old"),
    }
    for f, expected in expectations.items():
        assert selected(db_session, f) == expected, f
        assert ledger.count(db_session, f) == len(expected), f


def test_closed_cases_are_never_overdue_and_the_listed_filter_follows_the_level(
        db_session: Session, seeded) -> None:
    # Routing flags major hazards for township supervision; the filter follows the level.
    majors = ids(seeded, "rectify_late", "closed_major_old", "open_major_old")
    assert selected(db_session, LedgerFilter(listed=True)) == majors
    seeded["rectify_late"].supervision_level = SupervisionLevel.COUNTY
    db_session.flush()
    county = LedgerFilter(supervision=SupervisionLevel.COUNTY)
    assert selected(db_session, county) == ids(seeded, "rectify_late")
    closed = LedgerFilter(statuses=(CaseStatus.CLOSED,), overdue=Overdue.ANY)
    assert ledger.count(db_session, closed) == 0


def test_counts_by_key_equal_the_count_of_the_narrowed_filter(db_session: Session,
                                                               seeded) -> None:
    for base in (LedgerFilter(open_only=True), LedgerFilter(overdue=Overdue.ANY),
                 LedgerFilter()):
        for dimension, field in (("department", "department_id"), ("village", "village_id")):
            counts = ledger.counts_by(db_session, base, dimension)
            assert counts, (base, dimension)
            for key, number in counts.items():
                assert ledger.count(db_session, base.with_(**{field: key})) == number
        by_status = ledger.counts_by(db_session, base, "status")
        for status, number in by_status.items():
            assert ledger.count(db_session, base.with_(statuses=(status,))) == number


def test_a_filter_survives_the_query_string() -> None:
    f = LedgerFilter(statuses=(CaseStatus.ROUTED, CaseStatus.CHECKING), open_only=True,
                     department_id=3, village_id=4, category_id=5, venue_type_id=6,
                     severity=Severity.MAJOR, supervision=SupervisionLevel.CITY, listed=True,
                     overdue=Overdue.RECTIFY, due_soon=True, created_from=dt.date(2025, 1, 1),
                     created_to=dt.date(2025, 12, 31), closed_from=dt.date(2026, 1, 1),
                     closed_to=dt.date(2026, 2, 1), open_on=dt.date(2024, 12, 31),
                     sort="rectify_by", descending=False)
    assert LedgerFilter.from_args(MultiDict(f.to_args())) == f
    junk = LedgerFilter.from_args({"status": "nope", "department": "x", "overdue": "soon",
                                   "created_from": "2025-13-01", "sort": "drop table"})
    assert junk == LedgerFilter()


def test_export_rows_carry_chinese_labels_and_the_overdue_flag(db_session: Session,
                                                               seeded) -> None:
    rows = list(ledger.export_rows(db_session, LedgerFilter(overdue=Overdue.ANY)))
    assert len(rows) == 3
    assert all(len(row) == len(ledger.EXPORT_HEADERS) for row in rows)
    late = next(r for r in rows if r[0] == seeded["rectify_late"].id)
    assert late[5] == "重大隐患" and late[6] == "整改中" and late[-1] == "是"
    assert late[8] == factories.department(db_session, "FIRE").name


def _rows(count: int):
    for number in range(count):
        yield (number, f"单位{number}", "东村", "餐馆饭店", "电气线路铺设不规范", "一般隐患",
               "整改中", "未挂牌", "消防救援站", "2026-01-01 08:00", "", "2026-02-01", "", "否")


def test_csv_starts_with_a_bom_and_chinese_headers_and_streams() -> None:
    chunks = exports.csv_chunks(ledger.EXPORT_HEADERS, _rows(100_000))
    first = next(chunks)
    assert first.startswith(b"\xef\xbb\xbf")
    tracemalloc.start()
    total = len(first)
    lines = 1
    for chunk in chunks:
        total += len(chunk)
        lines += chunk.count(b"\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lines == 100_001
    assert peak < total / 20, (peak, total)  # a few chunks at a time, never the whole file
    header = next(csv.reader(io.StringIO(first.decode("utf-8-sig"))))
    assert tuple(header) == ledger.EXPORT_HEADERS


def _xlsx_peak(rows: int) -> tuple[int, bytes]:
    tracemalloc.start()
    data = b"".join(exports.xlsx_chunks(ledger.EXPORT_HEADERS, _rows(rows), "隐患台账"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, data


def test_xlsx_memory_does_not_grow_with_the_rows() -> None:
    """Write-only mode: four times the rows, about the same peak (the rows go to a temporary
    file as they come). 100,000 rows are timed in bench/, too slow for the suite here."""
    small, _ = _xlsx_peak(400)
    large, data = _xlsx_peak(1600)
    assert large < small * 1.5, (small, large)
    sheet = load_workbook(io.BytesIO(data), read_only=True)["隐患台账"]
    rows = sheet.iter_rows(values_only=True)
    assert next(rows) == ledger.EXPORT_HEADERS
    assert sum(1 for _ in rows) == 1600


def test_no_exported_cell_can_start_a_formula() -> None:
    evil = [(1, "=HYPERLINK(\"http://x\",\"点我\")", "+1", "-2", "@SUM(A1)", "正常单位")]
    body = b"".join(exports.csv_chunks(("编号", "a", "b", "c", "d", "e"), evil))
    row = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1]
    assert row == ["1", "'=HYPERLINK(\"http://x\",\"点我\")", "'+1", "'-2", "'@SUM(A1)",
                   "正常单位"]
    data = b"".join(exports.xlsx_chunks(("编号", "a", "b", "c", "d", "e"), evil))
    cells = list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))[1]
    assert cells[1] == "'=HYPERLINK(\"http://x\",\"点我\")" and cells[0] == 1


def test_figures_from_the_tallies_equal_counting_the_rows(db_session: Session, seeded) -> None:
    """Every filter the tallies answer gives what a scan of the cases gives, including the
    overdue ones (tallies minus the cases not yet due) and a department's breakdowns."""
    police = factories.department(db_session, "POLICE").id
    village = factories.village(db_session, "V03").id
    narrowings = [{}, {"village_id": village}, {"severity": Severity.MAJOR},
                  {"supervision": SupervisionLevel.TOWNSHIP}, {"listed": True},
                  {"department_id": police}]
    now = dt.datetime.now(dt.UTC)
    answered = 0
    for statuses in ((), (CaseStatus.ROUTED,), (CaseStatus.RECTIFYING, CaseStatus.CLOSED)):
        for open_only in (False, True):
            for overdue in ("", *Overdue):
                for narrowing in narrowings:
                    f = LedgerFilter(statuses=statuses, open_only=open_only, overdue=overdue,
                                     **narrowing)
                    quick = ledger._from_tallies(db_session, f, None, now, None)
                    assert quick is not None, f
                    answered += 1
                    assert quick == ledger._scan_count(db_session, f, now, None), f
                    for dimension in ("status", "village", "department"):
                        by = ledger._from_tallies(db_session, f, dimension, now, None)
                        if by is None:
                            continue
                        assert by == ledger._scan_counts_by(db_session, f, dimension, now,
                                                            None), (f, dimension)
    assert answered == 3 * 2 * (1 + len(Overdue)) * len(narrowings)
    # Filters the tallies cannot answer are counted from the rows.
    assert ledger._from_tallies(db_session, LedgerFilter(due_soon=True), None, now, None) is None
    assert ledger._from_tallies(
        db_session, LedgerFilter(department_id=police, village_id=village), None, now,
        None) is None
