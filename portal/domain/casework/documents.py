"""The documents a case requires (公安部令第120号), issued from the case and printed on A4.

Which kinds exist, who may issue each, in which state of the case and which time limit each
meets is data (``portal/data/documents.toml``, with the reasons in its comments). A document
is numbered per issuing department, kind and year ("阳消责改字〔2026〕第3号") by
``portal.domain.numbering``, or carries the number typed in from the department's own system
where the department numbers manually (``Department.document_numbering``). What it says is
frozen into ``content`` when it is issued, so a print years later shows what was served.

Issuing records the number on the case's timeline and in the audit trail, and meets the rule's
running clock (``limits.meet``); it never changes the case's status, which the workflow's own
steps move.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import clock, numbering
from portal.domain.access import audit
from portal.domain.administration import settings as portal_settings
from portal.domain.casework import limits, workflow
from portal.domain.casework.events import WorkflowError, log_event
from portal.domain.enums import CaseEventKind, CaseStatus, DepartmentKind, Severity
from portal.domain.models import Case, CaseDocument, Department, User

DATA_FILE = Path(__file__).resolve().parents[2] / "data" / "documents.toml"
NUMBER_MAX = 64
FINDINGS_MAX = 4000
MANUAL = "manual"


@dataclass(frozen=True)
class DocumentKind:
    code: str
    title: str
    word: str
    basis: str
    meets: limits.Rule
    issuers: frozenset[DepartmentKind]
    delegated: frozenset[DepartmentKind]
    statuses: frozenset[CaseStatus]
    major: bool = False
    needs_deadline: bool = False


_KEYS = {"title", "word", "basis", "meets", "issuers", "delegated", "statuses", "major",
         "needs_deadline"}


def parse_kinds(text: str, source: str = "<documents>") -> dict[str, DocumentKind]:
    """The document kinds of a data file; a ``ValueError`` naming the kind and key if wrong."""
    data = tomllib.loads(text)
    kinds: dict[str, DocumentKind] = {}
    for code, entry in data.items():
        unknown = set(entry) - _KEYS
        if unknown:
            raise ValueError(f"{source}: [{code}] unknown key {sorted(unknown)[0]}")
        try:
            kinds[code] = DocumentKind(
                code=code, title=str(entry["title"]), word=str(entry["word"]),
                basis=str(entry["basis"]), meets=limits.Rule(entry["meets"]),
                issuers=frozenset(DepartmentKind(k) for k in entry["issuers"]),
                delegated=frozenset(DepartmentKind(k) for k in entry.get("delegated", [])),
                statuses=frozenset(CaseStatus(s) for s in entry["statuses"]),
                major=bool(entry.get("major", False)),
                needs_deadline=bool(entry.get("needs_deadline", False)))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{source}: [{code}] {exc!r}") from None
    return kinds


@cache
def kinds() -> dict[str, DocumentKind]:
    """The kinds of ``portal/data/documents.toml``, in the file's order (read once)."""
    return parse_kinds(DATA_FILE.read_text(encoding="utf-8"), str(DATA_FILE))


def kind_of(code: str) -> DocumentKind:
    try:
        return kinds()[code]
    except KeyError:
        raise WorkflowError(f"未知的文书类型：{code}") from None


def may_issue(department: Department, kind: DocumentKind | str) -> bool:
    """Whether the department issues this kind at all (its kind, and delegated powers)."""
    kind = kind_of(kind) if isinstance(kind, str) else kind
    return department.kind in kind.issuers or (
        department.fire_powers_delegated and department.kind in kind.delegated)


def _is_major(case: Case) -> bool:
    return case.severity is Severity.MAJOR or any(
        limits.open_clock(case, rule) is not None
        for rule in (limits.Rule.MAJOR_REPORT, limits.Rule.MAJOR_NOTICE))


