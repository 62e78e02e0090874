"""Listing major hazards for supervision (挂牌督办): list, interview, commitment letter, delist.

A listing sets the case's ``supervision_level`` (which the public disclosure shows) and
delisting (摘牌) puts it back to none; delisting is allowed only once closure has been
approved. Each step writes a CaseEvent and an audit row through ``log_event``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, select, true
from sqlalchemy.orm import Session, joinedload, object_session

from portal.domain import paging
from portal.domain.casework import limits
from portal.domain.casework.events import WorkflowError, flush, log_event, require_role
from portal.domain.clock import utcnow
from portal.domain.enums import (
    AttachmentKind,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    Role,
    Severity,
    SupervisionLevel,
)
from portal.domain.models import Attachment, Case, Listing, ListingInterview, User
from portal.domain.paging import Page
from portal.domain.reporting.uploads import UploadError, UploadLimits, process_image, store_image
from portal.storage import Storage

LETTER_LABEL = "整改承诺书"
PDF_TAIL_BYTES = 2048
# Active content has no place in a signed letter and is how malicious PDFs act.
_ACTIVE_CONTENT = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia)(?![A-Za-z])")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_OBJECT_HEADER = re.compile(rb"\d+\s+\d+\s+obj\b")


def active_listing(session: Session, case: Case) -> Listing | None:
    return session.scalar(select(Listing).where(Listing.case_id == case.id,
                                                Listing.delisted_at.is_(None)))


def _active_listing_of(case: Case) -> Listing | None:
    session = object_session(case)
    return active_listing(session, case) if session is not None else None


def check_list_case(case: Case, actor: User) -> None:
    """Who may list a case for supervision, and when: a supervisor, a major hazard not yet
    closed and not already listed."""
    require_role(actor, Role.SUPERVISOR, action="挂牌督办")
    if case.severity is not Severity.MAJOR:
        raise WorkflowError("只有重大火灾隐患可以挂牌督办")
    if case.status is CaseStatus.CLOSED:
        raise WorkflowError("该隐患已销案，无需挂牌督办")
    if _active_listing_of(case) is not None:
        raise WorkflowError("该隐患已在挂牌督办中")


def check_delist_case(case: Case, actor: User) -> Listing | None:
    """Who may delist a case, and when: a supervisor, once closure of the rectified hazard is
    approved; the case's active listing, or None where routing only flagged the level."""
    require_role(actor, Role.SUPERVISOR, action="摘牌")
    listing = _active_listing_of(case)
    if listing is None and case.supervision_level is SupervisionLevel.NONE:
        raise WorkflowError("该隐患未挂牌督办")
    _require_closed(case)
    return listing


def list_case(session: Session, case: Case, *, actor: User, level: SupervisionLevel,
              deadline: dt.date, responsible_leader: str,
              now: dt.datetime | None = None) -> Listing:
    """List a confirmed major hazard for supervision at ``level`` (挂牌督办)."""
    check_list_case(case, actor)
    if level is SupervisionLevel.NONE:
        raise WorkflowError("请选择督办级别")
    leader = responsible_leader.strip()
    if not leader:
        raise WorkflowError("请填写整改责任领导")
    now = now or utcnow()
    listing = Listing(case=case, level=level, deadline=deadline, responsible_leader=leader[:100],
                      listed_by_id=actor.id, listed_at=now)
    session.add(listing)
    before = case.supervision_level
    case.supervision_level = level
    # The government's listing decision (国办发〔2017〕87号 §6), if one was requested.
    limits.meet(case, limits.Rule.LISTING_DECISION, at=now)
    flush(session)
    log_event(
        session, case, CaseEventKind.SUPERVISION_CHANGED, actor=actor, now=now,
        internal_text=f"挂牌督办：{level.label}，责任领导 {leader}，限期 {deadline.isoformat()}",
        public_text=f"列为{level.label}重大火灾隐患，限 {deadline.isoformat()} 前整改",
        data={"listing_id": listing.id, "level": level, "deadline": deadline,
              "responsible_leader": leader},
        audit_before={"supervision_level": before}, audit_after={"supervision_level": level},
    )
    return listing


