"""The case timeline (处理记录): every step is one CaseEvent and one audit row.

``log_event`` is the only writer of CaseEvents; ``portal.domain.casework.workflow.transition``
uses it for status changes, and the steps that leave the status alone (progress, transfers,
extension requests, notes) call it directly.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal.domain.access import audit
from portal.domain.clock import utcnow
from portal.domain.enums import CaseEventKind, Role
from portal.domain.models import Attachment, Case, CaseEvent, Department, User

CONFLICT_MESSAGE = "该案件刚刚被其他人办理过，您看到的不是最新状态。请刷新页面后再试。"


class WorkflowError(Exception):
    """A step that the case's state or the actor's role does not allow; the message is
    Chinese and tells the user what happened."""


def require_role(actor: User, *roles: Role, action: str) -> None:
    if actor.role not in roles:
        allowed = "、".join(r.label for r in roles)
        raise WorkflowError(f"只有{allowed}可以{action}")


def flush(session: Session) -> None:
    """Flush, turning a lost optimistic-locking race on the case into a WorkflowError."""
    try:
        session.flush()
    except StaleDataError:
        raise WorkflowError(CONFLICT_MESSAGE) from None


def jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def log_event(
    session: Session,
    case: Case,
    kind: CaseEventKind,
    *,
    actor: User | None,
    department: Department | None = None,
    internal_text: str = "",
    public_text: str = "",
    data: dict[str, Any] | None = None,
    attachments: Sequence[Attachment] = (),
    now: dt.datetime | None = None,
    audit_before: dict[str, Any] | None = None,
    audit_after: dict[str, Any] | None = None,
    touch: bool = True,
    audit_row: bool = True,
) -> CaseEvent:
    """Append one event to the case's timeline and one row to the audit chain.

    The case itself is touched (``updated_at``), so its version column changes with every
    step: a step taken from a stale view of the case fails instead of interleaving.
    ``audit_row=False`` is for a step that writes its own single audit row (a moderator's
    decision on a tip is audited as ``tip.*``, not once more per event it adds).
    """
    now = now or utcnow()
    if touch:
        case.updated_at = now
    event = CaseEvent(
        case=case,
        kind=kind,
        actor_id=actor.id if actor else None,
        department_id=department.id if department else None,
        internal_text=internal_text.strip(),
        public_text=public_text.strip(),
        data=jsonable(data) if data else None,
        created_at=now,
    )
    session.add(event)
    for attachment in attachments:
        event.attachments.append(attachment)
    flush(session)
    if not audit_row:
        return event
    after = {"event_id": event.id, "kind": kind.value}
    if department is not None:
        after["department"] = department.code
    after.update(jsonable(audit_after or {}))
    audit.record(session, f"case.{kind.value}", "case", case.id, actor=actor,
                 before=jsonable(audit_before) if audit_before else None, after=after)
    return event
