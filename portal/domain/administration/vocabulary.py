"""Writing the jurisdiction's lists: townships, villages, departments, categories, venue types
and routing rules. The one write path for both the admin screens and the jurisdiction loader
(``portal.domain.administration.jurisdiction``): the same checks (``CODE_RE``, one rule per
criteria) and the same rows; rows are deactivated, never deleted, because tips and cases keep
pointing at them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from portal.domain.access import audit
from portal.domain.access.permissions import administered_townships, manages
from portal.domain.administration import townships
from portal.domain.casework import limits
from portal.domain.casework.events import WorkflowError
from portal.domain.models import (
    Category,
    Department,
    RoutingRule,
    Township,
    User,
    VenueType,
    Village,
    department_townships,
    township_categories_off,
    township_venue_types_off,
)

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

# The lists an admin edits by code and name; the value is the audit object type.
CODED_MODELS: dict[str, type[Any]] = {
    "township": Township,
    "village": Village,
    "department": Department,
    "category": Category,
    "venue_type": VenueType,
}
_FIELDS: dict[str, tuple[str, ...]] = {
    "township": ("name", "active", "sort_order", "office_department", "penalty_department",
                 "contact"),
    "village": ("name", "township_id", "active", "sort_order", "latitude", "longitude"),
    "department": ("name", "kind", "contact", "email", "village_id", "township_id", "active",
                   "fire_powers_delegated", "document_numbering", "document_prefix"),
    "category": ("name", "description", "urgent", "needs_penalty", "check_hours",
                 "check_working_days", "active", "sort_order"),
    "venue_type": ("name", "active", "sort_order"),
}


class VocabularyError(ValueError):
    """The edit cannot be saved; the message is for the admin."""


# How a department numbers its documents (casework/documents.py): generated here per kind
# and year, or typed in from the department's own system.
DOCUMENT_NUMBERINGS = {"auto": "本系统自动编号", "manual": "本部门自行编号（制发时填写文号）"}
DOCUMENT_PREFIX_MAX = 32


def document_settings_errors(numbering: Any, prefix: Any) -> dict[str, str]:
    """Why a department's document settings cannot be stored, by field (empty: they can);
    the admin screen and the jurisdiction file both ask here."""
    errors = {}
    if numbering not in DOCUMENT_NUMBERINGS:
        errors["document_numbering"] = (
            f"文书编号方式须为 {' 或 '.join(DOCUMENT_NUMBERINGS)} 之一")
    if len(str(prefix).strip()) > DOCUMENT_PREFIX_MAX:
        errors["document_prefix"] = f"文号前缀不能超过 {DOCUMENT_PREFIX_MAX} 个字"
    return errors


def check_limit_error(*, urgent: bool, hours: int | None, working_days: int | None
                      ) -> str | None:
    """Why a category's own §18 check limit cannot be stored (``limits.validate_check_limit``,
    the legal maximum), or None."""
    try:
        limits.validate_check_limit(urgent=urgent, hours=hours, working_days=working_days)
    except WorkflowError as exc:
        return str(exc)
    return None


# The county's own lists: only county admins write them; a township admin reads them.
COUNTY_KINDS = frozenset({"township", "category", "venue_type"})


# The shared lists a township may switch off for itself: (association table, its column).
SWITCHABLE: dict[str, tuple[Any, Any]] = {
    "category": (township_categories_off, township_categories_off.c.category_id),
    "venue_type": (township_venue_types_off, township_venue_types_off.c.venue_type_id),
}


def in_use_condition(kind: str, township_id: int | None) -> ColumnElement[bool]:
    """SQL on the ``kind`` model: active, and (in a township) not switched off there."""
    model = CODED_MODELS[kind]
    condition = model.active.is_(True)
    if township_id is not None:
        table, column = SWITCHABLE[kind]
        condition = condition & model.id.not_in(
            select(column).where(table.c.township_id == township_id))
    return condition


def in_use(session: Session, kind: str, township_id: int | None) -> list[Any]:
    """The entries of a shared list (``category``, ``venue_type``) offered in a township, in
    their order: the county's active ones less those the township switched off; county-wide
    (None), every active one. Forms, filters and Open311's service list all read this."""
    model = CODED_MODELS[kind]
    return list(session.scalars(select(model).where(in_use_condition(kind, township_id))
                                .order_by(model.sort_order, model.id)))


