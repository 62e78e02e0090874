"""Loading a jurisdiction file: the county's townships, their villages and departments, the
shared vocabularies and the routing table (county defaults and townships' own rules).

A file without ``[[townships]]`` (the single-township format before issue 18) is read as a
county of one township, code ``t1``, named after ``[jurisdiction] name``, which holds every
village, department and rule of the file, the same as the upgrade migration (0012) does.

The same functions back the CLI (`portal load-jurisdiction`) and, later, the admin screens.
Loading is idempotent: rows are matched by code (routing rules by their criteria), updated in
place, and whatever the file no longer lists is deactivated rather than deleted, because tips
and cases keep pointing at it.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.access import audit
from portal.domain.administration import settings as portal_settings
from portal.domain.administration.vocabulary import (
    CODE_RE,
    CODED_MODELS,
    check_limit_error,
    document_settings_errors,
    position_error,
    write_coded,
    write_rule,
)
from portal.domain.enums import DepartmentKind
from portal.domain.models import RoutingRule, Township, User


class JurisdictionError(ValueError):
    """The file cannot be loaded; the message names the line and the key."""


@dataclass
class LoadReport:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deactivated: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        tables = sorted(set(self.created) | set(self.updated) | set(self.deactivated))
        return "；".join(
            f"{t}：新增 {self.created[t]}，更新 {self.updated[t]}，停用 {self.deactivated[t]}"
            for t in tables
        )


@dataclass(frozen=True)
class _Field:
    name: str
    kind: type | tuple[type, ...]
    required: bool = False


_SCHEMAS: dict[str, tuple[_Field, ...]] = {
    "jurisdiction": (
        _Field("name", str, True),
        _Field("county", str),
        _Field("city", str),
        _Field("province", str),
        _Field("sample", bool),
        # The county's office: triages for a township that names none of its own.
        _Field("office_department", str),
        _Field("contact", str),
        _Field("major_hazard_department", str),
        _Field("penalty_department", str),
    ),
    "townships": (
        _Field("code", str, True),
        _Field("name", str, True),
        _Field("office_department", str),
        _Field("penalty_department", str),
        _Field("contact", str),
    ),
    # The village's position (its committee's office): the public sees it for homes.
    "villages": (_Field("code", str, True), _Field("name", str, True),
                 _Field("township", str, True),
                 _Field("latitude", (int, float)), _Field("longitude", (int, float))),
    "departments": (
        _Field("code", str, True),
        _Field("name", str, True),
        _Field("kind", str, True),
        _Field("contact", str),
        _Field("email", str),
        _Field("village", str),
        # Absent: a county department; ``serves`` lists the townships a county department
        # serves (absent: all of them). A township's department serves its township alone.
        _Field("township", str),
        _Field("serves", list),
        # Its documents (casework/documents.py): fire-supervision powers delegated to it (a
        # law-enforcement team's), numbers generated ("auto") or typed in ("manual"), and
        # its short name in the numbers (absent: its name).
        _Field("fire_powers_delegated", bool),
        _Field("document_numbering", str),
        _Field("document_prefix", str),
    ),
    "venue_types": (_Field("code", str, True), _Field("name", str, True)),
    "categories": (
        _Field("code", str, True),
        _Field("name", str, True),
        _Field("description", str),
        _Field("urgent", bool),
        _Field("needs_penalty", bool),
        # Its own §18 check limit, hours or working days, within the legal maximum (absent:
        # the maximum, 24 hours if urgent, else 3 working days).
        _Field("check_hours", int),
        _Field("check_working_days", int),
    ),
    "routing_rules": (
        # Absent: the county's default; a township's own rule overrides it.
        _Field("township", str),
        _Field("category", str),
        _Field("venue_type", str),
        _Field("village", str),
        _Field("lead", str, True),
        _Field("assist", list),
        _Field("priority", int),
        _Field("note", str),
    ),
    # Rewards for verified reports (举报奖励): bands [lowest, highest] in whole yuan by
    # seriousness, per-category overrides, and the claim period in working days.
    "rewards": (
        _Field("claim_working_days", int, True),
        _Field("general", list, True),
        _Field("major", list, True),
        _Field("categories", dict),
    ),
}
# The seriousness codes of a reward band (the case's severity).
REWARD_BANDS = ("general", "major")
# The longest claim period a file may set, in working days (about a year).
MAX_CLAIM_WORKING_DAYS = 250
_TABLE_LABELS = {
    "townships": "乡镇",
    "villages": "村",
    "departments": "部门",
    "venue_types": "场所类型",
    "categories": "隐患类别",
    "routing_rules": "分派规则",
}


class _Locator:
    """Finds the line of the n-th ``[[table]]`` entry, or of a key inside it."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = text.splitlines()

    def line(self, table: str, index: int | None = None, key: str | None = None) -> int:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
        seen = -1
        start = None
        for number, line in enumerate(self.lines, start=1):
            if header.match(line):
                seen += 1
                if index is None or seen == index:
                    start = number
                    break
        if start is None:
            return 1
        if key is None:
            return start
        key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            text = self.lines[number - 1]
            if re.match(r"^\s*\[", text):
                break
            if key_re.match(text):
                return number
        return start

    def error(self, message: str, table: str, index: int | None = None, key: str | None = None):
        line = self.line(table, index, key)
        where = f"{table}[{index}]" if index is not None else table
        if key:
            where += f".{key}"
        return JurisdictionError(f"{self.source} 第 {line} 行（{where}）：{message}")