def check_issue(case: Case, actor: User, kind: DocumentKind | str) -> Department:
    """Why ``actor`` may not issue ``kind`` on the case now (a ``WorkflowError``), else the
    issuing department: the case's lead, signed for, whose officer the actor is."""
    kind = kind_of(kind) if isinstance(kind, str) else kind
    action = f"制发《{kind.title}》"
    lead = workflow.lead_for(case, actor, action)  # the workflow's one rule of "lead officer"
    department = lead.department
    if not may_issue(department, kind):
        if department.kind in kind.delegated:
            raise WorkflowError(f"{department.name}未获赋予消防监督检查职权，不能{action}")
        raise WorkflowError(f"{department.kind.label}不能{action}（见《消防监督检查规定》）")
    if case.status not in kind.statuses:
        raise WorkflowError(f"案件当前为“{case.status.label}”，不能{action}")
    if kind.major and not _is_major(case):
        raise WorkflowError(f"只有重大火灾隐患才能{action}")
    if kind.needs_deadline and case.rectify_by is None:
        raise WorkflowError(f"请先下达整改期限，再{action}")
    return department


@dataclass(frozen=True)
class DocumentChoice:
    """A kind the actor may issue on the case now, as the case page offers it."""

    kind: str
    title: str
    # The department types its number in (from its own system) instead of generating one.
    manual: bool


def choices(case: Case, actor: User) -> list[DocumentChoice]:
    """The kinds ``actor`` may issue on the case now, from ``check_issue`` itself."""
    offered = []
    for kind in kinds().values():
        try:
            department = check_issue(case, actor, kind)
        except WorkflowError:
            continue
        offered.append(DocumentChoice(kind.code, kind.title,
                                      department.document_numbering == MANUAL))
    return offered


def chinese_date(day: dt.date) -> str:
    """A date as a document prints it: 2026年12月2日."""
    return f"{day.year}年{day.month}月{day.day}日"


def number_of(department: Department, kind: DocumentKind, year: int, seq: int) -> str:
    prefix = department.document_prefix.strip() or department.name
    return f"{prefix}{kind.word}字〔{year}〕第{seq}号"


def _next_seq(session: Session, department: Department, kind: DocumentKind, year: int) -> int:
    top = session.scalar(select(func.max(CaseDocument.seq)).where(
        CaseDocument.department_id == department.id, CaseDocument.kind == kind.code,
        CaseDocument.year == year))
    return (top or 0) + 1


def _typed_number(session: Session, department: Department, kind: DocumentKind,
                  number: str) -> str:
    number = number.strip()
    if not number:
        raise WorkflowError(f"{department.name}的文书自行编号，请填写《{kind.title}》的文号")
    if len(number) > NUMBER_MAX:
        raise WorkflowError(f"文号不能超过 {NUMBER_MAX} 个字")
    taken = session.scalar(select(CaseDocument.case_id).where(
        CaseDocument.department_id == department.id, CaseDocument.kind == kind.code,
        CaseDocument.number == number).limit(1))
    if taken is not None:
        raise WorkflowError(
            f"文号“{number}”已用于案件 #{taken} 的《{kind.title}》，请核对后重新填写")
    return number


_FINDINGS_FROM = {
    # The re-inspection reports what the rectification report said; the others the check.
    "reinspection": (CaseEventKind.RECTIFICATION_REPORTED, CaseEventKind.CHECK_CONFIRMED),
}


def findings_of(case: Case, kind: DocumentKind) -> str:
    """What the case's timeline says was found (the latest check, or for a re-inspection the
    latest rectification report), for a document whose issuer typed nothing."""
    wanted = _FINDINGS_FROM.get(kind.code, (CaseEventKind.CHECK_CONFIRMED,))
    for event_kind in wanted:
        for event in reversed(case.events):
            if event.kind is event_kind and event.internal_text:
                return event.internal_text
    return ""


def addressee(session: Session, case: Case, department: Department, kind: DocumentKind) -> str:
    """To whom it is served: the unit; the report of a major hazard goes to the government of
    the issuing agency's own level (第二十一条): its township's, or the county's."""
    if kind.meets is not limits.Rule.MAJOR_REPORT:
        return case.unit.name
    if department.township is not None:
        return f"{department.township.name}人民政府"
    return f"{portal_settings.jurisdiction(session)['name']}人民政府"


