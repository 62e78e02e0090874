"""Keeping only what is needed: spam purged, reporter identity erased, orphan uploads removed.

Each function flushes and returns counts; callers (the CLI, cron) commit.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from portal.domain.access import audit
from portal.domain.clock import utcnow
from portal.domain.enums import RejectReason, TipStatus
from portal.domain.models import Attachment, Case, Message, Notification, Tip, TipRevision
from portal.domain.reporting.reporter import REPORTER_CALLBACK
from portal.storage import Storage, entries


@dataclass(frozen=True)
class GcReport:
    orphan_files: int
    staged_rows: int
    temp_files: int = 0


def purge_spam(session: Session, store: Storage, *, older_than_days: int,
               now: dt.datetime | None = None) -> int:
    """Delete tips rejected as spam more than ``older_than_days`` ago, with their files."""
    cutoff = (now or utcnow()) - dt.timedelta(days=older_than_days)
    ids = list(session.scalars(select(Tip.id).where(
        Tip.status == TipStatus.REJECTED, Tip.reject_reason == RejectReason.SPAM,
        Tip.decided_at < cutoff)))
    if not ids:
        return 0
    message_ids = select(Message.id).where(Message.tip_id.in_(ids))
    attachments = session.scalars(select(Attachment).where(
        or_(Attachment.tip_id.in_(ids), Attachment.message_id.in_(message_ids)))).all()
    names = [n for a in attachments for n in (a.stored_name, a.thumbnail_name) if n]
    session.execute(delete(Attachment).where(Attachment.id.in_([a.id for a in attachments])))
    session.execute(delete(Message).where(Message.tip_id.in_(ids)))
    session.execute(delete(TipRevision).where(TipRevision.tip_id.in_(ids)))
    session.execute(delete(Tip).where(Tip.id.in_(ids)))
    session.flush()
    for name in names:
        store.delete(name)
    audit.record(session, "retention.purge_spam", "tip", "", after={"tips": len(ids)})
    return len(ids)


def erase_identities(session: Session, *, days_after_close: int,
                     now: dt.datetime | None = None) -> int:
    """Erase reporters' names and phones once their case closed (or the tip was refused)
    more than ``days_after_close`` ago: after that nobody needs to reach them."""
    cutoff = (now or utcnow()) - dt.timedelta(days=days_after_close)
    closed_cases = select(Case.id).where(Case.closed_at < cutoff)
    has_identity = or_(Tip.reporter_name_enc.is_not(None), Tip.reporter_phone_enc.is_not(None))
    done = or_(
        Tip.case_id.in_(closed_cases),
        and_(Tip.status == TipStatus.REJECTED, Tip.decided_at < cutoff),
    )
    result = session.execute(
        update(Tip).where(has_identity, done)
        .values(reporter_name_enc=None, reporter_phone_enc=None)
        .execution_options(synchronize_session=False)
    )
    count = result.rowcount or 0  # type: ignore[attr-defined]
    if count:
        audit.record(session, "retention.erase_identity", "tip", "", after={"tips": count})
    session.flush()
    return count


def withdraw_identity(session: Session, tip: Tip, *, now: dt.datetime | None = None) -> bool:
    """The reporter withdraws their name and phone (个人信息删除权): both are erased, the
    report stays, anonymous, and the tip shows that they were withdrawn, not what they were.
    The office's unsent requests to call the reporter go too: nobody can be called back now.
    Returns False when there was nothing to withdraw."""
    if tip.reporter_name_enc is None and tip.reporter_phone_enc is None:
        return False
    had = {"had_name": tip.reporter_name_enc is not None,
           "had_phone": tip.reporter_phone_enc is not None}
    tip.reporter_name_enc = None
    tip.reporter_phone_enc = None
    tip.identity_withdrawn_at = now or utcnow()
    callbacks = [n for n in session.scalars(select(Notification).where(
        Notification.kind == REPORTER_CALLBACK, Notification.sent_at.is_(None)))
        if (n.payload or {}).get("tip_id") == tip.id]
    for notification in callbacks:
        session.delete(notification)
    session.flush()
    audit.record(session, "tip.withdraw_identity", "tip", tip.id,
                 after={**had, "callbacks_removed": len(callbacks)})
    return True


def collect_uploads(session: Session, store: Storage, *, grace_hours: int,
                    now: float | None = None) -> GcReport:
    """Remove files that no row names, staged photos never attached to anything, and the
    temporary files of writes that never finished (a bucket's abandoned multipart uploads),
    once they are older than the grace period (a form may still be on its way)."""
    now_ts = now if now is not None else time.time()
    cutoff = utcnow() - dt.timedelta(hours=grace_hours) if now is None else (
        dt.datetime.fromtimestamp(now_ts, dt.UTC) - dt.timedelta(hours=grace_hours))
    staged = session.scalars(select(Attachment).where(
        Attachment.tip_id.is_(None), Attachment.case_event_id.is_(None),
        Attachment.message_id.is_(None), Attachment.created_at < cutoff,
        *_other_owner_clauses())).all()
    staged_names = [n for a in staged for n in (a.stored_name, a.thumbnail_name) if n]
    if staged:
        session.execute(delete(Attachment).where(Attachment.id.in_([a.id for a in staged])))
        session.flush()
    for name in staged_names:
        store.delete(name)

    known: set[str] = set()
    for stored, thumb in session.execute(
            select(Attachment.stored_name, Attachment.thumbnail_name)):
        known.add(stored)
        if thumb:
            known.add(thumb)
    orphans = 0
    # The names come with their times in one listing (a bucket answers a page at a time);
    # a file written after the rows were read is younger than the grace period.
    for name, modified in entries(store):
        if name in known or now_ts - modified < grace_hours * 3600:
            continue
        store.delete(name)
        orphans += 1
    temps = store.sweep_temporaries(now_ts - grace_hours * 3600)
    return GcReport(orphan_files=orphans, staged_rows=len(staged), temp_files=temps)


def _other_owner_clauses() -> list:
    """Owner columns added by later features (e.g. a listing's commitment letter)."""
    return [column.is_(None) for name, column in Attachment.__table__.columns.items()
            if name.endswith("_id") and name not in {
                "id", "tip_id", "case_event_id", "message_id", "derived_from_id",
                "uploaded_by_id"}]