def parse(text: str, source: str = "<jurisdiction>") -> dict[str, Any]:
    """Parse and validate a jurisdiction file; references between tables are checked too."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = match.group(1) if match else "?"
        raise JurisdictionError(f"{source} 第 {line} 行：TOML 格式错误（{exc}）") from None
    loc = _Locator(source, text)

    unknown = set(data) - set(_SCHEMAS)
    if unknown:
        table = sorted(unknown)[0]
        raise loc.error("未知的表名，请检查拼写", table)
    if "jurisdiction" not in data:
        raise JurisdictionError(f"{source} 第 1 行（jurisdiction）：缺少 [jurisdiction] 表")
    if "townships" not in data:
        _as_one_township(data)
    _check_entry(loc, "jurisdiction", None, data["jurisdiction"])
    for table in _TABLE_LABELS:
        entries = data.setdefault(table, [])
        if not isinstance(entries, list):
            raise loc.error(f"应写作 [[{table}]] 表数组", table)
        seen: dict[Any, int] = {}
        for index, entry in enumerate(entries):
            _check_entry(loc, table, index, entry)
            key = _rule_key(entry) if table == "routing_rules" else entry["code"]
            if table != "routing_rules" and not CODE_RE.match(entry["code"]):
                raise loc.error("代码只能使用字母、数字、_ 和 -", table, index, "code")
            if key in seen:
                raise loc.error(f"与第 {seen[key]} 条重复", table, index)
            seen[key] = index
    _check_references(loc, data)
    if "rewards" in data:
        _check_entry(loc, "rewards", None, data["rewards"])
        _check_rewards(loc, data)
    return data


FIRST_TOWNSHIP = "t1"


def _as_one_township(data: dict[str, Any]) -> None:
    """The single-township format: one township holding everything the file lists."""
    juris = data["jurisdiction"]
    if not isinstance(juris, dict):
        return
    township = {"code": FIRST_TOWNSHIP, "name": juris.get("name", "本乡镇")}
    for key in ("office_department", "penalty_department", "contact"):
        if key in juris:
            township[key] = juris[key]
    data["townships"] = [township]
    for table in ("villages", "departments", "routing_rules"):
        for entry in data.get(table) or []:
            if isinstance(entry, dict):
                entry.setdefault("township", FIRST_TOWNSHIP)
    if juris.get("county"):
        juris["name"] = juris["county"]


def _check_entry(loc: _Locator, table: str, index: int | None, entry: Any) -> None:
    if not isinstance(entry, dict):
        raise loc.error("应为键值表", table, index)
    fields = {f.name: f for f in _SCHEMAS[table]}
    for key in entry:
        if key not in fields:
            raise loc.error("未知的键，请检查拼写", table, index, key)
    for f in fields.values():
        if f.name not in entry:
            if f.required:
                raise loc.error("缺少必填键", table, index, f.name)
            continue
        value = entry[f.name]
        if not isinstance(value, f.kind) or (f.kind is int and isinstance(value, bool)):
            raise loc.error(f"类型应为 {_type_name(f.kind)}", table, index, f.name)
        if isinstance(value, str) and f.required and not value.strip():
            raise loc.error("不能为空", table, index, f.name)


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "字符串", bool: "true/false", int: "整数", list: "列表", dict: "键值表"}
    return names.get(kind, str(kind)) if isinstance(kind, type) else "/".join(map(str, kind))


def _rule_key(entry: dict[str, Any]) -> tuple[str | None, ...]:
    return (entry.get("township"), entry.get("category"), entry.get("venue_type"),
            entry.get("village"))


def _check_references(loc: _Locator, data: dict[str, Any]) -> None:
    codes = {t: {e["code"] for e in data[t]} for t in _TABLE_LABELS if t != "routing_rules"}
    for index, village in enumerate(data["villages"]):
        problem = position_error(village.get("latitude"), village.get("longitude"))
        if problem:
            raise loc.error(problem, "villages", index,
                            "longitude" if "latitude" in village else "latitude")
        if village["township"] not in codes["townships"]:
            raise loc.error("引用了文件中不存在的乡镇代码", "villages", index, "township")
    village_township = {v["code"]: v["township"] for v in data["villages"]}
    for index, category in enumerate(data["categories"]):
        problem = check_limit_error(urgent=category.get("urgent", False),
                                    hours=category.get("check_hours"),
                                    working_days=category.get("check_working_days"))
        if problem:
            key = "check_hours" if "check_hours" in category else "check_working_days"
            raise loc.error(f"隐患类别 {category['code']}：{problem}", "categories", index, key)
    kinds = {k.value for k in DepartmentKind}
    serving: dict[str, set[str]] = {}
    for index, dept in enumerate(data["departments"]):
        if dept["kind"] not in kinds:
            raise loc.error(
                f"部门类型须为 {', '.join(sorted(kinds))} 之一", "departments", index, "kind"
            )
        errors = document_settings_errors(dept.get("document_numbering", "auto"),
                                          dept.get("document_prefix", ""))
        if errors:
            key, problem = next(iter(errors.items()))
            raise loc.error(problem, "departments", index, key)
        own = dept.get("township")
        if own is not None and own not in codes["townships"]:
            raise loc.error("引用了文件中不存在的乡镇代码", "departments", index, "township")
        if "village" in dept:
            if dept["village"] not in codes["villages"]:
                raise loc.error("引用了文件中不存在的村代码", "departments", index, "village")
            if village_township[dept["village"]] != own:
                raise loc.error("村级部门须写明该村所在的乡镇", "departments", index, "township")
        if "serves" in dept:
            if own is not None:
                raise loc.error("乡镇部门只服务本乡镇，不写 serves", "departments", index,
                                "serves")
            unknown_townships = [t for t in dept["serves"] if t not in codes["townships"]]
            if unknown_townships:
                raise loc.error(f"引用了文件中不存在的乡镇代码 {unknown_townships[0]}",
                                "departments", index, "serves")
        serving[dept["code"]] = ({own} if own is not None
                                 else set(dept.get("serves", codes["townships"])))
    juris = data["jurisdiction"]
    for key in ("office_department", "major_hazard_department", "penalty_department"):
        if key in juris and juris[key] not in codes["departments"]:
            raise loc.error("引用了文件中不存在的部门代码", "jurisdiction", None, key)
    for index, township in enumerate(data["townships"]):
        for key in ("office_department", "penalty_department"):
            if key in township and township[key] not in codes["departments"]:
                raise loc.error("引用了文件中不存在的部门代码", "townships", index, key)
            if key in township and township["code"] not in serving[township[key]]:
                raise loc.error("该部门不服务本乡镇（见其 township 或 serves）", "townships",
                                index, key)
        if "office_department" not in township and "office_department" not in juris:
            raise loc.error("须写明乡镇的 office_department，或在 [jurisdiction] 写明县级的",
                            "townships", index)
    refs = {"category": "categories", "venue_type": "venue_types", "village": "villages",
            "township": "townships"}
    for index, rule in enumerate(data["routing_rules"]):
        for key, table in refs.items():
            if key in rule and rule[key] not in codes[table]:
                raise loc.error(
                    f"引用了文件中不存在的{_TABLE_LABELS[table]}代码", "routing_rules", index, key
                )
        place = rule.get("township")
        if "village" in rule and place is not None and village_township[rule["village"]] != place:
            raise loc.error("乡镇的分派规则只能指定本乡镇的村", "routing_rules", index, "village")
        for dept in [rule["lead"], *rule.get("assist", [])]:
            if not isinstance(dept, str) or dept not in codes["departments"]:
                key = "lead" if dept == rule["lead"] else "assist"
                raise loc.error(f"引用了文件中不存在的部门代码 {dept}", "routing_rules", index, key)
            if place is not None and place not in serving[dept]:
                key = "lead" if dept == rule["lead"] else "assist"
                raise loc.error(f"部门 {dept} 不服务乡镇 {place}", "routing_rules", index, key)
        if rule["lead"] in rule.get("assist", []):
            raise loc.error("牵头部门不能同时是配合部门", "routing_rules", index, "assist")


def _band_error(value: Any) -> str:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        return "奖励金额应写作 [最低, 最高]，单位为元，均为整数"
    if not 0 < value[0] <= value[1]:
        return "奖励金额须大于 0，且最低不高于最高"
    return ""


def _check_rewards(loc: _Locator, data: dict[str, Any]) -> None:
    rewards = data["rewards"]
    days = rewards["claim_working_days"]
    if not 1 <= days <= MAX_CLAIM_WORKING_DAYS:
        raise loc.error(f"领取期限须为 1 至 {MAX_CLAIM_WORKING_DAYS} 个工作日",
                        "rewards", None, "claim_working_days")
    for band in REWARD_BANDS:
        problem = _band_error(rewards[band])
        if problem:
            raise loc.error(problem, "rewards", None, band)
    categories = {c["code"] for c in data["categories"]}
    for code, bands in rewards.get("categories", {}).items():
        table = f"rewards.categories.{code}"
        if code not in categories:
            raise loc.error("引用了文件中不存在的隐患类别代码", table)
        if not isinstance(bands, dict):
            raise loc.error("应为键值表", table)
        for key, value in bands.items():
            if key not in REWARD_BANDS:
                raise loc.error("未知的键，请检查拼写（只能是 general 或 major）", table, None,
                                key)
            problem = _band_error(value)
            if problem:
                raise loc.error(problem, table, None, key)


def load_file(session: Session, path: Path, *, actor: User | None = None) -> LoadReport:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JurisdictionError(f"无法读取 {path}：{exc}") from None
    return load(session, parse(text, str(path)), actor=actor)


def load(session: Session, data: dict[str, Any], *, actor: User | None = None) -> LoadReport:
    """Apply parsed data to the database (flushes, does not commit)."""
    report = LoadReport()
    _adopt_upgraded_township(session, data["townships"])
    townships = _upsert(session, report, "township", data["townships"], lambda e, i: {
        "name": e["name"], "sort_order": i,
        "office_department": e.get("office_department", ""),
        "penalty_department": e.get("penalty_department", ""),
        "contact": e.get("contact", "")})
    villages = _upsert(session, report, "village", data["villages"], lambda e, i: {
        "name": e["name"], "sort_order": i, "township_id": townships[e["township"]].id,
        "latitude": e.get("latitude"), "longitude": e.get("longitude")})
    departments = _upsert(session, report, "department", data["departments"], lambda e, _i: {
        "name": e["name"],
        "kind": DepartmentKind(e["kind"]),
        "contact": e.get("contact", ""),
        "email": e.get("email", ""),
        "village_id": villages[e["village"]].id if "village" in e else None,
        "township_id": townships[e["township"]].id if "township" in e else None,
        "serve_ids": [townships[code].id for code in e.get("serves", townships)],
        "fire_powers_delegated": e.get("fire_powers_delegated", False),
        "document_numbering": e.get("document_numbering", "auto"),
        "document_prefix": e.get("document_prefix", ""),
    })
    venue_types = _upsert(session, report, "venue_type", data["venue_types"], lambda e, i: {
        "name": e["name"], "sort_order": i})
    categories = _upsert(session, report, "category", data["categories"], lambda e, i: {
        "name": e["name"],
        "description": e.get("description", ""),
        "urgent": e.get("urgent", False),
        "needs_penalty": e.get("needs_penalty", False),
        "check_hours": e.get("check_hours"),
        "check_working_days": e.get("check_working_days"),
        "sort_order": i,
    })
    _load_rules(session, report, data["routing_rules"], townships, categories, venue_types,
                villages, departments)
    portal_settings.put(session, portal_settings.JURISDICTION_KEY, data["jurisdiction"])
    # A file without [rewards] leaves the county without reward rules: none are proposed.
    portal_settings.put(session, portal_settings.REWARDS_KEY, data.get("rewards", {}))
    audit.record(
        session,
        "jurisdiction.load",
        "jurisdiction",
        data["jurisdiction"]["name"],
        actor=actor,
        after={
            "created": dict(report.created),
            "updated": dict(report.updated),
            "deactivated": dict(report.deactivated),
        },
    )
    return report


def _adopt_upgraded_township(session: Session, entries: list[dict[str, Any]]) -> None:
    """A township the file does not list by code but names exactly (the one the upgrade
    made, code ``t1``) takes the file's code, so its accounts and history stay with it."""
    listed = {e["code"] for e in entries}
    existing = {t.code: t for t in session.scalars(select(Township))}
    for entry in entries:
        if entry["code"] in existing:
            continue
        for code, township in existing.items():
            if code not in listed and township.name == entry["name"]:
                township.code = entry["code"]
                existing[entry["code"]] = existing.pop(code)
                break
    session.flush()


