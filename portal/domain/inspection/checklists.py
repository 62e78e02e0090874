"""Inspection and self-check checklists as versioned data (``portal/data/checklists.toml``).

Each item names the hazard category a problem found on it becomes, so a finding is routed
like a report of that category. Answers are recorded with the checklist's code and the
file's version, and read back against that version's items.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from portal.domain.enums import LabeledEnum

PATH = Path(__file__).resolve().parent.parent.parent / "data" / "checklists.toml"
DEFAULT = "general"


class Answer(LabeledEnum):
    """What an inspector (or a unit) answers for one item."""

    OK = "ok", "无问题"
    PROBLEM = "problem", "存在问题，需整改"
    CORRECTED = "corrected", "存在问题，已当场改正"
    NOT_APPLICABLE = "na", "不适用"


@dataclass(frozen=True)
class Item:
    code: str
    text: str
    category: str  # the category code a problem on this item becomes


@dataclass(frozen=True)
class Checklist:
    code: str
    version: int
    title: str
    items: tuple[Item, ...]
    venue_types: tuple[str, ...] = ()

    def item(self, code: str) -> Item | None:
        return next((i for i in self.items if i.code == code), None)


class ChecklistError(ValueError):
    """The checklist file is wrong; the message names the place."""


def parse(text: str) -> dict[str, Checklist]:
    data = tomllib.loads(text)
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise ChecklistError("checklists: version must be a positive integer")
    found: dict[str, Checklist] = {}
    claimed: dict[str, str] = {}
    for code, raw in data.get("checklists", {}).items():
        items = tuple(Item(str(i["code"]), str(i["text"]), str(i["category"]))
                      for i in raw.get("items", []))
        if not items:
            raise ChecklistError(f"checklist {code}: no items")
        if len({i.code for i in items}) != len(items):
            raise ChecklistError(f"checklist {code}: an item code repeats")
        venues = tuple(str(v) for v in raw.get("venue_types", []))
        for venue in venues:
            if venue in claimed:
                raise ChecklistError(f"venue type {venue}: in {claimed[venue]} and {code}")
            claimed[venue] = code
        found[code] = Checklist(code, version, str(raw.get("title", code)), items, venues)
    if DEFAULT not in found:
        raise ChecklistError(f"checklists: the {DEFAULT!r} checklist is missing")
    return found


@cache
def all_checklists() -> dict[str, Checklist]:
    return parse(PATH.read_text(encoding="utf-8"))


def for_venue_type(venue_type_code: str | None) -> Checklist:
    """The checklist of a venue type (its own, else the general one)."""
    lists = all_checklists()
    for checklist in lists.values():
        if venue_type_code and venue_type_code in checklist.venue_types:
            return checklist
    return lists[DEFAULT]


def by_code(code: str) -> Checklist | None:
    return all_checklists().get(code)
