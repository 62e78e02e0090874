"""The judgement of a major fire hazard (重大火灾隐患) by GB 35181, as a proposal to staff.

Each edition of the standard is a data file (``portal/data/gb35181/<year>.toml``; the format and
what could not be confirmed: docs/major-hazard-judgement.md). This module loads and checks them,
picks the edition in force on the day of the check (``edition_for``), and says whether the
elements an officer recorded as found and not correctable on the spot make a major hazard, and
why (``propose``). It only proposes: the judgement is collective (``validate_decision``) and
stays with staff.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from portal.domain.casework.events import WorkflowError

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "gb35181"
# GB 35181-2017 4.2 b) (the 2025 edition dropped the procedure; the portal keeps the rule).
MIN_PARTICIPANTS = 3
DECISION_NOTICE = (
    "系统仅依据记录的判定要素提出建议；是否判定为重大火灾隐患，由不少于 3 人集体讨论决定，"
    "疑难复杂的可组织专家技术论证。"
)


class EditionDataError(ValueError):
    """An edition's data file is malformed; the message names the file and the entry."""


# ---------------------------------------------------------------- the editions as data


@dataclass(frozen=True)
class Source:
    id: str
    what: str
    url: str


@dataclass(frozen=True)
class PremisesKind:
    id: str
    label: str
    confirmed: bool
    note: str = ""


@dataclass(frozen=True)
class Exclusion:
    id: str
    text: str
    confirmed: bool
    note: str = ""