def _content(session: Session, case: Case, department: Department, kind: DocumentKind,
             number: str, findings: str, issued_on: dt.date,
             tz: str | ZoneInfo | None) -> dict[str, Any]:
    unit = case.unit
    return {
        "kind": kind.code, "title": kind.title, "number": number,
        "department": department.name,
        "addressee": addressee(session, case, department, kind),
        "unit": unit.name, "address": unit.address, "village": case.village.name,
        "township": case.village.township.name,
        "category": case.category.name, "severity": case.severity.label,
        "findings": findings, "basis": kind.basis,
        "rectify_by": case.rectify_by.isoformat() if case.rectify_by else None,
        "rectify_by_text": chinese_date(case.rectify_by) if case.rectify_by else "",
        "checked_on_text": (chinese_date(clock.local_today(case.checked_at, tz))
                            if case.checked_at else ""),
        "status": case.status.value, "status_label": case.status.label,
        "issued_on": issued_on.isoformat(), "issued_on_text": chinese_date(issued_on),
        "case_id": case.id,
    }


def issue(session: Session, case: Case, kind: str, *, actor: User, number: str = "",
          findings: str = "", now: dt.datetime | None = None,
          tz: str | ZoneInfo | None = None) -> CaseDocument:
    """Issue one numbered document on the case (flushes; the view commits)."""
    doc_kind = kind_of(kind)
    department = check_issue(case, actor, doc_kind)
    now = now or clock.utcnow()
    today = clock.local_today(now, tz)
    findings = findings.strip() or findings_of(case, doc_kind)
    if len(findings) > FINDINGS_MAX:
        raise WorkflowError(f"检查情况不能超过 {FINDINGS_MAX} 个字")

    def candidate(seq: int | None, text: str) -> CaseDocument:
        # By id, not through ``case.documents``: a candidate that loses its number's race is
        # dropped with its savepoint and must not linger in the case's collection.
        return CaseDocument(
            case_id=case.id, kind=doc_kind.code, department_id=department.id, year=today.year,
            seq=seq, number=text, issued_on=today, issued_at=now, issued_by_id=actor.id,
            content=_content(session, case, department, doc_kind, text, findings, today,
                             tz))

    def generated() -> CaseDocument:
        seq = _next_seq(session, department, doc_kind, today.year)
        return candidate(seq, number_of(department, doc_kind, today.year, seq))

    document: CaseDocument | None
    if department.document_numbering == MANUAL:
        typed = _typed_number(session, department, doc_kind, number)
        document = candidate(None, typed)
        try:
            with session.begin_nested():
                session.add(document)
        except IntegrityError:
            # Typed by someone else at the same moment: the unique constraint decides.
            raise WorkflowError(f"文号“{typed}”刚刚已被使用，请核对后重新填写") from None
    else:
        document = numbering.allocate(session, generated)
        if document is None:
            raise WorkflowError("文书编号分配繁忙，请稍后重试")
    case.documents.append(document)
    log_event(session, case, CaseEventKind.DOCUMENT_ISSUED, actor=actor, department=department,
              now=now, internal_text=f"制发《{doc_kind.title}》{document.number}",
              data={"document_id": document.id, "kind": doc_kind.code,
                    "number": document.number}, audit_row=False)
    audit.record(session, "document.issue", "case_document", document.id, actor=actor,
                 after={"case_id": case.id, "kind": doc_kind.code, "number": document.number,
                        "department": department.code, "issued_on": today.isoformat()})
    limits.meet(case, doc_kind.meets, at=now)
    if doc_kind.meets is limits.Rule.MAJOR_REPORT:
        # The written report asks the government to list the hazard for supervision; it
        # decides within 7 working days (国办发〔2017〕87号 §6), met by the listing.
        limits.start(session, case, limits.Rule.LISTING_DECISION, at=now,
                     note=f"随{document.number}提请挂牌督办", tz=tz)
    return document


def document_of(case: Case, document_id: int) -> CaseDocument | None:
    """One of the case's documents (None: not this case's)."""
    return next((d for d in case.documents if d.id == document_id), None)
