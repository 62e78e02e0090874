"""Importing an existing hazard ledger with its real history (issue 22): the 2023 stock of
major hazards and its clearing, as the goal panel and the department review count them."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.access import accounts
from portal.domain.administration import townships
from portal.domain.enums import CaseEventKind, CaseStatus, Role, Severity
from portal.domain.inspection import history
from portal.domain.models import AuditLog, Case, CaseEvent, Unit, User
from portal.domain.supervision import goals, ledger, review
from tests import factories
from tests.admin.conftest import PASSWORD, fast_password_hashing  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("app")

HEADER = ["编号", "村", "单位名称", "地址", "场所类型", "隐患类别", "隐患等级", "隐患描述",
          "发现日期", "整改期限", "整改完成日期", "销号日期", "牵头部门"]
# Four major hazards found in 2023 and one general one: cleared in 2024 (A), cleared late (B),
# still open (C), closed within 2023 (E: not part of the stock at the end of 2023).
LEDGER = [
    ["2023-001", "阳高村（示例）", "阳高饭店", "东街1号", "", "wiring", "重大", "厨房电线私拉乱接",
     "2023-03-10", "2024-06-30", "2024-06-20", "2024-06-30", "FIRE"],
    ["2023-002", "东庄村（示例）", "东庄加工坊", "", "", "wiring", "重大", "彩钢板夹芯易燃",
     "2023-08-01", "2024-12-31", "2025-02-20", "2025-03-01", "阳高乡靠前驻防消防队"],
    ["2023-003", "阳高村（示例）", "阳高旅馆", "西街8号", "", "wiring", "重大隐患", "疏散通道堵塞",
     "2023-11-15", "2024-10-31", "", "", "FIRE"],
    ["2023-004", "阳高村（示例）", "阳高小卖部", "", "", "wiring", "一般", "灭火器过期",
     "2023-05-01", "2023-05-15", "2023-05-10", "2023-06-01", "FIRE"],
    ["2023-005", "西沟村（示例）", "西沟仓库", "", "", "wiring", "重大", "违规住人",
     "2023-02-01", "2023-06-30", "2023-06-01", "2023-10-01", "FIRE"],
]


def importer(session: Session) -> User:
    """The county's supervisor who imports (one per test)."""
    user = accounts.find_user(session, "history-sup") or accounts.create_user(
        session, "history-sup", Role.SUPERVISOR, PASSWORD)
    session.flush()
    return user


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER, encoding: str = "utf-8-sig"
              ) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        # Dates as real date cells, as a ledger kept in Excel has them.
        sheet.append([dt.date.fromisoformat(v) if len(v) == 10 and v[4] == "-" else v
                      for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(session: Session, data: bytes, name: str = "ledger.csv", *, dry_run: bool = False,
        user: User | None = None) -> history.ImportReport:
    table = history.read_table(data, name)
    return history.import_ledger(session, table, township=factories.township(session),
                                 actor=user or importer(session), filename=name,
                                 dry_run=dry_run)


def counts(session: Session) -> tuple[int, int, int, int]:
    return (session.scalar(select(func.count()).select_from(Case)) or 0,
            session.scalar(select(func.count()).select_from(CaseEvent)) or 0,
            session.scalar(select(func.count()).select_from(AuditLog)) or 0,
            session.scalar(select(func.count()).select_from(Unit)) or 0)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_ledger_of_2023_major_hazards_is_the_goal_panels_stock_and_its_clearing(
    db_session: Session, fmt: str
) -> None:
    before = goals.plan_goals(db_session)
    data = csv_bytes(LEDGER) if fmt == "csv" else xlsx_bytes(LEDGER)
    report = run(db_session, data, f"ledger.{fmt}")
    assert report.errors == [] and report.created == 5 and report.unchanged == 0

    after = goals.plan_goals(db_session)
    # At the end of 2023: A, B and C (E was closed within 2023); A cleared by the end of
    # 2024; C still open today.
    assert after.stock_total.value - before.stock_total.value == 3
    assert after.stock_cleared.value - before.stock_cleared.value == 1
    assert after.stock_open.value - before.stock_open.value == 1
    for figure in (after.stock_total, after.stock_cleared, after.stock_open):
        assert ledger.count(db_session, figure.filter) == figure.value

    cases = {c.unit.name: c for c in db_session.scalars(select(Case).where(Case.imported))}
    shop = cases["阳高饭店"]
    assert shop.severity is Severity.MAJOR and shop.status is CaseStatus.CLOSED
    assert shop.created_at.date() == dt.date(2023, 3, 10)
    assert shop.confirmed_at is not None and shop.confirmed_at.date() == dt.date(2023, 3, 10)
    assert shop.rectified_at is not None and shop.rectified_at.date() == dt.date(2024, 6, 20)
    assert shop.closed_at is not None and shop.closed_at.date() == dt.date(2024, 6, 30)
    assert shop.rectify_by == dt.date(2024, 6, 30) and shop.unit.source == "ledger"
    assert cases["阳高旅馆"].status is CaseStatus.RECTIFYING
    assert cases["阳高小卖部"].severity is Severity.GENERAL
    # The timeline runs at the ledger's dates, from the opening to the closure.
    kinds = [(e.kind, e.created_at.date()) for e in
             sorted(shop.events, key=lambda e: (e.created_at, e.id))]
    assert kinds[0] == (CaseEventKind.OPENED, dt.date(2023, 3, 10))
    assert kinds[-1] == (CaseEventKind.CLOSED, dt.date(2024, 6, 30))
    assert (CaseEventKind.SEVERITY_CHANGED, dt.date(2023, 3, 10)) in kinds


def test_importing_the_same_ledger_twice_changes_nothing(db_session: Session) -> None:
    user = importer(db_session)
    run(db_session, csv_bytes(LEDGER), user=user)
    cases, case_events, audit_rows, units = counts(db_session)
    totals = goals.plan_goals(db_session)

    again = run(db_session, csv_bytes(LEDGER), user=user)
    assert (again.created, again.unchanged) == (0, 5)
    # No case, event or unit more; the one new audit row is the import's own summary.
    assert counts(db_session) == (cases, case_events, audit_rows + 1, units)
    last = db_session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert last is not None and last.action == "history.import"
    assert last.after is not None and last.after["unchanged"] == 5
    assert goals.plan_goals(db_session).stock_total == totals.stock_total


def test_without_a_reference_column_a_row_is_matched_on_unit_category_and_day(
    db_session: Session,
) -> None:
    header = HEADER[1:]
    rows = [row[1:] for row in LEDGER[:2]]
    user = importer(db_session)
    assert run(db_session, csv_bytes(rows, header), user=user).created == 2
    # The same unit written differently is the same place; a new discovery day is a new row.
    rows[0][1] = "阳高 饭店"
    rows.append([*rows[1][:7], "2023-09-01", *rows[1][8:]])
    report = run(db_session, csv_bytes(rows, header), user=user)
    assert (report.created, report.unchanged) == (1, 2)


def test_a_reference_column_is_the_rows_identity(db_session: Session) -> None:
    user = importer(db_session)
    run(db_session, csv_bytes(LEDGER[:1]), user=user)
    # The ledger corrected the unit's name later: the same reference is the same row.
    renamed = [["2023-001", *LEDGER[0][1:2], "阳高大饭店", *LEDGER[0][3:]]]
    report = run(db_session, csv_bytes(renamed), user=user)
    assert (report.created, report.unchanged) == (0, 1)
    assert report.outcomes[0].case_id is not None


def test_a_dry_run_lists_the_rows_and_writes_nothing(db_session: Session) -> None:
    user = importer(db_session)
    run(db_session, csv_bytes(LEDGER[:2]), user=user)
    before = counts(db_session)
    report = run(db_session, csv_bytes(LEDGER), dry_run=True, user=user)
    assert report.dry_run and (report.created, report.unchanged) == (3, 2)
    assert [o.row.name for o in report.outcomes if o.created] == ["阳高旅馆", "阳高小卖部",
                                                                  "西沟仓库"]
    assert all(o.case_id is None for o in report.outcomes if o.created)
    assert "预览：将新建 3 件" in report.message
    assert counts(db_session) == before


def test_errors_are_named_by_row_and_column_and_nothing_is_imported(
    db_session: Session,
) -> None:
    rows = [list(LEDGER[0]), list(LEDGER[1]), list(LEDGER[2])]
    rows[0][1] = "不存在村"
    rows[1][8] = "去年春天"
    rows[2][6] = "特大"
    rows.append(list(LEDGER[2]))  # the same reference twice
    rows.append([*LEDGER[3], "北社乡（示例）"])  # another township's row
    before = counts(db_session)
    report = run(db_session, csv_bytes(rows, [*HEADER, "乡镇"]))
    messages = [str(e) for e in report.errors]
    assert any(m.startswith("第 2 行「村」") for m in messages)
    assert any(m.startswith("第 3 行「发现日期」") for m in messages)
    assert any(m.startswith("第 4 行「隐患等级」") for m in messages)
    assert any(m.startswith("第 5 行「编号」") and "第 4 行" in m for m in messages)
    assert any(m.startswith("第 6 行「乡镇」") for m in messages)
    assert report.outcomes == [] and "未导入任何记录" in report.message
    assert counts(db_session)[:2] == before[:2]


def test_a_stated_status_must_agree_with_the_dates(db_session: Session) -> None:
    header = [*HEADER, "状态"]
    rows = [[*LEDGER[2], "已销号"], [*LEDGER[0], "已销号"]]
    report = run(db_session, csv_bytes(rows, header))
    assert [(e.row, e.column) for e in report.errors] == [(2, "状态")]


def test_unreadable_files_are_refused_in_chinese(db_session: Session) -> None:
    with pytest.raises(history.LedgerFileError, match="缺少必填列"):
        history.read_table(csv_bytes([], ["单位名称"]), "a.csv")
    with pytest.raises(history.LedgerFileError, match="XLSX"):
        history.read_table(b"not a workbook", "a.xlsx")
    with pytest.raises(history.LedgerFileError, match=r"\.csv"):
        history.read_table(b"x", "a.txt")
    # GBK, as a ledger saved by Excel on a Chinese Windows is.
    table = history.read_table(csv_bytes(LEDGER[:1], encoding="gbk"), "a.csv")
    assert table[0]["单位名称"] == "阳高饭店"


def test_the_department_review_counts_imported_cases(db_session: Session) -> None:
    run(db_session, csv_bytes(LEDGER))
    fire = factories.department(db_session, "FIRE")
    rows = {r.department.id: r for r in review.review(
        db_session, dt.date(2024, 1, 1), dt.date(2024, 12, 31))}
    # Closed in 2024: A (led by the fire team); its rectification on time.
    assert rows[fire.id].closed == 1
    assert rows[fire.id].rectified_on_time >= 1
    in_2023 = {r.department.id: r for r in review.review(
        db_session, dt.date(2023, 1, 1), dt.date(2023, 12, 31))}
    assert in_2023[fire.id].assignments == 5


def test_a_row_the_workflow_refuses_undoes_the_whole_file(db_session: Session) -> None:
    # A township's supervisor cannot open cases in another township, whatever the domain
    # is called with: the refusal is named by row and the rows before it are undone.
    beishe = accounts.create_user(db_session, "history-beishe", Role.SUPERVISOR, PASSWORD,
                                  township_code="beishe")
    before = counts(db_session)
    report = run(db_session, csv_bytes(LEDGER[:2]), user=beishe)
    assert report.outcomes == [] and [e.row for e in report.errors] == [2]
    assert str(report.errors[0]).startswith("第 2 行：")
    assert counts(db_session) == before


def test_a_long_ledger_goes_in_by_uploads_of_the_same_file(db_session: Session) -> None:
    user = importer(db_session)
    table = history.read_table(csv_bytes(LEDGER), "ledger.csv")
    township = factories.township(db_session)
    first = history.import_ledger(db_session, table, township=township, actor=user, limit=2)
    assert (first.created, first.unchanged, first.remaining) == (2, 0, 3)
    assert "还有 3 行待导入" in first.message
    second = history.import_ledger(db_session, table, township=township, actor=user, limit=2)
    third = history.import_ledger(db_session, table, township=township, actor=user, limit=2)
    assert [(r.created, r.unchanged, r.remaining) for r in (second, third)] == [(2, 2, 1),
                                                                              (1, 4, 0)]
    assert db_session.scalar(select(func.count()).select_from(Case).where(Case.imported)) == 5


def test_without_a_lead_department_the_routing_rules_propose_one(db_session: Session) -> None:
    header = HEADER[:-1]
    rows = [LEDGER[0][:-1], LEDGER[3][:-1]]
    report = run(db_session, csv_bytes(rows, header), dry_run=True)
    major, general = (o.row for o in report.outcomes)
    # A major hazard is led by the township's major-hazard department, as when routed.
    duty = townships.duty_department(db_session, "major_hazard_department",
                                     factories.township(db_session))
    assert duty is not None and major.department_name == duty.name
    assert general.department_name
    report = run(db_session, csv_bytes(rows, header))
    case = db_session.get(Case, report.outcomes[0].case_id)
    assert case is not None and case.assignments[0].department.name == major.department_name