def is_switched_off(session: Session, kind: str, entry_id: int, township_id: int) -> bool:
    """Whether the township switched this shared entry off (its ``active`` aside)."""
    table, column = SWITCHABLE[kind]
    return session.scalar(select(column).where(
        table.c.township_id == township_id, column == entry_id)) is not None


def switched_off(session: Session, kind: str, township_id: int) -> set[int]:
    table, column = SWITCHABLE[kind]
    return set(session.scalars(select(column).where(table.c.township_id == township_id)))


def switch(session: Session, kind: str, entry: Any, township: Township, *, on: bool,
           actor: User) -> None:
    """Switch a shared entry on or off for one township (its admin's or the county's choice);
    audited. The county's own ``active`` flag is untouched."""
    if kind not in SWITCHABLE:
        raise VocabularyError("只有隐患类别和场所类型可以按乡镇停用")
    if not manages(actor, township.id):
        raise VocabularyError("只能为自己管理的乡镇停用或恢复")
    table, column = SWITCHABLE[kind]
    is_off = entry.id in switched_off(session, kind, township.id)
    if is_off == (not on):
        return
    if on:
        session.execute(table.delete().where(table.c.township_id == township.id,
                                             column == entry.id))
    else:
        session.execute(table.insert().values({"township_id": township.id,
                                               column.name: entry.id}))
    audit.record(session, f"{kind}.township_{'on' if on else 'off'}", kind, entry.id,
                 actor=actor, before={"township_id": township.id, "in_use": not is_off},
                 after={"township_id": township.id, "in_use": on})
    session.flush()


def owner(kind: str, row: Any) -> int | None:
    """The township a row belongs to for its administration; None: the county's."""
    return None if kind in COUNTY_KINDS else row.township_id


def may_manage(user: User, kind: str, row: Any | None, township_id: int | None = None) -> bool:
    """May ``user`` change ``row`` (or, ``row`` None, create one in ``township_id``)?"""
    if kind in COUNTY_KINDS:
        return manages(user, None)
    return manages(user, township_id if row is None else owner(kind, row))


def _shown(kind: str, user: User) -> ColumnElement[bool]:
    """SQL: the rows of ``kind`` the admin's list shows. A township admin sees its township,
    its villages, its departments and the county departments serving it, and the shared
    vocabularies (read-only); none of another township's rows."""
    places = administered_townships(user)
    if places is None or kind in ("category", "venue_type"):
        return true()
    (mine,) = places
    if kind == "township":
        return Township.id == mine
    if kind == "village":
        return Village.township_id == mine
    return or_(Department.township_id == mine,
               Department.id.in_(select(department_townships.c.department_id)
                                 .where(department_townships.c.township_id == mine)))


def listed(session: Session, kind: str, user: User) -> list[Any]:
    """The rows of one list as the admin's screen shows them, active first."""
    model = CODED_MODELS[kind]
    order = model.sort_order if hasattr(model, "sort_order") else model.name
    return list(session.scalars(select(model).where(_shown(kind, user))
                                .order_by(model.active.desc(), order, model.id)))


def shown_row(session: Session, kind: str, row_id: int, user: User) -> Any | None:
    """One row if the admin's list shows it, else None (the screen answers 404)."""
    model = CODED_MODELS[kind]
    return session.scalar(select(model).where(model.id == row_id, _shown(kind, user)))


def serving_departments(session: Session, user: User) -> list[Department]:
    """The active departments a rule of the admin may name: for a township admin, those
    serving its township."""
    places = administered_townships(user)
    query = select(Department).where(Department.active.is_(True))
    if places is not None:
        query = query.where(Department.id.in_(
            select(department_townships.c.department_id)
            .where(department_townships.c.township_id.in_(sorted(places)))))
    return list(session.scalars(query.order_by(Department.name, Department.id)))


def listed_rules(session: Session, user: User) -> list[RoutingRule]:
    """The routing rules the admin's screen shows: a township admin's own rules and the
    county defaults (read-only for it); a county admin's, all."""
    places = administered_townships(user)
    query = select(RoutingRule)
    if places is not None:
        query = query.where(or_(RoutingRule.township_id.is_(None),
                                RoutingRule.township_id.in_(sorted(places))))
    return list(session.scalars(query.order_by(RoutingRule.active.desc(),
                                               RoutingRule.township_id.is_not(None),
                                               RoutingRule.id)))


