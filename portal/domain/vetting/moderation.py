"""The moderators' decisions on tips. Each action is one call, flushes, and writes exactly one
audit row; views only collect the input and commit.

Each action has a ``check_*`` precondition that depends only on the tip (or photo, or case) and
the actor, never on form input: the action calls it first, and
``portal.domain.vetting.actions.tip_actions`` calls it to tell a page which actions to offer and
why the others are refused, so the two cannot disagree. The timeline events an action adds go
through ``portal.domain.casework.events.log_event``, which checks the case's version.

Routing a new case to departments is a separate step (``portal.domain.casework.routing``): a case
opened here waits in ``triage``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageFilter, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.domain import clock
from portal.domain.access import audit
from portal.domain.access.permissions import Permission, has_permission
from portal.domain.casework import events, routing, sms
from portal.domain.clock import utcnow
from portal.domain.enums import (
    CaseEventKind,
    CaseStatus,
    Channel,
    MessageDirection,
    RejectReason,
    TipStatus,
)
from portal.domain.inspection import register
from portal.domain.models import (
    Attachment,
    Case,
    Category,
    Department,
    Message,
    Tip,
    TipRevision,
    Unit,
    User,
    VenueType,
    Village,
)
from portal.domain.reporting import uploads
from portal.domain.reporting.identity import ReporterIdentity
from portal.domain.vetting.places import OUTSIDE_MESSAGE, may_file_in
from portal.storage import Storage

DESCRIPTION = "description"


class ModerationError(ValueError):
    """The action cannot be taken; the message is for the moderator."""


@dataclass(frozen=True)
class UnitDetails:
    """What a moderator confirms about the place when opening a case."""

    name: str
    village_id: int
    category_id: int
    venue_type_id: int | None = None
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    internal_summary: str = ""


# ---------------------------------------------------------------- preconditions


def _permitted(actor: User, permission: Permission) -> None:
    if not has_permission(actor.role, permission):
        raise ModerationError(f"您没有“{permission.label}”的权限")


def _pending(tip: Tip) -> None:
    if tip.status is not TipStatus.PENDING:
        raise ModerationError(f"该举报已处理（{tip.status.label}），不能重复处理")


def check_accept(tip: Tip, actor: User) -> None:
    _permitted(actor, Permission.TIPS_MODERATE)
    _pending(tip)


def check_merge(tip: Tip, actor: User, case: Case | None = None) -> None:
    """Without ``case``: whether the tip may be merged into some open case at all."""
    _permitted(actor, Permission.TIPS_MODERATE)
    _pending(tip)
    if case is not None and case.status is CaseStatus.CLOSED:
        raise ModerationError("该工单已办结，不能合并；请另行立案")
    # A tip stays in its village's township: it never joins another township's case.
    if case is not None and case.village.township_id != tip.village.township_id:
        raise ModerationError("只能合并到本乡镇的工单")


def check_reject(tip: Tip, actor: User) -> None:
    _permitted(actor, Permission.TIPS_MODERATE)
    _pending(tip)


def check_ask(tip: Tip, actor: User) -> None:
    # A question may follow a decision too: the reporter reads it with their receipt.
    _permitted(actor, Permission.TIPS_MODERATE)


def check_redact(tip: Tip, actor: User) -> None:
    _permitted(actor, Permission.TIPS_MODERATE)


def check_withhold(attachment: Attachment, actor: User) -> None:
    _permitted(actor, Permission.TIPS_MODERATE)
    if attachment.withheld:
        raise ModerationError("该照片已撤下，仅审核员可见")


def check_blur(attachment: Attachment, actor: User) -> None:
    _permitted(actor, Permission.TIPS_MODERATE)
    if attachment.withheld:
        raise ModerationError("该照片已撤下，仅审核员可见")
    if attachment.derived_from_id is not None:
        raise ModerationError("这已是处理过的照片，请对原照片操作")


def check_reveal(tip: Tip, actor: User) -> None:
    _permitted(actor, Permission.IDENTITY_READ)
    if tip.identity_withdrawn_at is not None:
        # The moderators see that it was withdrawn, never what it was.
        raise ModerationError(
            f"举报人已于 {clock.format_local(tip.identity_withdrawn_at)} 撤回姓名和电话")
    if not (tip.reporter_name_enc or tip.reporter_phone_enc):
        raise ModerationError("举报人未留姓名和电话")


# ---------------------------------------------------------------- helpers


def _log(session: Session, case: Case, kind: CaseEventKind, actor: User, *, touch: bool,
         data: dict[str, int] | None = None) -> None:
    """One timeline event, audited by the moderation action's own row. ``touch`` checks and
    bumps the version of a case someone else may be working on (not of one opened here)."""
    try:
        events.log_event(session, case, kind, actor=actor, data=data, touch=touch,
                         audit_row=False)
    except events.WorkflowError as exc:
        raise ModerationError(str(exc)) from None


def _check_vocabulary(session: Session, details: UnitDetails, actor: User) -> None:
    village = session.get(Village, details.village_id)
    category = session.get(Category, details.category_id)
    if village is None or not village.active:
        raise ModerationError("请选择有效的村")
    if not may_file_in(actor, village):
        raise ModerationError(OUTSIDE_MESSAGE)
    if category is None or not category.active:
        raise ModerationError("请选择有效的隐患类别")
    if details.venue_type_id is not None:
        venue = session.get(VenueType, details.venue_type_id)
        if venue is None or not venue.active:
            raise ModerationError("请选择有效的场所类型")
    if not details.name.strip():
        raise ModerationError("请填写隐患单位名称")


def _unit_for(session: Session, details: UnitDetails) -> Unit:
    """The register's unit for the details (disclosure is per unit), else a new one."""
    return register.unit_for(session, village_id=details.village_id, name=details.name,
                             address=details.address, venue_type_id=details.venue_type_id,
                             lat=details.lat, lon=details.lon)


