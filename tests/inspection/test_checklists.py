"""Checklists are data: each venue type gets its own or the general one, and every item
names a category that exists in the demo jurisdiction."""

from __future__ import annotations

import tomllib

import pytest

from portal.config import ROOT
from portal.domain.inspection import checklists


def test_a_venue_type_gets_its_own_checklist_or_the_general_one() -> None:
    assert checklists.for_venue_type("restaurant").code == "shop_restaurant"
    assert checklists.for_venue_type("kindergarten").code == checklists.DEFAULT
    assert checklists.for_venue_type(None).code == checklists.DEFAULT


def test_every_item_becomes_a_category_the_jurisdiction_has() -> None:
    demo = tomllib.loads((ROOT / "portal" / "data" / "demo_jurisdiction.toml")
                         .read_text(encoding="utf-8"))
    categories = {c["code"] for c in demo["categories"]}
    venues = {v["code"] for v in demo["venue_types"]}
    for checklist in checklists.all_checklists().values():
        assert {i.category for i in checklist.items} <= categories, checklist.code
        assert set(checklist.venue_types) <= venues, checklist.code


@pytest.mark.parametrize(("text", "message"), [
    ("version = 0\n[checklists.general]\nitems = [{code='a', text='a', category='x'}]",
     "version"),
    ("version = 1\n[checklists.other]\nitems = [{code='a', text='a', category='x'}]",
     "general"),
    ("version = 1\n[checklists.general]\nitems = [{code='a', text='a', category='x'},"
     " {code='a', text='b', category='x'}]", "repeats"),
])
def test_a_wrong_file_is_refused_with_the_place_named(text: str, message: str) -> None:
    with pytest.raises(checklists.ChecklistError, match=message):
        checklists.parse(text)
