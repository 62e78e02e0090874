from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from portal.domain.access import audit
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
