"""Jurisdiction settings kept in the database, editable by admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.models import Setting

JURISDICTION_KEY = "jurisdiction"
# The jurisdiction file's [rewards] table as loaded (portal.domain.reporting.rewards reads it).
REWARDS_KEY = "rewards"

# Shown until a jurisdiction file has been loaded.
DEFAULT_JURISDICTION: dict[str, Any] = {
    "name": "本县",
    "county": "",
    "city": "",
    "province": "",
    "sample": False,
    "office_department": None,
    "contact": "",
}


def get(session: Session, key: str, default: Any = None) -> Any:
    value = session.scalar(select(Setting.value).where(Setting.key == key))
    return default if value is None else value


def put(session: Session, key: str, value: Any) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    session.flush()


def jurisdiction(session: Session) -> dict[str, Any]:
    return {**DEFAULT_JURISDICTION, **get(session, JURISDICTION_KEY, {})}
