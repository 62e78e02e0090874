"""Backups restore, retention erases what it promises, and no upload is orphaned for good."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import create_app
from portal.domain.administration import retention
from portal.domain.clock import utcnow
from portal.domain.enums import CaseOutcome, CaseStatus, RejectReason, TipStatus
from portal.domain.models import Attachment, Tip
from portal.domain.reporting.uploads import process_image, store_image
from portal.identity import upload_limits
from portal.storage import DirectoryStorage
from tests import factories, images
from tests.conftest import DEMO_JURISDICTION, TEST_FIELD_KEY, TEST_SECRET


@pytest.fixture
def store(tmp_path) -> DirectoryStorage:
    return DirectoryStorage(tmp_path / "uploads")


def _photo(app, session: Session, store: DirectoryStorage) -> Attachment:
    with app.app_context():
        return store_image(session, store, process_image(images.png((40, 40), "RGB"),
                                                         upload_limits()))


def test_sqlite_backup_and_restore_round_trip(tmp_path) -> None:
    db_file = tmp_path / "live.db"
    app = create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET, "FIELD_KEYS": TEST_FIELD_KEY,
                      "RECEIPT_KEY": "k" * 40, "DATABASE_URL": f"sqlite:///{db_file}",
                      "UPLOAD_DIR": str(tmp_path / "up")})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["portal", "load-jurisdiction", str(DEMO_JURISDICTION)]
                         ).exit_code == 0
    backup_file = tmp_path / "backup.db"
    result = runner.invoke(args=["backup", "--output", str(backup_file)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(backup_file) as conn:
        assert conn.execute("SELECT count(*) FROM villages").fetchone()[0] == 10

    with sqlite3.connect(db_file) as conn:
        conn.execute("DELETE FROM routing_rule_assists")
        conn.execute("DELETE FROM routing_rules")
    result = runner.invoke(args=["restore", str(backup_file), "--yes"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT count(*) FROM routing_rules").fetchone()[0] == 34


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL run only")
def test_postgresql_backup_writes_a_dump(runner, tmp_path) -> None:
    out = tmp_path / "pg.dump"
    result = runner.invoke(args=["backup", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:5] == b"PGDMP"


def test_old_spam_is_purged_with_its_photos(app, db_session: Session, store) -> None:
    old = utcnow() - dt.timedelta(days=100)
    spam = factories.make_tip(db_session, status=TipStatus.REJECTED,
                              reject_reason=RejectReason.SPAM, decided_at=old)
    recent = factories.make_tip(db_session, status=TipStatus.REJECTED,
                                reject_reason=RejectReason.SPAM, decided_at=utcnow())
    duplicate = factories.make_tip(db_session, status=TipStatus.REJECTED,
                                   reject_reason=RejectReason.DUPLICATE, decided_at=old)
    photo = _photo(app, db_session, store)
    photo.tip_id = spam.id
    db_session.flush()
    assert retention.purge_spam(db_session, store, older_than_days=90) == 1
    remaining = set(db_session.scalars(select(Tip.id)))
    assert spam.id not in remaining and {recent.id, duplicate.id} <= remaining
    assert not store.exists(photo.stored_name)


def test_identities_are_erased_after_the_retention_period(app, db_session: Session) -> None:
    long_ago = utcnow() - dt.timedelta(days=400)
    closed = factories.make_case(db_session, status=CaseStatus.CLOSED, routed_at=long_ago,
                                 closed_at=long_ago, outcome=CaseOutcome.UNFOUNDED)
    still_open = factories.make_case(db_session)
    tip_closed = factories.make_tip(db_session, reporter_name_enc=b"x", reporter_phone_enc=b"y",
                                    status=TipStatus.ACCEPTED, case_id=closed.id,
                                    decided_at=long_ago)
    tip_open = factories.make_tip(db_session, reporter_name_enc=b"x", status=TipStatus.ACCEPTED,
                                  case_id=still_open.id, decided_at=long_ago)
    assert retention.erase_identities(db_session, days_after_close=365) == 1
    db_session.expire_all()
    assert tip_closed.reporter_name_enc is None and tip_closed.reporter_phone_enc is None
    assert tip_open.reporter_name_enc == b"x"


def test_uploads_gc_removes_orphans_after_the_grace_period(app, db_session, store) -> None:
    kept = _photo(app, db_session, store)
    kept.tip_id = factories.make_tip(db_session).id
    staged = _photo(app, db_session, store)
    staged.created_at = utcnow() - dt.timedelta(hours=30)
    fresh_staged = _photo(app, db_session, store)
    db_session.flush()
    orphan = "o" * 32 + ".jpg"
    store.put(orphan, b"left behind by a crash")
    young_orphan = "y" * 32 + ".jpg"
    store.put(young_orphan, b"still arriving")
    old = time.time() - 30 * 3600
    os.utime(store.root / orphan, (old, old))

    report = retention.collect_uploads(db_session, store, grace_hours=24)
    assert report.orphan_files == 1 and report.staged_rows == 1
    assert not store.exists(orphan) and store.exists(young_orphan)
    assert store.exists(kept.stored_name) and store.exists(fresh_staged.stored_name)
    assert not store.exists(staged.stored_name)