def _upsert(session, report, kind, entries, values_of) -> dict[str, Any]:
    """Write each entry through the admin screens' own write path; deactivate the rest."""
    model = CODED_MODELS[kind]
    table = model.__tablename__
    existing = {row.code: row for row in session.scalars(select(model))}
    by_code = {}
    for index, entry in enumerate(entries):
        row, before, after = write_coded(session, kind, existing.get(entry["code"]),
                                         code=entry["code"], active=True,
                                         **values_of(entry, index))
        if before is None:
            report.created[table] += 1
        elif before != after:
            report.updated[table] += 1
        by_code[entry["code"]] = row
    for code, row in existing.items():
        if code not in by_code and row.active:
            row.active = False
            report.deactivated[table] += 1
    session.flush()
    return by_code


def _load_rules(session, report, entries, townships, categories, venue_types, villages,
                departments) -> None:
    """Through the admin screens' write path too; rules the file drops are deactivated."""
    def key_of(rule: RoutingRule) -> tuple[int | None, ...]:
        return (rule.township_id, rule.category_id, rule.venue_type_id, rule.village_id)

    existing = {key_of(rule): rule for rule in session.scalars(select(RoutingRule))}
    wanted = set()
    for entry in entries:
        key: tuple[int | None, ...] = (
            townships[entry["township"]].id if "township" in entry else None,
            categories[entry["category"]].id if "category" in entry else None,
            venue_types[entry["venue_type"]].id if "venue_type" in entry else None,
            villages[entry["village"]].id if "village" in entry else None,
        )
        wanted.add(key)
        _rule, before, after = write_rule(
            session, existing.get(key),
            township_id=key[0], category_id=key[1], venue_type_id=key[2], village_id=key[3],
            lead_department_id=departments[entry["lead"]].id,
            assist_ids=[departments[code].id for code in entry.get("assist", [])],
            priority=entry.get("priority", 0), active=True, note=entry.get("note", ""),
        )
        if before is None:
            report.created["routing_rules"] += 1
        elif before != after:
            report.updated["routing_rules"] += 1
    for key, rule in existing.items():
        if key not in wanted and rule.active:
            rule.active = False
            report.deactivated["routing_rules"] += 1
    session.flush()