def position_error(latitude: Any, longitude: Any) -> str | None:
    """Why a village's position cannot be stored, or None: both or neither, within range."""
    if (latitude is None) != (longitude is None):
        return "纬度和经度须同时填写"
    for value, bound, label in ((latitude, 90, "纬度"), (longitude, 180, "经度")):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not -bound <= value <= bound:
            return f"{label}须为 -{bound} 到 {bound} 之间的数"
    return None


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def save_coded(
    session: Session, kind: str, row: Any | None, /, *, code: str, actor: User | None,
    **values: Any,
) -> Any:
    """Create (``row`` None) or update one village, department, category or venue type, and
    audit the change."""
    serving_all: list[int] = []
    if kind == "township":
        problem = townships.duty_error(session, row, values)
        if problem:
            raise VocabularyError(problem)
        serving_all = townships.serving_all(session) if row is None else []
    row, before, after = write_coded(session, kind, row, code=code, **values)
    if serving_all:
        townships.serve_new_township(session, row, serving_all)
        session.flush()
    if before != after:
        audit.record(session, f"{kind}.{'create' if before is None else 'update'}", kind,
                     row.id, actor=actor, before=before, after=after)
    return row


def write_coded(
    session: Session, kind: str, row: Any | None, /, *, code: str, **values: Any,
) -> tuple[Any, dict[str, Any] | None, dict[str, Any]]:
    # Positional-only: a department's own ``kind`` (fire station, …) arrives in ``values``.
    """The write itself: (row, before, after). The loader audits a summary instead of rows."""
    model = CODED_MODELS[kind]
    code = code.strip()
    if not CODE_RE.match(code):
        raise VocabularyError("代码只能使用字母、数字、_ 和 -，最长64位")
    if not str(values.get("name", "")).strip():
        raise VocabularyError("名称不能为空")
    if row is None or row.code != code:
        clash = session.scalar(select(model).where(model.code == code))
        if clash is not None and clash is not row:
            raise VocabularyError(f"代码 {code} 已被使用")
    if kind == "village":
        problem = position_error(values.get("latitude"), values.get("longitude"))
        if problem:
            raise VocabularyError(problem)
        if values.get("township_id", getattr(row, "township_id", None)) is None:
            raise VocabularyError("请选择村所属的乡镇")
    serve_ids = values.pop("serve_ids", None)
    if kind == "department" and row is None and serve_ids is None:
        # A new county department serves every township until its list is narrowed.
        serve_ids = list(session.scalars(select(Township.id).where(Township.active.is_(True))))
    if kind == "department":
        _check_department_place(session, values, row)
    problem = _settings_error(kind, values, row)
    if problem:
        raise VocabularyError(problem)
    fields = _FIELDS[kind]

    def snapshot(row: Any) -> dict[str, Any]:
        shot = {"code": row.code, **{f: _plain(getattr(row, f)) for f in fields}}
        if kind == "department":
            shot["serves"] = sorted(t.id for t in row.serves)
        return shot

    before = None if row is None else snapshot(row)
    if row is None:
        row = model(code=code, active=True)
        session.add(row)
    row.code = code
    for field in fields:
        if field in values:
            value = values[field]
            setattr(row, field, value.strip() if isinstance(value, str) else value)
    if kind == "department":
        _set_serves(session, row, serve_ids)
    session.flush()
    return row, before, snapshot(row)


def _settings_error(kind: str, values: dict[str, Any], row: Any) -> str | None:
    """A department's document settings and a category's check limit, as they will be."""
    def value(name: str, default: Any) -> Any:
        return values[name] if name in values else getattr(row, name, default)

    if kind == "department":
        errors = document_settings_errors(value("document_numbering", "auto"),
                                          value("document_prefix", ""))
        return next(iter(errors.values()), None)
    if kind == "category":
        return check_limit_error(urgent=bool(value("urgent", False)),
                                 hours=value("check_hours", None),
                                 working_days=value("check_working_days", None))
    return None


