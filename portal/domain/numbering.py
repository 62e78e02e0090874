"""Numbers without gaps or repeats (urging notices, a case's documents): one rule, one place.

A number is the highest taken so far plus one, inserted inside a savepoint; the table's unique
constraint on the numbered scope decides a race, and the loser reads the new highest and takes
the next number. On SQLite the write request's ``BEGIN IMMEDIATE`` already serialises writers;
on PostgreSQL the second insert waits on the first's uncommitted row, then fails on the
constraint and retries, seeing it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

T = TypeVar("T")

ATTEMPTS = 10


def allocate(session: Session, make_candidate: Callable[[], T],
             attempts: int = ATTEMPTS) -> T | None:
    """Insert the row ``make_candidate`` builds (reading the next number afresh each time);
    the inserted row, or None when every attempt lost its race (the caller says "busy")."""
    for _ in range(attempts):
        candidate = make_candidate()
        try:
            with session.begin_nested():
                session.add(candidate)
        except IntegrityError:
            continue  # another row took this number first: read the new highest
        return candidate
    return None
