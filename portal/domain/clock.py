"""The one clock: the time now, the deployment's local zone, and what day it is there.

Every deadline, "today" and local date in the portal is computed here. The zone is
``PORTAL_TIMEZONE``, handed over once by the app factory (``configure``); a call may still
name another zone (``tz=``), which the tests use to check the day boundary.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"

_zone = ZoneInfo(DEFAULT_TIMEZONE)


def configure(timezone: str) -> None:
    """Set the deployment's zone (``PORTAL_TIMEZONE``); called by ``create_app``."""
    global _zone
    _zone = ZoneInfo(timezone)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_zone(tz: str | ZoneInfo | None = None) -> ZoneInfo:
    """The zone deadlines are counted and dates are shown in."""
    if isinstance(tz, ZoneInfo):
        return tz
    return ZoneInfo(tz) if tz else _zone


def to_local(value: dt.datetime, tz: str | ZoneInfo | None = None) -> dt.datetime:
    return value.astimezone(local_zone(tz))


def format_local(value: dt.datetime, tz: str | ZoneInfo | None = None,
                 fmt: str = "%Y-%m-%d %H:%M") -> str:
    return to_local(value, tz).strftime(fmt)


def local_today(now: dt.datetime | None = None, tz: str | ZoneInfo | None = None) -> dt.date:
    return to_local(now or utcnow(), tz).date()


def end_of_local_day(day: dt.date, tz: str | ZoneInfo | None = None) -> dt.datetime:
    """The last second of ``day`` in the local zone, as a UTC datetime."""
    local = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=local_zone(tz))
    return local.astimezone(dt.UTC)
