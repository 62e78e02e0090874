"""Importing an existing hazard ledger (历史隐患台账) as cases with their real history.

A township's ledger (CSV or XLSX, the columns in ``COLUMNS``; docs/ledger-import.md) becomes
one case per row, marked ``imported``, dated as the ledger says: opened, routed to the lead
department and checked (confirmed) on the day of discovery, given its rectification deadline,
rectified and closed (销号) on the recorded days. The steps go through the workflow's own
writers — ``moderation.open_inspection_case`` to open (its opening then re-dated to the
day of discovery, in the same transaction), ``workflow.transition`` for every status change
and ``events.log_event`` for the deadline and the severity, both of which take the time of
the step — so the tallies (kept by the flush) and the timeline stay exact, and
each step writes its own audit row. The named steps (``record_check``, ``approve_closure``
…) are not called: they stamp the present time, check that the actor is the lead
department's officer or a moderator, start the legal clocks of a live case and notify the
departments, none of which is true of a hazard handled in 2023.

A row is matched to the register's unit through ``register.match_unit`` / ``unit_for`` (the
one rule), and to an earlier import through ``Case.import_key``: the row's own reference (编号)
where the row has one, else (unit, category, discovery date), hashed with the
township. A row already imported is left unchanged, so importing a ledger twice changes
nothing. Any error in the file imports nothing: the errors are named by row and column.

The dry run decides each row as the import does (``plan_row``, which only reads) and writes
nothing; an upload imports at most ``limit`` new rows, and the next upload of the same file
goes on from there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import clock
from portal.domain.access import audit
from portal.domain.casework import events, routing, workflow
from portal.domain.casework.events import WorkflowError
from portal.domain.enums import (
    AssignmentRole,
    AssignmentState,
    CaseEventKind,
    CaseStatus,
    Severity,
)
from portal.domain.inspection import register
from portal.domain.inspection.history_file import (
    COLUMNS,
    REQUIRED,
    LedgerFileError,
    cell_text,
    parse_date,
    read_table,
)
from portal.domain.inspection.tables import RowError
from portal.domain.models import (
    Assignment,
    Case,
    CaseEvent,
    Category,
    Department,
    Township,
    User,
    VenueType,
    Village,
)
from portal.domain.vetting import moderation
from portal.domain.vetting.moderation import ModerationError

# A ledger day becomes this local time of day (the ledger records days, not hours).
TIME_OF_DAY = dt.time(9, 0)

SEVERITY_WORDS = {
    "": Severity.GENERAL, "一般": Severity.GENERAL, "一般隐患": Severity.GENERAL,
    "一般火灾隐患": Severity.GENERAL, "重大": Severity.MAJOR, "重大隐患": Severity.MAJOR,
    "重大火灾隐患": Severity.MAJOR,
}
STATUS_WORDS = {
    "整改中": CaseStatus.RECTIFYING, "未整改": CaseStatus.RECTIFYING,
    "正在整改": CaseStatus.RECTIFYING, "已整改": CaseStatus.RECTIFIED,
    "整改完成": CaseStatus.RECTIFIED, "待销号": CaseStatus.RECTIFIED,
    "已销号": CaseStatus.CLOSED, "销号": CaseStatus.CLOSED, "已销案": CaseStatus.CLOSED,
}
IMPORT_NOTE = "历史台账导入"


@dataclass(frozen=True)
class LedgerRow:
    """One validated ledger row, its vocabulary resolved to ids."""

    row: int
    ref: str
    township_id: int
    village_id: int
    village_name: str
    name: str
    address: str
    venue_type_id: int | None
    category_id: int
    category_name: str
    severity: Severity
    description: str
    discovered: dt.date
    deadline: dt.date | None
    rectified: dt.date | None
    closed: dt.date | None
    department_id: int  # the ledger's lead department, else the routing rules' proposal
    department_name: str

    @property
    def status(self) -> CaseStatus:
        if self.closed:
            return CaseStatus.CLOSED
        return CaseStatus.RECTIFIED if self.rectified else CaseStatus.RECTIFYING


@dataclass(frozen=True)
class Outcome:
    row: LedgerRow
    created: bool  # a new case (in a dry run: would be); False: imported before, unchanged
    case_id: int | None  # None for a dry run's new rows and for rows left for later
    later: bool = False  # new, but beyond this upload's ``limit``: the next upload takes it


@dataclass
class ImportReport:
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    dry_run: bool = False

    @property
    def created(self) -> int:
        return sum(1 for o in self.outcomes if o.created)

    @property
    def unchanged(self) -> int:
        return sum(1 for o in self.outcomes if not o.created and not o.later)

    @property
    def remaining(self) -> int:
        return sum(1 for o in self.outcomes if o.later)

    @property
    def message(self) -> str:
        if self.errors:
            return f"台账有 {len(self.errors)} 处错误，未导入任何记录，请修改后重新上传"
        verb = "预览：将新建" if self.dry_run else "已新建"
        text = f"共 {self.rows} 行：{verb} {self.created} 件，已导入过、不变 {self.unchanged} 件"
        if self.remaining:
            text += f"；还有 {self.remaining} 行待导入，请再次上传同一文件继续"
        return text


# ---------------------------------------------------------------- validation


class _Vocabulary:
    """The names and codes a ledger may use, looked up once per import."""

    def __init__(self, session: Session, townships: Iterable[Township]) -> None:
        self.townships = {t.name: t for t in townships} | {t.code: t for t in townships}
        ids = {t.id for t in townships}
        villages = session.scalars(select(Village).where(Village.active.is_(True),
                                                         Village.township_id.in_(ids)))
        self.villages = {(v.township_id, key): v for v in villages for key in (v.name, v.code)}
        self.categories = _by_name_or_code(session.scalars(
            select(Category).where(Category.active.is_(True))))
        self.venues = _by_name_or_code(session.scalars(
            select(VenueType).where(VenueType.active.is_(True))))
        self.departments = _by_name_or_code(session.scalars(
            select(Department).where(Department.active.is_(True))))


def _by_name_or_code(rows: Iterable[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for row in rows:
        found.setdefault(row.code, row)
        found.setdefault(row.name, row)
    return found


def validate(session: Session, table: list[dict[str, Any]], *, township: Township,
             today: dt.date | None = None
             ) -> tuple[list[LedgerRow], list[RowError]]:
    """The rows resolved against the vocabulary, or the errors by row and column. ``乡镇``
    may name only ``township`` (the importer's choice): a ledger is one township's."""
    today = today or clock.local_today()
    vocabulary = _Vocabulary(session, [township])
    rows: list[LedgerRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for raw in table:
        number = raw["__row__"]
        row_errors: list[RowError] = []

        def fail(column: str, message: str, number: int = number,
                 row_errors: list[RowError] = row_errors) -> None:
            row_errors.append(RowError(number, column, message))

        def get(column: str, raw: dict[str, Any] = raw) -> str:
            return cell_text(raw.get(column))

        def day(column: str, raw: dict[str, Any] = raw) -> dt.date | None:
            try:
                value = parse_date(raw.get(column))
            except ValueError:
                fail(column, f"无法识别的日期“{cell_text(raw.get(column))}”，请写成 2023-05-01")
                return None
            if value is not None and column != "整改期限" and value > today:
                fail(column, "日期不能晚于今天")
            return value

        for column in REQUIRED:
            if not get(column):
                fail(column, "必填")
        if get("乡镇") and vocabulary.townships.get(get("乡镇")) is not township:
            fail("乡镇", f"本次导入的是{township.name}的台账，不能包含其他乡镇的记录")
        village = vocabulary.villages.get((township.id, get("村")))
        if get("村") and village is None:
            fail("村", f"{township.name}没有名为“{get('村')}”的村")
        category = vocabulary.categories.get(get("隐患类别"))
        if get("隐患类别") and category is None:
            fail("隐患类别", f"未知的隐患类别“{get('隐患类别')}”（填写类别名称或代码）")
        venue = vocabulary.venues.get(get("场所类型"))
        if get("场所类型") and venue is None:
            fail("场所类型", f"未知的场所类型“{get('场所类型')}”")
        department = vocabulary.departments.get(get("牵头部门"))
        if get("牵头部门") and department is None:
            fail("牵头部门", f"未知的部门“{get('牵头部门')}”（填写部门名称或代码）")
        elif department is not None and township.id not in {t.id for t in department.serves}:
            fail("牵头部门", f"{department.name}不负责{township.name}")
        severity = SEVERITY_WORDS.get(get("隐患等级"))
        if severity is None:
            fail("隐患等级", "请填写“一般”或“重大”")
        discovered, deadline = day("发现日期"), day("整改期限")
        rectified, closed = day("整改完成日期"), day("销号日期")
        if discovered and deadline and deadline < discovered:
            fail("整改期限", "整改期限不能早于发现日期")
        if discovered and rectified and rectified < discovered:
            fail("整改完成日期", "整改完成日期不能早于发现日期")
        before_closure = rectified or discovered
        if closed and before_closure and closed < before_closure:
            fail("销号日期", "销号日期不能早于整改完成日期或发现日期")
        derived = (CaseStatus.CLOSED if closed else
                   CaseStatus.RECTIFIED if rectified else CaseStatus.RECTIFYING)
        if get("状态"):
            stated = STATUS_WORDS.get(get("状态"))
            if stated is None:
                fail("状态", "请填写“整改中”“已整改”或“已销号”，或留空（按日期判断）")
            elif stated is not derived:
                fail("状态", f"与日期不符：按所填日期应为“{_STATUS_NAMES[derived]}”"
                             "（已销号须填销号日期，已整改须填整改完成日期）")
        ref = get("编号")
        # The same hazard twice in one file (by its reference, else by its place, category
        # and day) is a mistake to correct, not a second case.
        same = (f"ref:{ref}" if ref else
                "|".join((str(village.id if village else ""),
                          register.normalize_address(get("单位名称")),
                          register.normalize_address(get("地址")),
                          str(category.id if category else ""),
                          discovered.isoformat() if discovered else "")))
        if same in seen:
            fail("编号" if ref else "单位名称", f"与第 {seen[same]} 行是同一条隐患")
        seen.setdefault(same, number)
        if not row_errors and department is None:
            assert village is not None and category is not None and severity is not None
            try:
                department = routing.propose_routing(session, category, venue, village,
                                                     severity=severity).lead
            except WorkflowError as exc:
                fail("牵头部门", str(exc))
        if row_errors:
            errors.extend(row_errors)
            continue
        assert village is not None and category is not None and discovered is not None
        assert severity is not None and department is not None
        rows.append(LedgerRow(
            row=number, ref=ref, township_id=township.id, village_id=village.id,
            village_name=village.name, name=get("单位名称"), address=get("地址"),
            venue_type_id=venue.id if venue else None, category_id=category.id,
            category_name=category.name, severity=severity, description=get("隐患描述"),
            discovered=discovered, deadline=deadline, rectified=rectified, closed=closed,
            department_id=department.id, department_name=department.name))
    return rows, errors


_STATUS_NAMES = {CaseStatus.RECTIFYING: "整改中", CaseStatus.RECTIFIED: "已整改",
                 CaseStatus.CLOSED: "已销号"}


# ---------------------------------------------------------------- the import


def import_key(row: LedgerRow, unit_id: int | None) -> str:
    """The row's identity across imports (64 hex characters): its reference in the
    township's ledger, else (unit, category, discovery date)."""
    own = (f"ref:{row.ref}" if row.ref
           else f"row:{unit_id}:{row.category_id}:{row.discovered.isoformat()}")
    return hashlib.sha256(f"{row.township_id}|{own}".encode()).hexdigest()


def plan_row(session: Session, row: LedgerRow) -> int | None:
    """The case an earlier import made of the row, if any (None: the row is new). Reads only:
    the dry run lists what this says, and the import asks it again before each row."""
    if row.ref:
        return _existing(session, import_key(row, None))
    unit = register.match_unit(session, village_id=row.village_id, name=row.name,
                               address=row.address)
    return _existing(session, import_key(row, unit.id)) if unit else None


def import_ledger(session: Session, table: list[dict[str, Any]], *, township: Township,
                  actor: User, filename: str = "", dry_run: bool = False, ip: str = "",
                  limit: int | None = None, tz: str | ZoneInfo | None = None) -> ImportReport:
    """Validate the ledger and import it, at most ``limit`` new rows (the rest are left for
    the next upload of the same file); or, ``dry_run``, say what importing would do."""
    rows, errors = validate(session, table, township=township, today=clock.local_today(tz=tz))
    report = ImportReport(rows=len(table), errors=errors, dry_run=dry_run)
    if errors:
        return report
    if dry_run:
        # Planning, not a rehearsal: every step of an imported case flushes and keeps the
        # tallies (a fraction of a second a row), so a rehearsal of a county's ledger would
        # take minutes; the decision, new or unchanged, is ``plan_row``'s either way.
        for row in rows:
            found = plan_row(session, row)
            report.outcomes.append(Outcome(row, found is None, found))
        return report
    # One savepoint for the whole upload: a row the workflow refuses (a township's staff
    # opening a case in another township, say) undoes the rows before it.
    savepoint = session.begin_nested()
    try:
        for row in rows:
            found = plan_row(session, row)
            if found is not None:
                report.outcomes.append(Outcome(row, False, found))
            elif limit is not None and report.created >= limit:
                report.outcomes.append(Outcome(row, False, None, later=True))
            else:
                report.outcomes.append(Outcome(row, True, _import_row(
                    session, row, actor=actor, ip=ip, tz=tz)))
    except (WorkflowError, ModerationError) as exc:
        savepoint.rollback()
        report.errors.append(RowError(row.row, "", str(exc)))
        report.outcomes = []
        return report
    savepoint.commit()
    audit.record(session, "history.import", "township", township.id, actor=actor, ip=ip,
                 after={"file": filename[:200], "rows": report.rows,
                        "created": report.created, "unchanged": report.unchanged,
                        "remaining": report.remaining})
    return report


def _at(day: dt.date, tz: str | ZoneInfo | None) -> dt.datetime:
    """A ledger day as the time its steps are stamped with (never later than now)."""
    moment = dt.datetime.combine(day, TIME_OF_DAY, tzinfo=clock.local_zone(tz))
    return min(moment.astimezone(dt.UTC), clock.utcnow())


def _existing(session: Session, key: str) -> int | None:
    return session.scalar(select(Case.id).where(Case.import_key == key))


def _import_row(session: Session, row: LedgerRow, *, actor: User, ip: str,
                tz: str | ZoneInfo | None) -> int:
    """A new row's case (its id), its unit found or added by the register's rule."""
    unit = register.unit_for(session, village_id=row.village_id, name=row.name,
                             address=row.address, venue_type_id=row.venue_type_id,
                             source="ledger")
    case = _open(session, row, import_key(row, unit.id), actor=actor, ip=ip, tz=tz)
    assert case.unit_id == unit.id  # open_inspection_case found it through the same rule
    return case.id


def _open(session: Session, row: LedgerRow, key: str, *, actor: User, ip: str,
          tz: str | ZoneInfo | None) -> Case:
    """The case of a new row, taken through the workflow at the ledger's dates."""
    found = _at(row.discovered, tz)
    details = moderation.UnitDetails(
        name=row.name, village_id=row.village_id, category_id=row.category_id,
        venue_type_id=row.venue_type_id, address=row.address,
        internal_summary=row.description or f"{IMPORT_NOTE}：{row.category_name}")
    case = moderation.open_inspection_case(session, details, actor=actor, ip=ip)
    # Opened today by the import: its opening belongs to the day of discovery.
    case.imported, case.import_key = True, key
    case.created_at = found
    for opened in session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == CaseEventKind.OPENED)):
        opened.created_at = found
    if row.severity is Severity.MAJOR:
        # As workflow.set_severity records it (which only a moderator may call, today):
        # the ledger's judgement, on the day of discovery.
        case.severity = Severity.MAJOR
        events.log_event(
            session, case, CaseEventKind.SEVERITY_CHANGED, actor=actor, now=found, touch=False,
            internal_text=f"隐患等级由“{Severity.GENERAL.label}”调整为“{Severity.MAJOR.label}”："
                          f"{IMPORT_NOTE}记载为重大火灾隐患",
            data={"from": Severity.GENERAL, "to": Severity.MAJOR, "basis": IMPORT_NOTE},
            audit_before={"severity": Severity.GENERAL}, audit_after={"severity": Severity.MAJOR})
    lead = session.get(Department, row.department_id)
    assert lead is not None  # an active department of the vocabulary, found by ``validate``
    workflow.require_serving(lead, case, receiving="派单")
    assignment = Assignment(case=case, department=lead, role=AssignmentRole.LEAD,
                            routed_at=found, routed_by_id=actor.id,
                            state=AssignmentState.ACCEPTED, accepted_at=found,
                            accepted_by_id=actor.id)
    session.add(assignment)
    note = f"{IMPORT_NOTE}（第 {row.row} 行" + (f"，编号 {row.ref}" if row.ref else "") + "）"
    data = {"imported": True, "row": row.row, "ref": row.ref}
    workflow.transition(session, case, CaseStatus.ROUTED, actor=actor, department=lead,
                        now=found, internal_text=f"{note}，牵头：{lead.name}",
                        data={**data, "lead": lead.code}, check_by=None)
    workflow.transition(session, case, CaseStatus.CHECKING, actor=actor, department=lead,
                        now=found, internal_text=f"{note}，{lead.name}签收",
                        data={**data, "assignment_id": assignment.id})
    workflow.transition(session, case, CaseStatus.RECTIFYING, actor=actor, department=lead,
                        now=found, internal_text=row.description or f"{note}，隐患属实",
                        data={**data, "confirmed": True})
    if row.deadline is not None:
        case.rectify_by = row.deadline
        events.log_event(
            session, case, CaseEventKind.DEADLINE_SET, actor=actor, department=lead,
            now=found, touch=False, internal_text=f"整改期限 {row.deadline.isoformat()}",
            data={**data, "rectify_by": row.deadline},
            audit_after={"rectify_by": row.deadline})
    if row.rectified is not None or row.closed is not None:
        done = row.rectified or row.closed
        assert done is not None
        workflow.transition(session, case, CaseStatus.RECTIFIED, actor=actor, department=lead,
                            now=_at(done, tz), internal_text=f"{note}，整改完成", data=data)
    if row.closed is not None:
        closed = _at(row.closed, tz)
        assignment.state = AssignmentState.COMPLETED
        assignment.ended_at, assignment.ended_by_id = closed, actor.id
        assignment.end_reason = "销案"
        workflow.transition(session, case, CaseStatus.CLOSED, actor=actor, now=closed,
                            internal_text=f"{note}，销号", data=data)
    return case


__all__ = ["COLUMNS", "REQUIRED", "ImportReport", "LedgerFileError", "LedgerRow", "Outcome",
           "RowError", "import_key", "import_ledger", "parse_date", "plan_row",
           "read_table", "validate"]