def _open_case(session: Session, details: UnitDetails, channel: Channel, actor: User) -> Case:
    _check_vocabulary(session, details, actor)
    unit = _unit_for(session, details)
    case = Case(
        unit=unit,
        village_id=unit.village_id,
        category_id=details.category_id,
        channel=channel,
        status=CaseStatus.TRIAGE,
        internal_summary=details.internal_summary.strip(),
        created_by_id=actor.id,
    )
    session.add(case)
    session.flush()
    _log(session, case, CaseEventKind.OPENED, actor, touch=False)
    return case


CONFLICT_MESSAGE = "该举报刚刚被其他审核员处理过，您看到的不是最新状态。请刷新页面后再试。"


def _decide(session: Session, tip: Tip, status: TipStatus, actor: User) -> None:
    """Decide and write at once: the tip's version is checked, so of two moderators deciding
    the same tip at the same moment the second is told instead of overwriting the first."""
    tip.status = status
    tip.decided_by_id = actor.id
    tip.decided_at = utcnow()
    try:
        session.flush()
    except StaleDataError:
        raise ModerationError(CONFLICT_MESSAGE) from None


def accept_tip(
    session: Session, tip: Tip, details: UnitDetails, *, actor: User, ip: str = ""
) -> Case:
    """Open a new case (status ``triage``) from a pending tip."""
    check_accept(tip, actor)
    case = _open_case(session, details, tip.channel, actor)
    tip.case_id = case.id
    _decide(session, tip, TipStatus.ACCEPTED, actor)
    _log(session, case, CaseEventKind.TIP_LINKED, actor, touch=False, data={"tip_id": tip.id})
    sms.tip_accepted(session, tip)
    audit.record(session, "tip.accept", "tip", tip.id, actor=actor, ip=ip,
                 before={"status": TipStatus.PENDING.value},
                 after={"status": tip.status.value, "case_id": case.id,
                        "unit_id": case.unit_id, "category_id": case.category_id})
    return case


def check_accept_own_filing(session: Session, tip: Tip, actor: User) -> None:
    """An officer's own filing from the field may skip the queue only when the routing rules
    make the officer's department the lead: the department that must act found it itself
    (issue 22). Anyone else's filing, or one another department leads, is the queue's."""
    _pending(tip)
    if (tip.channel is not Channel.GRID or tip.created_by_id != actor.id
            or actor.department_id is None
            or not has_permission(actor.role, Permission.FIELD_FILE)
            or not has_permission(actor.role, Permission.CASES_WORK)):
        raise ModerationError("只有部门经办人本人的现场上报可以直接转入本部门办理")
    if own_desk_lead(session, tip, actor) is None:
        raise ModerationError("按分派规则该隐患不由本部门牵头，已进入待审核列表")


