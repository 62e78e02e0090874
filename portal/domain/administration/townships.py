"""The county's townships: which one a village, tip or case belongs to, and the departments a
township names for its office duties.

A tip, a unit and a case belong to the township of their village (``Village.township_id``);
``of_village`` is that rule in SQL, for every query that narrows to townships.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import Session, joinedload, selectinload

from portal.domain.administration import settings as portal_settings
from portal.domain.models import Department, Township, Village

# The duties a township names a department for; the county's setting of the same key is the
# fallback (the major-hazard lead is always the county's fire brigade).
TOWNSHIP_DUTIES = ("office_department", "penalty_department")


def of_village(village_column: Any, township_ids: Collection[int] | None
               ) -> ColumnElement[bool]:
    """SQL: the row whose village is ``village_column`` lies in one of ``township_ids``
    (None: every township)."""
    if township_ids is None:
        return true()
    return village_column.in_(
        select(Village.id).where(Village.township_id.in_(sorted(township_ids))))


def newest_of(column: Any, village_column: Any, township_id: int) -> Select[Any]:
    """SQL: the largest ``column`` among the rows in ``township_id``'s villages, read village
    by village: one probe per village on an index over (``village_column``, ``column``).

    ``max(column) WHERE village IN (…)`` walks the primary key back past every newer row of
    the other townships: at a county's size, 45 ms for the first township's newest tip."""
    per_village = (select(func.max(column)).where(village_column == Village.id)
                   .correlate(Village).scalar_subquery())
    return select(func.max(per_village)).where(Village.township_id == township_id)


def duty_candidates(session: Session, township: Township | None) -> list[Department]:
    """The departments a township may name for its office duties: the active ones serving it;
    for a township not yet saved, the county departments that serve every township (they will
    serve it too, ``serve_new_township``)."""
    query = select(Department).where(Department.active.is_(True))
    if township is None or township.id is None:
        query = query.where(Department.id.in_(serving_all(session)))
    else:
        query = query.where(Department.serves.any(Township.id == township.id))
    return list(session.scalars(query.order_by(Department.name)))


def serving_all(session: Session) -> list[int]:
    """The county departments serving every active township."""
    everyone = set(session.scalars(select(Township.id).where(Township.active.is_(True))))
    return [d.id for d in session.scalars(
        select(Department).where(Department.township_id.is_(None))
        .options(selectinload(Department.serves)))
        if everyone <= {t.id for t in d.serves}]


def serve_new_township(session: Session, township: Township, department_ids: list[int]
                       ) -> None:
    """A new township is served by the county departments that served every township before
    it (``serving_all``, read before it was made)."""
    for department_id in department_ids:
        department = session.get(Department, department_id)
        if department is not None and township not in department.serves:
            department.serves.append(township)


def duty_error(session: Session, township: Township | None, values: dict[str, Any]
               ) -> str | None:
    """Why ``values`` may not name these duty departments for ``township``, or None."""
    allowed = {d.code for d in duty_candidates(session, township)}
    for key in TOWNSHIP_DUTIES:
        code = values.get(key) or ""
        if code and code not in allowed:
            return f"部门 {code} 不服务本乡镇或已停用，不能担任本乡镇的消安办或执法部门"
    return None


def active(session: Session) -> list[Township]:
    return list(session.scalars(select(Township).where(Township.active.is_(True))
                                .order_by(Township.sort_order, Township.id)))


def township_choices(session: Session, township_ids: Collection[int] | None
                     ) -> list[tuple[int, str]]:
    """(id, name) of the active townships among ``township_ids`` (None: every one), for a
    form where staff choose the township a thing is for: the county's staff any, a
    township's staff their own."""
    return [(t.id, t.name) for t in active(session)
            if township_ids is None or t.id in township_ids]


def by_code(session: Session, code: str) -> Township | None:
    return session.scalar(select(Township).where(Township.code == code,
                                                 Township.active.is_(True)))


def duty_department(session: Session, key: str, township: Township | None
                    ) -> Department | None:
    """The active department named for ``key`` by the township, else by the county."""
    code = getattr(township, key, "") if township is not None and key in TOWNSHIP_DUTIES else ""
    code = code or portal_settings.jurisdiction(session).get(key)
    if not code:
        return None
    return session.scalar(select(Department).where(Department.code == code,
                                                   Department.active.is_(True)))


def serves(department: Department, township_id: int) -> bool:
    return township_id in {t.id for t in department.serves}


def place_name(county: str, township: Township | None) -> str:
    """How a page or a letterhead names its place: the county, or the county's township."""
    return county if township is None else f"{county}{township.name}"


def office_name(county: str, township: Township | None) -> str:
    """The office a staff account works for, as its pages head it: "平顺县 · 阳高乡", or
    "平顺县（县级）" for the county's own staff."""
    return f"{county}（县级）" if township is None else f"{county} · {township.name}"


def village_label(name: str, township: str) -> str:
    """A village named for whoever sees more than one township: village names repeat across
    townships (two may each have a 东庄村)."""
    return f"{name}（{township}）"


def villages_in(session: Session, township_ids: Collection[int] | None) -> list[Village]:
    """The active villages of ``township_ids`` (None: every township), township by township,
    each with its township loaded."""
    return list(session.scalars(
        select(Village).join(Village.township).options(joinedload(Village.township))
        .where(Village.active.is_(True), of_village(Village.id, township_ids))
        .order_by(Township.sort_order, Township.id, Village.sort_order, Village.id)))


def village_choices(session: Session, township_ids: Collection[int] | None
                    ) -> list[tuple[int, str]]:
    """(id, label) for a form's village choice: named with the township where the choice
    spans more than one. Plain columns, in ``villages_in``'s order: the public form draws
    every village of the county on each view, and loading them as objects cost more than
    the query."""
    several = township_ids is None or len(township_ids) > 1
    rows = session.execute(
        select(Village.id, Village.name, Township.name).join(Village.township)
        .where(Village.active.is_(True), of_village(Village.id, township_ids))
        .order_by(Township.sort_order, Township.id, Village.sort_order, Village.id))
    return [(id_, village_label(name, township) if several else name)
            for id_, name, township in rows]
