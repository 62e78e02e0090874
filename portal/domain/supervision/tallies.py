"""Running counts of the cases (``case_tallies``, ``category_tallies``,
``department_tallies``), kept exact by the flush that changes a case or an assignment, in the
same transaction.

Every ORM flush that touches a ``Case`` or an ``Assignment`` reads the affected cases' tally
keys from the database just before it writes and again just after, and adds the difference to
the tallies: whatever the workflow did (a transition, a listing, a disclosure, a transfer, a
reopened case), the counts follow, and a rolled-back transaction rolls them back with it.
Statements that bypass the flush (``session.execute(update(Assignment)…)``, as
``workflow._claim`` does for its race-safe conditional update) must run inside ``tracked``,
which does the same before/after bookkeeping; one that does not is refused.

``rebuild`` recounts from scratch (the seed, ``flask --app wsgi ledger recount``) and
``differences`` compares the tallies with a recount (``ledger recount --check``); the test
suite checks it after every test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any, TypedDict, Unpack

from sqlalchemy import (
    Connection,
    String,
    delete,
    event,
    func,
    insert,
    literal,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, Session

from portal.domain.casework import leads
from portal.domain.enums import (
    CaseOutcome,
    CaseStatus,
    Severity,
    SupervisionLevel,
)
from portal.domain.models import (
    Assignment,
    Case,
    CaseTally,
    CategoryTally,
    DepartmentTally,
    Village,
)

# A department "has" a case while it leads it, and keeps it once the case is closed.

_INFO = "portal.tallies"
_TRACKED = "portal.tallies.tracked"

TallyKey = tuple[str, tuple[Any, ...]]  # (kind, key values)


def _text(column: Any) -> Any:
    return type_coerce(column, String)  # the stored value, not the enum member


def _outcome() -> Any:
    return func.coalesce(_text(Case.outcome), literal(""))


def _lead_condition() -> Any:
    return leads.is_lead(Assignment)


# kind -> (table, key column names, the case columns the key is made of)
_CASE_KINDS: dict[str, tuple[Any, tuple[str, ...], Any]] = {
    "case": (CaseTally, ("status", "outcome", "severity", "supervision_level", "disclosed",
                         "village_id"),
             lambda: [_text(Case.status), _outcome(), _text(Case.severity),
                      _text(Case.supervision_level), Case.disclosed, Case.village_id]),
    "category": (CategoryTally, ("category_id", "status", "outcome", "village_id"),
                 lambda: [Case.category_id, _text(Case.status), _outcome(), Case.village_id]),
}
DEPARTMENT_KEY = ("department_id", "status", "village_id")
TABLES = {kind: (table, names) for kind, (table, names, _c) in _CASE_KINDS.items()}
TABLES["department"] = (DepartmentTally, DEPARTMENT_KEY)


def _department_rows(where: Any) -> Any:
    """One row per (case, lead department): (department, status, village)."""
    per_case = (select(Assignment.case_id, Assignment.department_id)
                .where(_lead_condition(), where).distinct().subquery())
    return (select(per_case.c.department_id, _text(Case.status), Case.village_id)
            .join(Case, Case.id == per_case.c.case_id))


def _keys(conn: Connection, case_ids: Iterable[int]) -> Counter[TallyKey]:
    """The tally rows these cases count in, as they are in the database right now."""
    ids = sorted(set(case_ids))
    keys: Counter[TallyKey] = Counter()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        columns = {kind: columns() for kind, (_t, _n, columns) in _CASE_KINDS.items()}
        flat = [column for kind_columns in columns.values() for column in kind_columns]
        for row in conn.execute(select(*flat).where(Case.id.in_(chunk))):
            at = 0
            for kind, kind_columns in columns.items():
                keys[(kind, tuple(row[at:at + len(kind_columns)]))] += 1
                at += len(kind_columns)
        for row in conn.execute(_department_rows(Assignment.case_id.in_(chunk))):
            keys[("department", tuple(row))] += 1
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


def apply(conn: Connection, delta: Counter[TallyKey]) -> None:
    """Add ``delta`` to the tallies, in key order (two transactions touching the same rows
    lock them in the same order)."""
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for (kind, key), n in sorted(delta.items(), key=lambda item: (item[0][0], repr(item[0][1]))):
        if n == 0:
            continue
        model, names = TABLES[kind]
        table = model.__table__
        stmt = upsert(table).values(**dict(zip(names, key, strict=True)), n=n)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=list(names), set_={"n": table.c.n + stmt.excluded.n}))


# ---------------------------------------------------------------- reading them


class Narrowing(TypedDict, total=False):
    """What a sum of the tallies may be narrowed by (``_narrowed`` says which tally
    answers): every reader passes its narrowing as these keywords, so a misspelt or
    mistyped one is a type error rather than a ``TypeError`` at the first request."""
    department_id: int | None
    village_id: int | None
    category_id: int | None
    severity: Severity | None
    supervision: SupervisionLevel | None
    listed: bool
    outcome: CaseOutcome | None
    disclosed: bool | None
    township_id: int | None


def sums(session: Session, statuses: Iterable[CaseStatus], *, by: str | None = None,
         **narrowing: Unpack[Narrowing]) -> dict[Any, int]:
    """Cases in ``statuses`` narrowed by the other arguments (``_narrowed``), in all
    (``{None: n}``) or per ``by`` ("status", "village", "township", "category" or
    "department")."""
    model, where = _narrowed(statuses, by=by, **narrowing)
    if by is None:
        return {None: int(session.scalar(select(func.sum(model.n)).where(*where)) or 0)}
    if by == "township":
        rows = session.execute(
            select(Village.township_id, func.sum(model.n))
            .join(Village, Village.id == model.village_id).where(*where)
            .group_by(Village.township_id))
        return {k: int(n) for k, n in rows if n}
    key = getattr(model, {"status": "status", "village": "village_id",
                          "category": "category_id", "department": "department_id"}[by])
    rows = session.execute(select(key, func.sum(model.n)).where(*where).group_by(key))
    wrap = CaseStatus if by == "status" else (lambda value: value)
    return {wrap(k): int(n) for k, n in rows if n}


def totals(session: Session, *asked: tuple[Iterable[CaseStatus], Narrowing]) -> list[int]:
    """Several totals of ``sums`` (each a status list and its narrowing) in one round trip:
    a page of headline figures asks for six."""
    queries = []
    for statuses, narrowing in asked:
        model, where = _narrowed(statuses, **narrowing)
        queries.append(select(func.sum(model.n)).where(*where).scalar_subquery())
    return [int(n or 0) for n in session.execute(select(*queries)).one()]


def _narrowed(statuses: Iterable[CaseStatus], *, by: str | None = None,
              department_id: int | None = None, village_id: int | None = None,
              category_id: int | None = None, severity: Severity | None = None,
              supervision: SupervisionLevel | None = None, listed: bool = False,
              outcome: CaseOutcome | None = None, disclosed: bool | None = None,
              township_id: int | None = None) -> tuple[Any, list[Any]]:
    """The tally that can answer, and its conditions: cases in ``statuses`` narrowed by the
    other arguments; ``township_id`` narrows to the township's villages (every tally is kept
    per village). A department or a category (as a narrowing or as ``by``) is read from its
    own tally, which holds only the status (and, for categories, the outcome) besides."""
    narrowing = {"village_id": village_id, "severity": severity,
                 "supervision_level": supervision, "outcome": outcome, "disclosed": disclosed,
                 "category_id": category_id, "department_id": department_id}
    given = {name for name, value in narrowing.items() if value is not None}
    if listed:
        given.add("supervision_level")
    if department_id is not None or by == "department":
        kind = "department"
    elif category_id is not None or by == "category":
        kind = "category"
    else:
        kind = "case"
    model, names = TABLES[kind]
    if not given <= set(names):
        raise ValueError(f"the {kind} tally has no {sorted(given - set(names))}")
    where = [model.status.in_(sorted(s.value for s in statuses))]
    for name, value in narrowing.items():
        if value is not None:
            where.append(getattr(model, name) == getattr(value, "value", value))
    if listed:
        where.append(model.supervision_level != SupervisionLevel.NONE.value)
    if township_id is not None:
        where.append(model.village_id.in_(
            select(Village.id).where(Village.township_id == township_id)))
    return model, where


# ---------------------------------------------------------------- recount and check


def _recounts() -> dict[str, Any]:
    queries = {}
    for kind, (_t, _n, columns) in _CASE_KINDS.items():
        key = columns()
        queries[kind] = select(*key, func.count()).group_by(*key)
    rows = _department_rows(true()).subquery()
    queries["department"] = (select(*rows.c, func.count()).group_by(*rows.c))
    return queries


def recount(conn: Connection) -> Counter[TallyKey]:
    counts: Counter[TallyKey] = Counter()
    for kind, query in _recounts().items():
        for *key, n in conn.execute(query):
            counts[(kind, tuple(key))] = n
    return counts


def stored(conn: Connection) -> Counter[TallyKey]:
    counts: Counter[TallyKey] = Counter()
    for kind, (model, names) in TABLES.items():
        columns = [model.__table__.c[name] for name in names]
        for *key, n in conn.execute(select(*columns, model.n).where(model.n != 0)):
            counts[(kind, tuple(key))] = n
    return counts


def differences(conn: Connection) -> dict[TallyKey, tuple[int, int]]:
    """``{key: (stored, recounted)}`` for every tally row that is wrong; empty when exact."""
    have, want = stored(conn), recount(conn)
    return {key: (have[key], want[key]) for key in set(have) | set(want)
            if have[key] != want[key]}


def rebuild(conn: Connection) -> int:
    """Recount every tally from the cases; returns the number of rows written."""
    written = 0
    queries = _recounts()
    for kind, (model, names) in TABLES.items():
        conn.execute(delete(model))
        rows = [dict(zip((*names, "n"), row, strict=True)) for row in conn.execute(queries[kind])]
        if rows:
            conn.execute(insert(model), rows)
            written += len(rows)
    return written