def own_desk_lead(session: Session, tip: Tip, filer: User) -> Department | None:
    """The filer's department, when the routing rules (not a moderator's choice) make it the
    lead for this tip's category, venue type and village; else None. The one answer to "did
    the department that must act find it itself" (issue 22)."""
    if filer.department_id is None or tip.village is None or tip.category is None:
        return None
    try:
        proposal = routing.propose_routing(session, tip.category, tip.venue_type, tip.village)
    except events.WorkflowError:
        return None  # no rule and no township office
    if proposal.manual or proposal.lead.id != filer.department_id:
        return None
    return proposal.lead


def accept_own_filing(session: Session, tip: Tip, *, actor: User, ip: str = "") -> Case:
    """Open the case of an officer's own field filing and route it by the rules to the
    officer's department, without the queue (``check_accept_own_filing`` says when). The
    filer's description is the department's summary: staff wrote it, not a resident."""
    check_accept_own_filing(session, tip, actor)
    details = UnitDetails(name=tip.unit_name, village_id=tip.village_id,
                          category_id=tip.category_id, venue_type_id=tip.venue_type_id,
                          address=tip.address, lat=tip.lat, lon=tip.lon,
                          internal_summary=tip.description)
    case = _open_case(session, details, tip.channel, actor)
    if tip.unit_id is not None and case.unit_id != tip.unit_id:
        case.unit_id = tip.unit_id  # the register's unit the filer picked
    tip.case_id = case.id
    _decide(session, tip, TipStatus.ACCEPTED, actor)
    _log(session, case, CaseEventKind.TIP_LINKED, actor, touch=False, data={"tip_id": tip.id})
    audit.record(session, "tip.accept_own_filing", "tip", tip.id, actor=actor, ip=ip,
                 before={"status": TipStatus.PENDING.value},
                 after={"status": tip.status.value, "case_id": case.id,
                        "unit_id": case.unit_id, "category_id": case.category_id})
    if routing.route_by_rules(session, case, actor=actor,
                              note="本部门现场上报，按分派规则直接派单。") is None:
        raise ModerationError("按分派规则该隐患不由本部门牵头，已进入待审核列表")
    return case


def merge_tip(session: Session, tip: Tip, case: Case, *, actor: User, ip: str = "") -> None:
    """Join a pending tip to a case already open about the same hazard. The case's version is
    checked: if someone changed it since it was read (closed it, say), the merge is refused."""
    check_merge(tip, actor, case)
    tip.case_id = case.id
    _decide(session, tip, TipStatus.MERGED, actor)
    _log(session, case, CaseEventKind.TIP_LINKED, actor, touch=True, data={"tip_id": tip.id})
    sms.tip_accepted(session, tip)
    audit.record(session, "tip.merge", "tip", tip.id, actor=actor, ip=ip,
                 before={"status": TipStatus.PENDING.value},
                 after={"status": tip.status.value, "case_id": case.id})


def reject_tip(
    session: Session, tip: Tip, reason: RejectReason, message: str, *, actor: User,
    ip: str = "",
) -> None:
    """Reject with a reason and a polite message that the reporter reads with their receipt."""
    check_reject(tip, actor)
    if not message.strip():
        raise ModerationError("请填写给举报人的说明")
    tip.reject_reason = reason
    tip.reject_message = message.strip()
    _decide(session, tip, TipStatus.REJECTED, actor)
    sms.tip_refused(session, tip)
    audit.record(session, "tip.reject", "tip", tip.id, actor=actor, ip=ip,
                 before={"status": TipStatus.PENDING.value},
                 after={"status": tip.status.value, "reason": reason.value})


def ask_reporter(session: Session, tip: Tip, body: str, *, actor: User, ip: str = "") -> Message:
    """A question the reporter sees when they next look up their receipt."""
    check_ask(tip, actor)
    if not body.strip():
        raise ModerationError("请填写要询问的内容")
    message = Message(tip_id=tip.id, direction=MessageDirection.TO_REPORTER,
                      body=body.strip(), author_id=actor.id)
    session.add(message)
    session.flush()
    audit.record(session, "tip.ask", "tip", tip.id, actor=actor, ip=ip,
                 after={"message_id": message.id})
    return message