@dataclass(frozen=True)
class Element:
    """A direct or composite judgement element (判定要素)."""

    id: str
    text: str
    confirmed: bool
    note: str = ""
    # The premises kinds the edition limits the element to; empty: every kind.
    kinds: frozenset[str] = frozenset()
    # Ids the element was recorded under before the data was corrected.
    former_ids: tuple[str, ...] = ()

    def applies_to(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


@dataclass(frozen=True)
class CompositeRule:
    """Enough composite elements for one or more premises kinds make a major hazard."""

    id: str
    kinds: frozenset[str]
    min_count: int
    # The composite elements the rule counts; None: every composite element.
    elements: frozenset[str] | None
    scope: str
    confirmed: bool
    note: str = ""

    def counts(self, element_id: str) -> bool:
        return self.elements is None or element_id in self.elements

    @property
    def requirement(self) -> str:
        within = f"在 {self.scope} 中" if self.elements is not None else ""
        return f"{within}达到 {self.min_count} 项"


@dataclass(frozen=True)
class Edition:
    code: str
    title: str
    in_force_from: dt.date
    superseded_on: dt.date | None
    superseded_by: str
    # False while the element lists are known to lack items of the standard.
    complete: bool
    confirmed: bool
    note: str
    sources: tuple[Source, ...]
    premises_kinds: tuple[PremisesKind, ...]
    exclusions: tuple[Exclusion, ...]
    direct: tuple[Element, ...]
    composite: tuple[Element, ...]
    composite_rules: tuple[CompositeRule, ...]

    @property
    def name(self) -> str:
        return f"{self.code}《{self.title}》"

    def in_force_on(self, day: dt.date) -> bool:
        return self.in_force_from <= day and (self.superseded_on is None
                                              or day < self.superseded_on)

    @cached_property
    def _elements(self) -> dict[str, Element]:
        index: dict[str, Element] = {}
        for element in (*self.direct, *self.composite):
            for key in (element.id, *element.former_ids):
                index[key] = element
        return index

    def premises_kind(self, kind_id: str) -> PremisesKind:
        for kind in self.premises_kinds:
            if kind.id == kind_id:
                return kind
        known = ", ".join(k.id for k in self.premises_kinds)
        raise ValueError(f"{self.code} has no premises kind {kind_id!r} (known: {known})")

    def has_element(self, element_id: str) -> bool:
        return element_id in self._elements

    def element(self, element_id: str) -> Element:
        """A direct or composite element by its id or a former id."""
        try:
            return self._elements[element_id]
        except KeyError:
            raise ValueError(f"{self.code} has no judgement element {element_id!r}") from None

    def exclusion(self, exclusion_id: str) -> Exclusion:
        for exclusion in self.exclusions:
            if exclusion.id == exclusion_id:
                return exclusion
        raise ValueError(f"{self.code} has no exclusion {exclusion_id!r}")

    def is_direct(self, element: Element) -> bool:
        return element in self.direct


# Anything in an edition that can be confirmed or not.
_Item = PremisesKind | Exclusion | Element | CompositeRule

_TOP_KEYS = {"edition", "sources", "premises_kinds", "exclusions", "direct", "composite",
             "composite_rules"}


def _fields(raw: object, where: str, required: Mapping[str, type],
            optional: Mapping[str, type] | None = None) -> dict[str, Any]:
    """The table's keys checked against their types; unknown keys (typos) are refused."""
    optional = optional or {}
    if not isinstance(raw, dict):
        raise EditionDataError(f"{where}: expected a table")
    unknown = set(raw) - set(required) - set(optional)
    if unknown:
        raise EditionDataError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    missing = set(required) - set(raw)
    if missing:
        raise EditionDataError(f"{where}: missing key(s) {', '.join(sorted(missing))}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        expected = required.get(key) or optional[key]
        # bool is an int and datetime a date; neither is what the file means.
        wrong = (not isinstance(value, expected)
                 or (expected is int and isinstance(value, bool))
                 or (expected is dt.date and isinstance(value, dt.datetime)))
        if wrong:
            raise EditionDataError(f"{where}: {key} must be {expected.__name__}, not {value!r}")
        if (expected is str and key in {"id", "code", "title", "label", "text"}
                and (not value.strip() or value != value.strip())):
            raise EditionDataError(f"{where}: {key} must be non-empty, without outer spaces")
        values[key] = value
    return values


def _strings(value: list[Any], where: str, key: str) -> tuple[str, ...]:
    if not all(isinstance(item, str) and item.strip() for item in value):
        raise EditionDataError(f"{where}: {key} must list non-empty strings")
    if len(set(value)) != len(value):
        raise EditionDataError(f"{where}: {key} lists an id twice")
    return tuple(value)


def _tables(data: dict[str, Any], key: str, where: str) -> list[Any]:
    tables = data.get(key, [])
    if not isinstance(tables, list):
        raise EditionDataError(f"{where}: {key} must be an array of tables ([[{key}]])")
    return tables


_ITEM: dict[str, type] = {"id": str, "text": str, "confirmed": bool}
_ITEM_OPTIONAL: dict[str, type] = {"note": str}


def parse_edition(text: str, source: str = "<text>") -> Edition:
    """One edition from the text of its data file, checked; ``EditionDataError`` otherwise."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EditionDataError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise EditionDataError(f"{source}: unknown top-level key(s) {', '.join(sorted(unknown))}")
    meta = _fields(data.get("edition"), f"{source} [edition]",
                   {"code": str, "title": str, "in_force_from": dt.date, "complete": bool,
                    "confirmed": bool},
                   {"superseded_on": dt.date, "superseded_by": str, "note": str})
    superseded_on = meta.get("superseded_on")
    if superseded_on is not None and superseded_on <= meta["in_force_from"]:
        raise EditionDataError(f"{source} [edition]: superseded_on must follow in_force_from")

    sources = tuple(
        Source(**_fields(raw, f"{source} [[sources]] #{n}", {"id": str, "what": str, "url": str}))
        for n, raw in enumerate(_tables(data, "sources", source), start=1))
    kinds = tuple(
        PremisesKind(**_fields(raw, f"{source} [[premises_kinds]] #{n}",
                               {"id": str, "label": str, "confirmed": bool}, _ITEM_OPTIONAL))
        for n, raw in enumerate(_tables(data, "premises_kinds", source), start=1))
    if not kinds:
        raise EditionDataError(f"{source}: at least one [[premises_kinds]] is needed")
    kind_ids = [k.id for k in kinds]
    if len(set(kind_ids)) != len(kind_ids):
        raise EditionDataError(f"{source}: a premises kind id is used twice")

    def known_kinds(values: list[Any], where: str) -> frozenset[str]:
        listed = _strings(values, where, "kinds")
        strange = set(listed) - set(kind_ids)
        if strange:
            raise EditionDataError(
                f"{where}: unknown premises kind(s) {', '.join(sorted(strange))}")
        return frozenset(listed)

    exclusions = tuple(
        Exclusion(**_fields(raw, f"{source} [[exclusions]] #{n}", _ITEM, _ITEM_OPTIONAL))
        for n, raw in enumerate(_tables(data, "exclusions", source), start=1))

    def elements(key: str) -> tuple[Element, ...]:
        parsed = []
        for n, raw in enumerate(_tables(data, key, source), start=1):
            where = f"{source} [[{key}]] #{n}"
            values = _fields(raw, where, _ITEM,
                             {**_ITEM_OPTIONAL, "kinds": list, "former_ids": list})
            values["kinds"] = known_kinds(values.get("kinds", []), where)
            values["former_ids"] = _strings(values.get("former_ids", []), where, "former_ids")
            parsed.append(Element(**values))
        return tuple(parsed)

    direct = elements("direct")
    composite = elements("composite")
    ids = [x.id for x in exclusions] + [
        key for e in (*direct, *composite) for key in (e.id, *e.former_ids)]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise EditionDataError(f"{source}: id(s) used more than once: {', '.join(twice)}")

    composite_ids = {e.id for e in composite}
    rules = []
    for n, raw in enumerate(_tables(data, "composite_rules", source), start=1):
        where = f"{source} [[composite_rules]] #{n}"
        values = _fields(raw, where, {"id": str, "kinds": list, "min_count": int,
                                      "confirmed": bool},
                         {**_ITEM_OPTIONAL, "elements": list, "scope": str})
        rule_kinds = known_kinds(values["kinds"], where)
        if not rule_kinds:
            raise EditionDataError(f"{where}: kinds must name at least one premises kind")
        counted = composite_ids
        listed: frozenset[str] | None = None
        if "elements" in values:
            listed = frozenset(_strings(values["elements"], where, "elements"))
            strange = listed - composite_ids
            if strange:
                raise EditionDataError(
                    f"{where}: not composite elements: {', '.join(sorted(strange))}")
            counted = set(listed)
        if not 1 <= values["min_count"] <= len(counted):
            raise EditionDataError(
                f"{where}: min_count must be between 1 and the {len(counted)} elements it counts")
        rules.append(CompositeRule(
            id=values["id"], kinds=rule_kinds, min_count=values["min_count"], elements=listed,
            scope=values.get("scope") or "、".join(sorted(counted)),
            confirmed=values["confirmed"], note=values.get("note", "")))
    rule_ids = [r.id for r in rules]
    if len(set(rule_ids)) != len(rule_ids):
        raise EditionDataError(f"{source}: a composite rule id is used twice")
    items: tuple[_Item, ...] = (*kinds, *exclusions, *direct, *composite, *rules)
    unexplained = [item.id for item in items if not item.confirmed and not item.note.strip()]
    if unexplained:
        raise EditionDataError(f"{source}: confirmed = false needs a note saying what is "
                               f"unchecked: {', '.join(unexplained)}")

    return Edition(
        code=meta["code"], title=meta["title"], in_force_from=meta["in_force_from"],
        superseded_on=superseded_on, superseded_by=meta.get("superseded_by", ""),
        complete=meta["complete"], confirmed=meta["confirmed"], note=meta.get("note", ""),
        sources=sources, premises_kinds=kinds, exclusions=exclusions, direct=direct,
        composite=composite, composite_rules=tuple(rules))


@cache
def load_editions(directory: Path = DATA_DIR) -> tuple[Edition, ...]:
    """Every edition in the directory, oldest first; their periods in force must not overlap."""
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise EditionDataError(f"{directory}: no edition data files (*.toml)")
    loaded = sorted((parse_edition(f.read_text(encoding="utf-8"), f.name) for f in files),
                    key=lambda e: e.in_force_from)
    codes = [e.code for e in loaded]
    if len(set(codes)) != len(codes):
        raise EditionDataError(f"{directory}: an edition code is used by two files")
    for earlier, later in itertools.pairwise(loaded):
        if earlier.superseded_on is None or earlier.superseded_on > later.in_force_from:
            raise EditionDataError(
                f"{directory}: {earlier.code} is still in force when {later.code} starts "
                f"({later.in_force_from}); set its superseded_on")
    return tuple(loaded)


def editions() -> tuple[Edition, ...]:
    """The editions the portal ships, oldest first (loaded once)."""
    return load_editions(DATA_DIR)


def edition(code: str) -> Edition:
    for candidate in editions():
        if candidate.code == code:
            return candidate
    raise ValueError(f"no GB 35181 edition {code!r} (known: "
                     f"{', '.join(e.code for e in editions())})")


def edition_for(day: dt.date, *, among: Sequence[Edition] | None = None) -> Edition:
    """The edition in force on the day of the check."""
    for candidate in among if among is not None else editions():
        if candidate.in_force_on(day):
            return candidate
    raise ValueError(f"no GB 35181 edition in the data is in force on {day.isoformat()}")


# ---------------------------------------------------------------- the proposal


@dataclass(frozen=True)
class Proposal:
    """Whether the recorded elements make a major hazard, and why (Chinese, for the case page)."""

    edition: str
    premises_kind: str
    major: bool
    reasons: tuple[str, ...]
    # The ids the proposal rests on, as the edition numbers them now.
    direct: tuple[str, ...]
    composite: tuple[str, ...]
    rules_met: tuple[str, ...]
    exclusions: tuple[str, ...]
    warnings: tuple[str, ...]


def _ids(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a collection of ids, not one string")
    return list(dict.fromkeys(values))


def propose(edition: Edition, premises_kind: str, found: Iterable[str],
            exclusions: Iterable[str] = ()) -> Proposal:
    """The proposal for premises of a kind where the elements ``found`` (direct or composite,
    each recorded as not correctable on the spot) were found and the ``exclusions`` apply.

    Unknown element, exclusion or premises kind ids raise ``ValueError``.
    """
    kind = edition.premises_kind(premises_kind)
    found_ids = _ids(found, "found")
    unknown = [i for i in found_ids if not edition.has_element(i)]
    if unknown:
        raise ValueError(f"{edition.code} has no judgement element(s) {', '.join(unknown)}")
    recorded = list(dict.fromkeys(edition.element(i) for i in found_ids))
    excluded = [edition.exclusion(i) for i in _ids(exclusions, "exclusions")]

    applicable = [e for e in recorded if e.applies_to(kind.id)]
    direct = [e for e in applicable if edition.is_direct(e)]
    counted = [e for e in applicable if not edition.is_direct(e)]
    rules = [r for r in edition.composite_rules if kind.id in r.kinds]
    met = [(rule, hits) for rule in rules
           if len(hits := [e for e in counted if rule.counts(e.id)]) >= rule.min_count]

    reasons: list[str] = []
    # What the conclusion rests on; the kind only where its thresholds were applied.
    relied_on: list[_Item] = []
    if excluded:
        major = False
        direct, met = [], []
        reasons += [f"已排除：{x.id} {x.text}" for x in excluded]
        relied_on += excluded
    else:
        major = bool(direct or met)
        reasons += [f"符合直接判定要素 {e.id}：{e.text}" for e in direct]
        relied_on += direct
        for rule, hits in met:
            reasons.append(f"符合 {len(hits)} 项综合判定要素（{kind.label}{rule.requirement}"
                           f"即可判定，{rule.id}）：{'、'.join(e.id for e in hits)}")
            relied_on += [kind, rule, *hits]
        if not major:
            if not recorded:
                reasons.append("未记录不能立即改正的判定要素。")
            elif not rules:
                reasons.append(f"未符合直接判定要素；本版本未录入{kind.label}的综合判定条件。")
            else:
                listed = f"（{'、'.join(e.id for e in counted)}）" if counted else ""
                conditions = "；或".join(f"{r.requirement}，{r.id}" for r in rules)
                reasons.append(f"未符合直接判定要素；综合判定要素 {len(counted)} 项{listed}，"
                               f"未达到{kind.label}的判定条件（{conditions}）。")
                relied_on += [kind, *rules]
    reasons += [f"要素 {e.id} 不适用于{kind.label}，未计入。"
                for e in recorded if not e.applies_to(kind.id)]

    warnings: list[str] = []
    unconfirmed = list(dict.fromkeys(
        item.label if isinstance(item, PremisesKind) else item.id
        for item in relied_on if not item.confirmed))
    if unconfirmed:
        warnings.append("以下依据未经与标准正式文本核对：" + "、".join(unconfirmed))
    if not edition.complete:
        warnings.append(f"{edition.code} 的判定要素清单不完整：未提出建议不代表不构成重大火灾隐患，"
                        "须对照标准原文判定。")
    return Proposal(
        edition=edition.code, premises_kind=kind.id, major=major, reasons=tuple(reasons),
        direct=tuple(e.id for e in direct),
        composite=tuple(dict.fromkeys(e.id for _, hits in met for e in hits)),
        rules_met=tuple(rule.id for rule, _ in met),
        exclusions=tuple(x.id for x in excluded), warnings=tuple(warnings))


# ---------------------------------------------------------------- the collective decision


@dataclass(frozen=True)
class CollectiveDecision:
    """Who judged (at least three people), why, and whether an expert panel reviewed it."""

    participants: tuple[str, ...]
    reason: str
    expert_review: bool = False


def validate_decision(participants: list[str], reason: str, *,
                      expert_review: bool = False) -> CollectiveDecision:
    """The decision as it may be recorded, or ``WorkflowError`` saying what is missing."""
    names = list(dict.fromkeys(" ".join(name.split()) for name in participants))
    names = [name for name in names if name]
    if len(names) < MIN_PARTICIPANTS:
        raise WorkflowError(f"重大火灾隐患须集体讨论判定，参加人不少于 {MIN_PARTICIPANTS} 人；"
                            f"现只填写了 {len(names)} 位（重复或空白的姓名不计）。")
    reason = reason.strip()
    if not reason:
        raise WorkflowError("请填写判定理由。")
    return CollectiveDecision(participants=tuple(names), reason=reason,
                              expert_review=expert_review)
