"""The audit trail: every staff write and every read of a reporter's identity.

Rows are append-only and chained: each holds a digest of its own content together with the
previous row's hash, so an edited or deleted row breaks the chain at that point.

The digest is an HMAC-SHA256 keyed by ``PORTAL_AUDIT_KEY``, a secret the database does not
hold, so whoever can write the table still cannot re-hash an edited row. Rows written before
the key was introduced carry a plain SHA-256; the first keyed row (action ``audit.keyed``)
covers the last of them, and verification checks them the old way up to it.

A chain cut off at its end is still whole, so its head is also anchored outside the database:
``checkpoint`` appends the signed head to a file (``PORTAL_AUDIT_CHECKPOINT_FILE``), and
``verify`` fails when a checkpointed row is missing or differs. Rows written after the last
checkpoint and removed before the next one cannot be detected that way; run the checkpoint
often (cron) and keep the file where the database's owner cannot rewrite it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from portal.domain.clock import utcnow
from portal.domain.models import AuditLog, User

GENESIS_HASH = "0" * 64
# The action of the first keyed row; rows before it were hashed without the key.
KEYED_ACTION = "audit.keyed"
# Any constant works; it only has to be the same in every process.
_CHAIN_LOCK_KEY = 7_311_911

# Per database engine, so that apps built side by side (tests) each keep their own key.
_keys: WeakKeyDictionary[Engine, bytes] = WeakKeyDictionary()


class AuditError(RuntimeError):
    """The audit trail cannot do what was asked; the message says why."""


def configure(engine: Engine, key: str) -> None:
    """Key the chain kept through ``engine`` (``PORTAL_AUDIT_KEY``); called when the app is
    built."""
    if not key:
        raise AuditError("PORTAL_AUDIT_KEY is empty")
    _keys[engine] = key.encode()


def _key(session: Session) -> bytes:
    key = _keys.get(session.get_bind().engine)
    if key is None:
        raise AuditError("no audit key configured for this database (PORTAL_AUDIT_KEY)")
    return key


def _canonical(row: AuditLog) -> bytes:
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
    return json.dumps(payload, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode()


def _digest(row: AuditLog, key: bytes | None = None) -> str:
    """The row's hash: keyed (HMAC-SHA256) when ``key`` is given, else the old plain SHA-256."""
    if key:
        return hmac.new(key, _canonical(row), hashlib.sha256).hexdigest()
    return hashlib.sha256(_canonical(row)).hexdigest()


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
    key = _key(session)
    if session.get_bind().dialect.name == "postgresql":
        # Serialise writers so that two transactions never chain onto the same row.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    last = session.execute(
        select(AuditLog.id, AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)).first()
    prev = last.hash if last else GENESIS_HASH
    if session.scalar(select(AuditLog.id).where(AuditLog.action == KEYED_ACTION).limit(1)) is None:
        switch = _append(session, key, prev, KEYED_ACTION, "audit_log", "", after={
            "unkeyed_head": {"row_id": last.id if last else None, "hash": prev}})
        prev = switch.hash
    return _append(session, key, prev, action, object_type, str(object_id), actor=actor,
                   before=before, after=after, ip=ip)


def _append(session: Session, key: bytes, prev: str, action: str, object_type: str,
            object_id: str, *, actor: User | None = None, before: dict[str, Any] | None = None,
            after: dict[str, Any] | None = None, ip: str = "") -> AuditLog:
    row = AuditLog(
        created_at=utcnow().replace(microsecond=0),
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        ip=ip,
        prev_hash=prev,
    )
    row.hash = _digest(row, key)
    session.add(row)
    session.flush()
    return row


def head(session: Session) -> AuditLog | None:
    """The newest row: its hash stands for the whole chain up to it."""
    return session.scalar(select(AuditLog).order_by(AuditLog.id.desc()).limit(1))


@dataclass(frozen=True)
class ChainBreak:
    row_id: int
    reason: str


@dataclass(frozen=True)
class Checkpoint:
    at: str
    row_id: int
    hash: str

    def line(self, key: bytes) -> str:
        return f"{self.at} {self.row_id} {self.hash} {self._signature(key)}"

    def _signature(self, key: bytes) -> str:
        return hmac.new(key, f"{self.at} {self.row_id} {self.hash}".encode(),
                        hashlib.sha256).hexdigest()

    @classmethod
    def parse(cls, line: str, key: bytes) -> Checkpoint | None:
        """The checkpoint a line holds, or None if it is malformed or not signed with ``key``."""
        parts = line.split()
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        checkpoint = cls(parts[0], int(parts[1]), parts[2])
        if not hmac.compare_digest(checkpoint._signature(key), parts[3]):
            return None
        return checkpoint


def checkpoint(session: Session, path: str | Path) -> Checkpoint:
    """Verify the chain, then append its signed head to ``path`` (opened for appending only)."""
    key = _key(session)
    broken = verify(session, path)
    if broken is not None:
        raise AuditError(f"审计日志第 {broken.row_id} 条记录校验失败：{broken.reason}")
    newest = head(session)
    if newest is None:
        raise AuditError("审计日志为空，没有可记录的链头")
    point = Checkpoint(utcnow().replace(microsecond=0).isoformat(), newest.id, newest.hash)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(fd, "a") as fh:
        fh.write(point.line(key) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return point


def _checkpoints(path: str | Path | None, key: bytes) -> tuple[dict[int, Checkpoint],
                                                                ChainBreak | None]:
    if path is None or not Path(path).exists():
        return {}, None
    points: dict[int, Checkpoint] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        point = Checkpoint.parse(line, key)
        if point is None:
            parts = line.split()
            row_id = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            return {}, ChainBreak(row_id, f"检查点文件第 {number} 行签名无效：检查点被伪造或改动")
        points[point.row_id] = point
    return points, None


def verify(session: Session, checkpoint_file: str | Path | None = None,
           batch: int = 1000) -> ChainBreak | None:
    """The first row whose content or link does not match, or whose checkpoint in
    ``checkpoint_file`` it contradicts, or a checkpointed row that is gone; None if whole."""
    key = _key(session)
    points, bad_file = _checkpoints(checkpoint_file, key)
    if bad_file is not None:
        return bad_file
    expected_prev = GENESIS_HASH
    keyed = False
    for row in _rows(session, batch):
        if row.prev_hash != expected_prev:
            return ChainBreak(row.id, "链接断开：上一条记录被删除或改动")
        keyed = keyed or row.action == KEYED_ACTION
        if _digest(row, key if keyed else None) != row.hash:
            if keyed and _digest(row) == row.hash:
                return ChainBreak(
                    row.id, "内容与哈希不符：此条记录被改动，并用旧的无密钥方法重算了哈希")
            return ChainBreak(row.id, "内容与哈希不符：此条记录被改动")
        point = points.pop(row.id, None)
        if point is not None and point.hash != row.hash:
            return ChainBreak(row.id, f"与 {point.at} 的检查点不符：此条记录被改动")
        expected_prev = row.hash
    if points:
        point = max(points.values(), key=lambda p: p.row_id)
        return ChainBreak(point.row_id,
                          f"{point.at} 的检查点记录的此条已不存在：最新的记录被删除")
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