def redact_description(
    session: Session, tip: Tip, new_text: str, reason: str, *, actor: User, ip: str = ""
) -> TipRevision:
    """Replace the description; the revision keeps the old wording for moderators only.

    The audit row records that an edit happened, not the text: the log is read more widely
    than the original may be.
    """
    check_redact(tip, actor)
    new_text = new_text.strip()
    if not new_text:
        raise ModerationError("修改后的内容不能为空")
    if new_text == tip.description:
        raise ModerationError("内容没有变化")
    revision = TipRevision(tip_id=tip.id, field=DESCRIPTION, old_text=tip.description,
                           new_text=new_text, reason=reason.strip()[:200], editor_id=actor.id)
    tip.description = new_text
    session.add(revision)
    session.flush()
    audit.record(session, "tip.redact", "tip", tip.id, actor=actor, ip=ip,
                 after={"field": DESCRIPTION, "revision_id": revision.id,
                        "reason": revision.reason})
    return revision


def revisions(session: Session, tip: Tip) -> list[TipRevision]:
    return list(session.scalars(
        select(TipRevision).where(TipRevision.tip_id == tip.id).order_by(TipRevision.id)
    ))


def original_description(session: Session, tip: Tip) -> str:
    first = session.scalar(
        select(TipRevision.old_text)
        .where(TipRevision.tip_id == tip.id, TipRevision.field == DESCRIPTION)
        .order_by(TipRevision.id).limit(1)
    )
    return tip.description if first is None else first


def withhold_photo(
    session: Session, attachment: Attachment, *, actor: User, ip: str = ""
) -> None:
    """Drop a photo from everything that leaves the office; the file itself is kept."""
    check_withhold(attachment, actor)
    attachment.withheld = True
    attachment.public = False
    session.flush()
    audit.record(session, "attachment.withhold", "attachment", attachment.id, actor=actor, ip=ip,
                 before={"withheld": False}, after={"withheld": True})


def blur_photo(
    session: Session, store: Storage, attachment: Attachment, limits: uploads.UploadLimits, *,
    actor: User, ip: str = "",
) -> Attachment:
    """Replace a photo by a blurred copy (faces, plates, a reporter's own doorway).

    The copy goes through the upload pipeline like any photo and points at the original,
    which is withheld: only moderators still see it.
    """
    check_blur(attachment, actor)
    try:
        with Image.open(io.BytesIO(store.get(attachment.stored_name))) as original:
            radius = max(8, max(original.size) // 40)
            blurred = original.convert("RGB").filter(ImageFilter.GaussianBlur(radius))
    except (OSError, UnidentifiedImageError):
        raise ModerationError("原照片文件无法读取，请改为撤下此照片") from None
    out = io.BytesIO()
    blurred.save(out, format="JPEG", quality=85)
    copy = uploads.store_image(session, store, uploads.process_image(out.getvalue(), limits),
                               uploaded_by_id=actor.id)
    copy.derived_from_id = attachment.id
    copy.tip_id = attachment.tip_id
    attachment.withheld = True
    attachment.public = False
    session.flush()
    audit.record(session, "attachment.blur", "attachment", attachment.id, actor=actor, ip=ip,
                 after={"copy_id": copy.id, "original_withheld": True})
    return copy


def reveal_identity(
    session: Session, tip: Tip, decrypt: Callable[[bytes], str], *, actor: User, ip: str = ""
) -> ReporterIdentity:
    """Decrypt the reporter's name and phone for one moderator, and log that they read it."""
    check_reveal(tip, actor)
    identity = ReporterIdentity(
        name=decrypt(tip.reporter_name_enc) if tip.reporter_name_enc else "",
        phone=decrypt(tip.reporter_phone_enc) if tip.reporter_phone_enc else "",
    )
    audit.record(session, "tip.reveal_identity", "tip", tip.id, actor=actor, ip=ip,
                 after={"had_name": bool(identity.name), "had_phone": bool(identity.phone)})
    return identity


def open_inspection_case(
    session: Session, details: UnitDetails, *, actor: User, ip: str = ""
) -> Case:
    """A case found by staff on an inspection (排查、巡查), with no tip behind it."""
    case = _open_case(session, details, Channel.INSPECTION, actor)
    session.flush()
    audit.record(session, "case.open", "case", case.id, actor=actor, ip=ip,
                 after={"channel": Channel.INSPECTION.value, "unit_id": case.unit_id,
                        "category_id": case.category_id})
    return case
