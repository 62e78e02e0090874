"""Figures shared by every process (``FigureSnapshot``): read with the caller's session,
claimed and stored in a transaction of their own (the caller's ``side_transaction``), so
that a page's read-only transaction stays read-only and a failed store never undoes, or
retries, the page that computed it.

A snapshot is keyed by what it is (``"stats|charts|3"``) and stamped with what it is exact
for (the data version and the minute); the web layer's ``FigureCache`` decides what to do
with a stale one. The body is JSON text: the caller encodes and decodes its own values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from portal.domain.models import FigureSnapshot

# A process that claimed an entry and did not store it within this long (it died, or its
# database went away) no longer holds it: another may compute the entry.
CLAIM_SECONDS = 30


@dataclass(frozen=True)
class Snapshot:
    stamp: str
    body: str
    computed_at: dt.datetime


def read(session: Session, key: str) -> Snapshot | None:
    """The snapshot of ``key``; None if there is none yet (or only the claim of the first
    process computing it)."""
    row = session.execute(
        select(FigureSnapshot.stamp, FigureSnapshot.body, FigureSnapshot.computed_at)
        .where(FigureSnapshot.key == key)).first()
    return Snapshot(*row) if row is not None and row.body else None


def claim(session: Session, key: str, now: dt.datetime) -> bool:
    """Whether this process should compute ``key`` now: no other holds a claim younger than
    ``CLAIM_SECONDS``. The first claim of an entry never stored is a row without figures,
    so that of the workers starting cold together one computes and the others wait."""
    # On the table, not the entity: an ORM bulk statement reports no row count on PostgreSQL.
    table: Table = FigureSnapshot.__table__  # type: ignore[assignment]
    taken = session.connection().execute(
        update(table)
        .where(table.c.key == key,
               or_(table.c.claimed_at.is_(None),
                   table.c.claimed_at < now - dt.timedelta(seconds=CLAIM_SECONDS)))
        .values(claimed_at=now))
    if taken.rowcount == 1:
        return True
    stmt = _upsert(session)(table).values(key=key, stamp="", body="", computed_at=now,
                                          claimed_at=now)
    # RETURNING tells whether the row went in (psycopg reports no row count for an INSERT).
    created = session.connection().execute(
        stmt.on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key))
    return created.first() is not None


def _upsert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def store(session: Session, key: str, stamp: str, body: str, now: dt.datetime) -> None:
    """Keep ``body`` as the figures of ``key`` exact for ``stamp``, and release the claim."""
    stmt = _upsert(session)(FigureSnapshot).values(key=key, stamp=stamp, body=body, computed_at=now,
                                         claimed_at=None)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[FigureSnapshot.key],
        set_={"stamp": stmt.excluded.stamp, "body": stmt.excluded.body,
              "computed_at": stmt.excluded.computed_at, "claimed_at": None}))