def delist(session: Session, listing: Listing, *, actor: User, note: str = "",
           now: dt.datetime | None = None) -> Listing:
    """Delist (摘牌): only once closure of the rectified hazard has been approved."""
    require_role(actor, Role.SUPERVISOR, action="摘牌")
    if not listing.active:
        raise WorkflowError("该隐患已摘牌")
    _require_closed(listing.case)
    now = now or utcnow()
    listing.delisted_at = now
    listing.delisted_by_id = actor.id
    _clear_level(session, listing.case, actor=actor, note=note, now=now,
                 data={"listing_id": listing.id, "delisted": True})
    return listing


def delist_case(session: Session, case: Case, *, actor: User, note: str = "",
                now: dt.datetime | None = None) -> None:
    """Delist a closed case, whether a supervisor listed it formally or routing flagged it
    for supervision as a major hazard (a level without a listing)."""
    listing = check_delist_case(case, actor)
    if listing is not None:
        delist(session, listing, actor=actor, note=note, now=now)
        return
    _clear_level(session, case, actor=actor, note=note, now=now or utcnow(),
                 data={"delisted": True})


def _require_closed(case: Case) -> None:
    if case.status is not CaseStatus.CLOSED or case.outcome is not CaseOutcome.RECTIFIED:
        raise WorkflowError(
            f"隐患尚未整改销案（当前状态：{case.status.label}），销案批准后才能摘牌")


def _clear_level(session: Session, case: Case, *, actor: User, note: str, now: dt.datetime,
                 data: dict[str, object]) -> None:
    before = case.supervision_level
    case.supervision_level = SupervisionLevel.NONE
    flush(session)
    log_event(
        session, case, CaseEventKind.SUPERVISION_CHANGED, actor=actor, now=now,
        internal_text="。".join(filter(None, [f"摘牌：{before.label}", note.strip()])),
        public_text=f"隐患整改完毕，{before.label}摘牌",
        data=data, audit_before={"supervision_level": before},
        audit_after={"supervision_level": SupervisionLevel.NONE},
    )


def record_interview(session: Session, listing: Listing, *, actor: User, held_at: dt.datetime,
                     participants: str, notes: str = "") -> ListingInterview:
    """Record an interview (约谈) of those responsible for a listed hazard."""
    require_role(actor, Role.SUPERVISOR, action="记录约谈")
    if not participants.strip():
        raise WorkflowError("请填写约谈对象")
    interview = ListingInterview(listing=listing, held_at=held_at,
                                 participants=participants.strip(), notes=notes.strip(),
                                 recorded_by_id=actor.id)
    session.add(interview)
    flush(session)
    log_event(session, listing.case, CaseEventKind.NOTE, actor=actor,
              internal_text=f"约谈：{interview.participants}" + (
                  f"\n{interview.notes}" if interview.notes else ""),
              data={"listing_id": listing.id, "interview_id": interview.id,
                    "held_at": held_at})
    return interview


# ---------------------------------------------------------------- the commitment letter


@dataclass(frozen=True)
class CheckedPdf:
    data: bytes
    sha256: str


def check_pdf(raw: bytes, limits: UploadLimits, label: str = LETTER_LABEL) -> CheckedPdf:
    """A PDF is accepted if it starts with ``%PDF-``, ends with ``startxref <offset> %%EOF``,
    that offset points at a cross-reference table or stream inside the file, and it carries
    no active content. It is stored as it came (a signed letter must not be altered)."""
    if not raw:
        raise UploadError(f"{label}是空文件，请重新选择")
    if len(raw) > limits.max_bytes:
        mb = limits.max_bytes // (1024 * 1024)
        raise UploadError(f"{label}超过 {mb} MB，请压缩后再上传")
    broken = UploadError(f"{label}不是有效的 PDF 文件，或文件已损坏")
    if not re.match(rb"%PDF-\d\.\d", raw[:8]):
        raise broken
    match = _STARTXREF.search(raw[-PDF_TAIL_BYTES:])
    if match is None:
        raise broken
    offset = int(match.group(1))
    if not 0 < offset < len(raw):
        raise broken
    target = raw[offset:offset + 32]
    if not (target.startswith(b"xref") or _OBJECT_HEADER.match(target)):
        raise broken
    if _ACTIVE_CONTENT.search(raw):
        raise UploadError(f"{label}含有脚本或嵌入文件，不予接收；请上传扫描件或普通 PDF")
    return CheckedPdf(data=raw, sha256=hashlib.sha256(raw).hexdigest())


