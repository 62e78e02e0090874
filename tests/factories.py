"""Small builders for rows the tests need, on top of the demo jurisdiction."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.enums import Channel
from portal.domain.models import (
    Case,
    Category,
    Department,
    Tip,
    Township,
    Unit,
    VenueType,
    Village,
)


def by_code(session: Session, model: Any, code: str) -> Any:
    return session.scalars(select(model).where(model.code == code)).one()


def township(session: Session, code: str = "yanggao") -> Township:
    return by_code(session, Township, code)


def village(session: Session, code: str = "V01") -> Village:
    return by_code(session, Village, code)


def category(session: Session, code: str = "wiring") -> Category:
    return by_code(session, Category, code)


def venue_type(session: Session, code: str = "street_shop") -> VenueType:
    return by_code(session, VenueType, code)


def department(session: Session, code: str = "FIRE") -> Department:
    return by_code(session, Department, code)


def make_tip(session: Session, **values: Any) -> Tip:
    defaults: dict[str, Any] = {
        "channel": Channel.WEB,
        "village": village(session),
        "category": category(session),
        "unit_name": "测试商店",
        "description": "门口堆满纸箱，堵住了出口。",
        "receipt_hash": secrets.token_hex(32),
    }
    tip = Tip(**{**defaults, **values})
    session.add(tip)
    session.flush()
    return tip


def make_case(session: Session, **values: Any) -> Case:
    vil = values.pop("village", None) or village(session)
    unit = values.pop("unit", None) or Unit(name="测试商店", normalized_name="测试商店",
                                            village=vil)
    defaults: dict[str, Any] = {
        "unit": unit,
        "village": vil,
        "category": category(session),
        "channel": Channel.WEB,
    }
    case = Case(**{**defaults, **values})
    session.add(case)
    session.flush()
    return case