def _check_department_place(session: Session, values: dict[str, Any], row: Any) -> None:
    """A department's village (a village committee's) lies in the department's township."""
    village_id = values.get("village_id", getattr(row, "village_id", None))
    township_id = values.get("township_id", getattr(row, "township_id", None))
    if village_id is None:
        return
    village = session.get(Village, village_id)
    if village is None or township_id is None or village.township_id != township_id:
        raise VocabularyError("村级部门须属于该村所在的乡镇")


def _set_serves(session: Session, department: Department, serve_ids: Sequence[int] | None
                ) -> None:
    """A township's own department serves exactly its township; a county department serves
    the townships listed for it (kept as they are when none are given)."""
    if department.township_id is not None:
        wanted = [session.get(Township, department.township_id)]
    elif serve_ids is not None:
        wanted = [session.get(Township, i) for i in sorted(set(serve_ids))]
    else:
        return
    if any(t is None for t in wanted):
        raise VocabularyError("服务的乡镇不存在")
    department.serves = [t for t in wanted if t is not None]


def _rule_snapshot(rule: RoutingRule) -> dict[str, Any]:
    return {
        "township_id": rule.township_id, "category_id": rule.category_id,
        "venue_type_id": rule.venue_type_id,
        "village_id": rule.village_id, "lead_department_id": rule.lead_department_id,
        "assist": sorted(d.id for d in rule.assisting_departments),
        "priority": rule.priority, "active": rule.active, "note": rule.note,
    }


def save_rule(
    session: Session,
    rule: RoutingRule | None,
    *,
    actor: User | None,
    **values: Any,
) -> RoutingRule:
    """One rule per (township, category, venue type, village), as in the jurisdiction file;
    audited."""
    rule, before, after = write_rule(session, rule, **values)
    if before != after:
        audit.record(session, f"routing_rule.{'create' if before is None else 'update'}",
                     "routing_rule", rule.id, actor=actor, before=before, after=after)
    return rule


def write_rule(
    session: Session,
    rule: RoutingRule | None,
    *,
    category_id: int | None,
    venue_type_id: int | None,
    village_id: int | None,
    lead_department_id: int,
    assist_ids: Sequence[int],
    priority: int = 0,
    active: bool = True,
    note: str = "",
    township_id: int | None = None,
) -> tuple[RoutingRule, dict[str, Any] | None, dict[str, Any]]:
    """The write itself: (rule, before, after). The loader audits a summary instead.

    ``township_id`` None is a county default; a township's own rule may name only that
    township's villages and departments that serve it."""
    if lead_department_id in assist_ids:
        raise VocabularyError("牵头部门不能同时是配合部门")
    lead = session.get(Department, lead_department_id)
    if lead is None or not lead.active:
        raise VocabularyError("请选择有效的牵头部门")
    if township_id is not None:
        village = session.get(Village, village_id) if village_id is not None else None
        if village is not None and village.township_id != township_id:
            raise VocabularyError("乡镇的分派规则只能指定本乡镇的村")
        for dept in (lead, *(session.get(Department, i) for i in assist_ids)):
            if dept is not None and township_id not in {t.id for t in dept.serves}:
                raise VocabularyError(f"{dept.name}不服务该乡镇，不能在其分派规则中指定")
    clash = session.scalar(select(RoutingRule).where(
        RoutingRule.township_id.is_(None) if township_id is None
        else RoutingRule.township_id == township_id,
        RoutingRule.category_id.is_(None) if category_id is None
        else RoutingRule.category_id == category_id,
        RoutingRule.venue_type_id.is_(None) if venue_type_id is None
        else RoutingRule.venue_type_id == venue_type_id,
        RoutingRule.village_id.is_(None) if village_id is None
        else RoutingRule.village_id == village_id,
    ))
    if clash is not None and clash is not rule:
        raise VocabularyError("已有相同条件的分派规则，请直接修改那一条")
    before = None if rule is None else _rule_snapshot(rule)
    if rule is None:
        rule = RoutingRule()
        session.add(rule)
    rule.township_id = township_id
    rule.category_id, rule.venue_type_id, rule.village_id = category_id, venue_type_id, village_id
    rule.lead_department_id = lead_department_id
    rule.assisting_departments = [
        d for d in (session.get(Department, i) for i in assist_ids) if d is not None
    ]
    rule.priority, rule.active, rule.note = priority, active, note.strip()
    session.flush()
    return rule, before, _rule_snapshot(rule)
