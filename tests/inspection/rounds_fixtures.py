"""Rows the rounds, draws and public-checks tests share: units in two townships, a township
supervisor and grid inspectors (issue 22)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from portal.domain.enums import Role
from portal.domain.inspection import register, rounds
from portal.domain.models import InspectionRound, Unit, User
from tests import factories
from tests.admin.conftest import make_user

START = dt.date(2026, 12, 1)
END = dt.date(2026, 12, 31)


def unit(session: Session, name: str, village: str = "V01", venue: str = "street_shop",
         **values: object) -> Unit:
    found = register.unit_for(session, village_id=factories.village(session, village).id,
                              name=name, address=f"{name}门口",
                              venue_type_id=factories.venue_type(session, venue).id,
                              source="census")
    for key, value in values.items():
        setattr(found, key, value)
    session.flush()
    return found


def people(session: Session) -> dict[str, User]:
    return {
        "supervisor": make_user(session, "sup-yg", Role.SUPERVISOR, township="yanggao"),
        "supervisor_b": make_user(session, "sup-bs", Role.SUPERVISOR, township="beishe"),
        "grid_a": make_user(session, "grid-a", Role.GRID_INSPECTOR, township="yanggao"),
        "grid_b": make_user(session, "grid-b", Role.GRID_INSPECTOR, township="yanggao"),
        "grid_other": make_user(session, "grid-bs", Role.GRID_INSPECTOR, township="beishe"),
        "moderator": make_user(session, "mod-yg", Role.MODERATOR, township="yanggao"),
        "moderator_b": make_user(session, "mod-bs", Role.MODERATOR, township="beishe"),
        "fire_a": make_user(session, "fire-a", Role.OFFICER, "FIRE"),
        "fire_b": make_user(session, "fire-b", Role.OFFICER, "FIRE"),
        "fire_c": make_user(session, "fire-c", Role.OFFICER, "FIRE"),
    }


def plan(session: Session, actor: User, inspectors: list[User], *, villages: list[str],
         venues: list[str] | None = None, name: str = "冬季排查") -> InspectionRound:
    return rounds.plan_round(
        session, township=factories.township(session), name=name,
        venue_type_ids=[factories.venue_type(session, v).id for v in venues or []],
        village_ids=[factories.village(session, v).id for v in villages], department_ids=[],
        inspector_ids=[u.id for u in inspectors], starts_on=START, ends_on=END, actor=actor)
