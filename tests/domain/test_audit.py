from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from portal.domain.access import audit
from portal.domain.clock import utcnow
from portal.domain.models import AuditLog

pytestmark = pytest.mark.usefixtures("app")


def _three_rows(session: Session) -> list[AuditLog]:
    return [
        audit.record(session, "test.write", "thing", n, after={"n": n, "名": "值"})
        for n in range(3)
    ]


def test_each_row_chains_onto_the_one_before(db_session: Session) -> None:
    rows = _three_rows(db_session)
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert audit.verify(db_session) is None


def test_an_edited_row_is_named_by_verify(db_session: Session) -> None:
    rows = _three_rows(db_session)
    db_session.execute(update(AuditLog).where(AuditLog.id == rows[1].id)
                       .values(after={"n": 99}))
    db_session.expire_all()
    broken = audit.verify(db_session)
    assert broken is not None and broken.row_id == rows[1].id


def test_a_deleted_row_breaks_the_link_of_the_next(db_session: Session) -> None:
    rows = _three_rows(db_session)
    db_session.execute(delete(AuditLog).where(AuditLog.id == rows[1].id))
    db_session.expire_all()
    broken = audit.verify(db_session)
    assert broken is not None and broken.row_id == rows[2].id


# --- tampering by whoever can write the table but holds neither the key nor the checkpoints ---

def _rehash_the_old_way(session: Session, from_id: int) -> None:
    """What the database's owner can do without the key: edit, then re-hash onwards with the
    plain (unkeyed) SHA-256 so that every link matches again."""
    prev = session.scalar(select(AuditLog.hash).where(AuditLog.id < from_id)
                          .order_by(AuditLog.id.desc()).limit(1)) or audit.GENESIS_HASH
    for row in session.scalars(select(AuditLog).where(AuditLog.id >= from_id)
                               .order_by(AuditLog.id)).all():
        row.prev_hash = prev
        row.hash = audit._digest(row)
        prev = row.hash
    session.flush()
    session.expire_all()


def test_an_edit_rehashed_the_old_unkeyed_way_is_named(db_session: Session) -> None:
    rows = _three_rows(db_session)
    db_session.execute(update(AuditLog).where(AuditLog.id == rows[1].id)
                       .values(after={"n": 99}))
    _rehash_the_old_way(db_session, rows[1].id)
    broken = audit.verify(db_session)
    assert broken is not None and broken.row_id == rows[1].id
    assert "无密钥" in broken.reason


def test_deleting_the_newest_rows_since_the_checkpoint_is_named(db_session: Session,
                                                                  tmp_path) -> None:
    log = tmp_path / "checkpoints.log"
    rows = _three_rows(db_session)
    point = audit.checkpoint(db_session, log)
    assert point.row_id == rows[2].id and f" {rows[2].id} {rows[2].hash} " in log.read_text()
    assert audit.verify(db_session, log) is None
    db_session.execute(delete(AuditLog).where(AuditLog.id >= rows[1].id))
    db_session.expire_all()
    assert audit.verify(db_session) is None, "without the checkpoint a cut-off end looks whole"
    broken = audit.verify(db_session, log)
    assert broken is not None and broken.row_id == rows[2].id
    assert "被删除" in broken.reason


def test_a_checkpointed_row_rewritten_after_the_cut_is_named(db_session: Session,
                                                             tmp_path) -> None:
    log = tmp_path / "checkpoints.log"
    rows = _three_rows(db_session)
    audit.checkpoint(db_session, log)
    db_session.execute(update(AuditLog).where(AuditLog.id == rows[2].id)
                       .values(after={"n": 99}))
    _rehash_the_old_way(db_session, rows[2].id)
    broken = audit.verify(db_session, log)
    assert broken is not None and broken.row_id == rows[2].id


def test_a_forged_checkpoint_line_is_refused(db_session: Session, tmp_path) -> None:
    log = tmp_path / "checkpoints.log"
    rows = _three_rows(db_session)
    log.write_text(f"2026-01-01T00:00:00+00:00 {rows[0].id} {rows[0].hash} {'0' * 64}\n")
    broken = audit.verify(db_session, log)
    assert broken is not None and "签名无效" in broken.reason
    with pytest.raises(audit.AuditError):
        audit.checkpoint(db_session, log)


def test_the_unkeyed_chain_is_verified_the_old_way_up_to_the_switch(db_session: Session) -> None:
    # A log written before the key existed: plain SHA-256, no switch row.
    db_session.execute(delete(AuditLog))
    prev = audit.GENESIS_HASH
    legacy = []
    for n in range(2):
        row = AuditLog(created_at=utcnow().replace(microsecond=0), actor_name="system",
                       action="test.old", object_type="thing", object_id=str(n),
                       after={"n": n}, ip="", prev_hash=prev)
        row.hash = audit._digest(row)
        db_session.add(row)
        db_session.flush()
        legacy.append(row)
        prev = row.hash
    assert audit.verify(db_session) is None
    new = audit.record(db_session, "test.new", "thing", 9)
    switch = db_session.scalars(select(AuditLog).where(
        AuditLog.action == audit.KEYED_ACTION)).one()
    assert switch.prev_hash == legacy[-1].hash
    assert switch.after == {"unkeyed_head": {"row_id": legacy[-1].id, "hash": legacy[-1].hash}}
    assert new.prev_hash == switch.hash
    assert audit.verify(db_session) is None
    # Rewriting the old part the old way cannot be carried past the keyed switch row.
    db_session.execute(update(AuditLog).where(AuditLog.id == legacy[0].id)
                       .values(after={"n": 99}))
    _rehash_the_old_way(db_session, legacy[0].id)
    broken = audit.verify(db_session)
    assert broken is not None and broken.row_id == switch.id


def test_audit_checkpoint_then_verify_on_the_command_line(app, db_session: Session, runner,
                                                          tmp_path, monkeypatch) -> None:
    log = tmp_path / "checkpoints.log"
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_FILE", str(log))
    rows = _three_rows(db_session)
    db_session.commit()
    done = runner.invoke(args=["audit", "checkpoint"])
    assert done.exit_code == 0, done.output
    assert f"第 {rows[2].id} 条" in done.output and log.read_text().count("\n") == 1
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    db_session.execute(delete(AuditLog).where(AuditLog.id == rows[2].id))
    db_session.commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert f"第 {rows[2].id} 条" in bad.output and "被删除" in bad.output


def test_a_published_bulletin_prints_the_chains_head(client, db_session: Session) -> None:
    from portal.domain.supervision import bulletins
    from tests.domain.linkage_helpers import supervisor

    chief = supervisor(db_session)
    bulletin = bulletins.draft(db_session, dt.date(2026, 1, 1), dt.date(2026, 1, 31),
                               actor=chief, township="测试镇")
    bulletins.publish(db_session, bulletin, actor=chief)
    newest = audit.head(db_session)
    assert newest is not None and newest.action == "bulletin.publish"
    assert bulletin.figures["audit_head"] == {"row_id": newest.id, "hash": newest.hash}
    html = client.get(f"/bulletins/{bulletin.id}").get_data(as_text=True)
    assert newest.hash in html