def attach_letter(session: Session, store: Storage, listing: Listing, raw: bytes, *,
                  actor: User, limits: UploadLimits) -> Attachment:
    """Validate and store a signed commitment letter: a PDF (checked by ``check_pdf``) or an
    image (through the one image pipeline)."""
    require_role(actor, Role.SUPERVISOR, action="上传整改承诺书")
    if raw.startswith(b"%PDF"):
        pdf = check_pdf(raw, limits)
        name = f"{secrets.token_urlsafe(24)}.pdf"
        store.put(name, pdf.data)
        attachment = Attachment(stored_name=name, kind=AttachmentKind.DOCUMENT,
                                content_type="application/pdf", size_bytes=len(pdf.data),
                                sha256=pdf.sha256, uploaded_by_id=actor.id)
        session.add(attachment)
    else:
        try:
            image = process_image(raw, limits, LETTER_LABEL)
        except UploadError as exc:
            if "不是有效的图片" in str(exc) or "格式不支持" in str(exc):
                raise UploadError(
                    f"{LETTER_LABEL}须为 PDF 或 JPG、PNG、WebP 图片，所选文件无法识别") from None
            raise
        attachment = store_image(session, store, image, uploaded_by_id=actor.id)
        attachment.kind = AttachmentKind.DOCUMENT
    attachment.listing_id = listing.id
    flush(session)
    log_event(session, listing.case, CaseEventKind.NOTE, actor=actor,
              internal_text="上传整改承诺书",
              data={"listing_id": listing.id, "attachment_id": attachment.id})
    return attachment


# ---------------------------------------------------------------- the listings page

PAGE_SIZE = 30
# Delisted hazards are history: the page shows the latest, the ledger has them all.
DELISTED_SHOWN = 50


def _within(scope: ColumnElement[bool] | None) -> ColumnElement[bool]:
    return true() if scope is None else scope


def active_listings(session: Session, *, page: str | int | None = 1,
                    size: int = PAGE_SIZE, scope: ColumnElement[bool] | None = None
                    ) -> Page[Listing]:
    """Hazards listed for supervision now, the earliest deadline first. ``scope`` (a
    condition on ``Case``: ``permissions.case_scope``) narrows each list to the cases the
    reader may see."""
    return paging.paginate(session, select(Listing).join(Case, Case.id == Listing.case_id)
                           .where(Listing.delisted_at.is_(None), _within(scope))
                           .options(joinedload(Listing.case).joinedload(Case.unit))
                           .order_by(Listing.deadline, Listing.id), page=page, size=size)


def unlisted_major_hazards(session: Session, *, page: str | int | None = 1,
                           size: int = PAGE_SIZE, scope: ColumnElement[bool] | None = None
                           ) -> Page[Case]:
    """Open major hazards not (or no longer) listed formally: candidates for listing."""
    return paging.paginate(session, select(Case).where(
        Case.severity == Severity.MAJOR, Case.status != CaseStatus.CLOSED, _within(scope),
        ~exists().where(Listing.case_id == Case.id, Listing.delisted_at.is_(None)))
        .options(joinedload(Case.unit)).order_by(Case.id), page=page, size=size)


def awaiting_delisting(session: Session, *, page: str | int | None = 1,
                       size: int = PAGE_SIZE, scope: ColumnElement[bool] | None = None
                       ) -> Page[Case]:
    """Closed cases still carrying a level (listed formally or flagged by routing), the
    longest closed first."""
    return paging.paginate(session, select(Case).where(
        Case.status == CaseStatus.CLOSED, Case.supervision_level != SupervisionLevel.NONE,
        _within(scope))
        .options(joinedload(Case.unit)).order_by(Case.closed_at, Case.id), page=page, size=size)


def recently_delisted(session: Session, limit: int = DELISTED_SHOWN,
                      scope: ColumnElement[bool] | None = None) -> list[Listing]:
    return list(session.scalars(select(Listing).join(Case, Case.id == Listing.case_id)
                                .where(Listing.delisted_at.is_not(None), _within(scope))
                                .options(joinedload(Listing.case).joinedload(Case.unit))
                                .order_by(Listing.delisted_at.desc(), Listing.id.desc())
                                .limit(limit)))
