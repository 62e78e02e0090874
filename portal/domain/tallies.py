"""Running counts of the cases (``case_tallies``, ``department_tallies``), kept exact by the
flush that changes a case or an assignment, in the same transaction.

Every ORM flush that touches a ``Case`` or an ``Assignment`` reads the affected cases' tally
keys from the database just before it writes and again just after, and adds the difference to
the tallies: whatever the workflow did (a transition, a listing, a disclosure, a transfer, a
reopened case), the counts follow, and a rolled-back transaction rolls them back with it.
Statements that bypass the flush (``session.execute(update(Assignment)…)``, as
``workflow._claim`` does for its race-safe conditional update) must run inside ``tracked``,
which does the same before/after bookkeeping; one that does not is refused. ``rebuild`` recounts from scratch (the migration, the seed, ``flask ledger
recount``) and ``differences`` compares the tallies with a recount; the test suite checks it
after every test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, Session

from portal.domain.enums import AssignmentRole, AssignmentState
from portal.domain.models import Assignment, Case, CaseTally, DepartmentTally

# A department "has" a case while it leads it, and keeps it once the case is closed.
LEAD_STATES = (AssignmentState.PENDING, AssignmentState.ACCEPTED, AssignmentState.COMPLETED)
CASE_KEY = ("status", "outcome", "severity", "supervision_level", "disclosed", "village_id")
DEPARTMENT_KEY = ("department_id", "status")

_INFO = "portal.tallies"
_TRACKED = "portal.tallies.tracked"

CaseKey = tuple[Any, ...]


def _text(column: Any) -> Any:
    return type_coerce(column, String)  # the stored value, not the enum member


def _case_key_columns() -> list[Any]:
    return [_text(Case.status), func.coalesce(_text(Case.outcome), literal("")),
            _text(Case.severity), _text(Case.supervision_level), Case.disclosed,
            Case.village_id]


def _lead_condition() -> Any:
    return and_(Assignment.role == AssignmentRole.LEAD, Assignment.state.in_(LEAD_STATES))


def _keys(conn: Connection, case_ids: Iterable[int]) -> Counter[tuple[str, CaseKey]]:
    """The tally rows these cases count in, as they are in the database right now."""
    ids = sorted(set(case_ids))
    keys: Counter[tuple[str, CaseKey]] = Counter()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in conn.execute(select(*_case_key_columns()).where(Case.id.in_(chunk))):
            keys[("case", tuple(row))] += 1
        departments = (  # one row per (case, lead department)
            select(Assignment.case_id, Assignment.department_id, _text(Case.status))
            .join(Case, Case.id == Assignment.case_id)
            .where(Assignment.case_id.in_(chunk), _lead_condition())
            .distinct()
        )
        for _case_id, department_id, status in conn.execute(departments):
            keys[("department", (department_id, status))] += 1
    return keys


def _case_id_of(obj: Any) -> int | None:
    if isinstance(obj, Case):
        return obj.id
    case_id = obj.case_id
    if case_id is None:
        case = obj.__dict__.get("case")  # set through the relationship, not yet flushed
        case_id = case.id if case is not None else None
    return case_id


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    touched = [obj for obj in chain(session.new, session.dirty, session.deleted)
               if isinstance(obj, Case | Assignment)]
    if not touched:
        session.info.pop(_INFO, None)
        return
    known = {case_id for obj in touched if (case_id := _case_id_of(obj)) is not None}
    before = _keys(session.connection(), known) if known else Counter()
    session.info[_INFO] = (touched, known, before)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    pending = session.info.pop(_INFO, None)
    if pending is None:
        return
    touched, known, before = pending
    # New cases (and new assignments of new cases) have their ids now.
    ids = known | {case_id for obj in touched if (case_id := _case_id_of(obj)) is not None}
    after = _keys(session.connection(), ids)
    delta = Counter(after)
    delta.subtract(before)
    apply(session.connection(), delta)


@contextmanager
def tracked(session: Session, case_ids: Iterable[int]) -> Iterator[None]:
    """Keep the tallies of these cases exact across statements that bypass the flush."""
    session.flush()
    ids = set(case_ids)
    before = _keys(session.connection(), ids)
    session.info[_TRACKED] = True
    try:
        yield
    finally:
        session.info.pop(_TRACKED, None)
    delta = Counter(_keys(session.connection(), ids))
    delta.subtract(before)
    apply(session.connection(), delta)


@event.listens_for(Session, "do_orm_execute")
def _refuse_untracked(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.session.info.get(_TRACKED):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in (Case, Assignment):
        raise RuntimeError("UPDATE/DELETE of cases or assignments outside tallies.tracked() "
                           "would leave the case tallies wrong")


def apply(conn: Connection, delta: Counter[tuple[str, CaseKey]]) -> None:
    """Add ``delta`` to the tallies, in key order (two transactions touching the same rows
    lock them in the same order)."""
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for (kind, key), n in sorted(delta.items(), key=lambda item: (item[0][0], repr(item[0][1]))):
        if n == 0:
            continue
        table, names = ((CaseTally.__table__, CASE_KEY) if kind == "case"
                        else (DepartmentTally.__table__, DEPARTMENT_KEY))
        stmt = upsert(table).values(**dict(zip(names, key, strict=True)), n=n)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=list(names), set_={"n": table.c.n + stmt.excluded.n}))


# ---------------------------------------------------------------- recount and check


def _recount_case() -> Any:
    columns = _case_key_columns()
    return select(*columns, func.count()).group_by(*columns)


def _recount_department() -> Any:
    per_case = (
        select(Assignment.case_id, Assignment.department_id)
        .where(_lead_condition()).distinct().subquery()
    )
    status = _text(Case.status)
    return (
        select(per_case.c.department_id, status, func.count())
        .join(Case, Case.id == per_case.c.case_id)
        .group_by(per_case.c.department_id, status)
    )


def recount(conn: Connection) -> Counter[tuple[str, CaseKey]]:
    counts: Counter[tuple[str, CaseKey]] = Counter()
    for *key, n in conn.execute(_recount_case()):
        counts[("case", tuple(key))] = n
    for *key, n in conn.execute(_recount_department()):
        counts[("department", tuple(key))] = n
    return counts


def stored(conn: Connection) -> Counter[tuple[str, CaseKey]]:
    counts: Counter[tuple[str, CaseKey]] = Counter()
    case_columns = [CaseTally.__table__.c[name] for name in CASE_KEY]
    for *key, n in conn.execute(select(*case_columns, CaseTally.n).where(CaseTally.n != 0)):
        counts[("case", tuple(key))] = n
    department_columns = [DepartmentTally.__table__.c[name] for name in DEPARTMENT_KEY]
    for *key, n in conn.execute(select(*department_columns, DepartmentTally.n)
                                .where(DepartmentTally.n != 0)):
        counts[("department", tuple(key))] = n
    return counts


def differences(conn: Connection) -> dict[tuple[str, CaseKey], tuple[int, int]]:
    """``{key: (stored, recounted)}`` for every tally row that is wrong; empty when exact."""
    have, want = stored(conn), recount(conn)
    return {key: (have[key], want[key]) for key in set(have) | set(want)
            if have[key] != want[key]}


def rebuild(conn: Connection) -> int:
    """Recount every tally from the cases; returns the number of rows written."""
    conn.execute(delete(CaseTally))
    conn.execute(delete(DepartmentTally))
    rows = 0
    case_rows = [dict(zip((*CASE_KEY, "n"), row, strict=True))
                 for row in conn.execute(_recount_case())]
    department_rows = [dict(zip((*DEPARTMENT_KEY, "n"), row, strict=True))
                       for row in conn.execute(_recount_department())]
    if case_rows:
        conn.execute(insert(CaseTally), case_rows)
        rows += len(case_rows)
    if department_rows:
        conn.execute(insert(DepartmentTally), department_rows)
        rows += len(department_rows)
    return rows
