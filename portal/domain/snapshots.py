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

from sqlalchemy import or_, select, update
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
    row = session.execute(
        select(FigureSnapshot.stamp, FigureSnapshot.body, FigureSnapshot.computed_at)
        .where(FigureSnapshot.key == key)).first()
    return Snapshot(*row) if row is not None else None


def claim(session: Session, key: str, now: dt.datetime) -> bool:
    """Whether this process should compute ``key`` now: no other holds a claim younger than
    ``CLAIM_SECONDS``. An entry never stored yet is anyone's (two processes may then both
    compute it once)."""
    taken = session.execute(
        update(FigureSnapshot)
        .where(FigureSnapshot.key == key,
               or_(FigureSnapshot.claimed_at.is_(None),
                   FigureSnapshot.claimed_at < now - dt.timedelta(seconds=CLAIM_SECONDS)))
        .values(claimed_at=now).execution_options(synchronize_session=False))
    if getattr(taken, "rowcount", 0):
        return True
    return session.execute(select(FigureSnapshot.key).where(FigureSnapshot.key == key)
                           ).first() is None


def store(session: Session, key: str, stamp: str, body: str, now: dt.datetime) -> None:
    """Keep ``body`` as the figures of ``key`` exact for ``stamp``, and release the claim."""
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = upsert(FigureSnapshot).values(key=key, stamp=stamp, body=body, computed_at=now,
                                         claimed_at=None)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[FigureSnapshot.key],
        set_={"stamp": stmt.excluded.stamp, "body": stmt.excluded.body,
              "computed_at": stmt.excluded.computed_at, "claimed_at": None}))
