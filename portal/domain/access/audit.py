"""The audit trail: every staff write and every read of a reporter's identity.

Rows are append-only and chained: each holds the SHA-256 of its own content together with the
previous row's hash, so an edited or deleted row breaks the chain at that point.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.models import AuditLog, User

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same in every process.
_CHAIN_LOCK_KEY = 7_311_911


def _digest(row: AuditLog) -> str:
    payload = {
        "prev": row.prev_hash,
        "at": row.created_at.isoformat(),
        "actor_id": row.actor_id,
        "actor": row.actor_name,
        "action": row.action,
        "object": [row.object_type, row.object_id],
        "before": row.before,
        "after": row.after,
        "ip": row.ip,
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(
    session: Session,
    action: str,
    object_type: str,
    object_id: object = "",
    *,
    actor: User | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str = "",
) -> AuditLog:
    """Append one row to the chain. ``before``/``after`` must be JSON-serialisable."""
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers so that two transactions never chain onto the same row.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    prev = session.scalar(select(AuditLog.hash).order_by(AuditLog.id.desc()).limit(1))
    row = AuditLog(
        created_at=utcnow().replace(microsecond=0),
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
        ip=ip,
        prev_hash=prev or GENESIS_HASH,
    )
    row.hash = _digest(row)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class ChainBreak:
    row_id: int
    reason: str


def verify(session: Session, batch: int = 1000) -> ChainBreak | None:
    """The first row whose content or link does not match, or None if the chain is whole."""
    expected_prev = GENESIS_HASH
    for row in _rows(session, batch):
        if row.prev_hash != expected_prev:
            return ChainBreak(row.id, "链接断开：上一条记录被删除或改动")
        if _digest(row) != row.hash:
            return ChainBreak(row.id, "内容与哈希不符：此条记录被改动")
        expected_prev = row.hash
    return None


def _rows(session: Session, batch: int) -> Iterator[AuditLog]:
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditLog).where(AuditLog.id > last_id).order_by(AuditLog.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        session.expunge_all()
