"""Conditional GET for public pages: ETag and Last-Modified, answered with 304 when unchanged.

A page's validator is built from the data version, not from the rendered page, so an unchanged
page costs three primary-key lookups instead of its queries and its template. The version is
the newest row of the audit log (every staff write is audited), of the case timeline and of the
tips table, so any change that could show on a public page moves it; so does the local date,
since overdue markers turn on at midnight without any write.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, make_response, request
from sqlalchemy import func, select

from portal.config import ROOT
from portal.db import get_session, utcnow
from portal.domain.models import AuditLog, CaseEvent, Tip
from portal.templating import local_zone, to_local

F = TypeVar("F", bound=Callable[..., Any])


def _code_stamp() -> str:
    """A digest of the templates and the public views' code: it changes when a deploy changes
    what a page looks like, and is the same in every process and instance running one release
    (so a client bouncing between instances behind a load balancer still gets its 304)."""
    digest = hashlib.sha256()
    sources = [*sorted((ROOT / "templates").rglob("*.html")),
               *sorted((ROOT / "portal" / "public").glob("*.py"))]
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_CODE_STAMP = _code_stamp()
CACHE_CONTROL = "public, max-age=0, must-revalidate"


def data_version() -> tuple[tuple[int, int, int], dt.datetime | None]:
    """(newest audit row, event and tip ids) and the time of the newest of them."""
    session = get_session()
    ids: list[int] = []
    times: list[dt.datetime] = []
    for model in (AuditLog, CaseEvent, Tip):
        newest = session.scalar(select(func.max(model.id)))
        ids.append(newest or 0)
        if newest:
            created = session.scalar(select(model.created_at).where(model.id == newest))
            if created is not None:
                times.append(created)
    return (ids[0], ids[1], ids[2]), (max(times) if times else None)


def _local_midnight() -> dt.datetime:
    """Pages also change when the date does (overdue markers), with no write at all."""
    today = to_local(utcnow()).date()
    return dt.datetime.combine(today, dt.time(), tzinfo=local_zone())


def _etag(version: tuple[int, int, int], day: dt.datetime) -> str:
    key = f"{version}|{day.date()}|{request.full_path}|{_CODE_STAMP}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _not_modified(etag: str, last_modified: dt.datetime | None) -> bool:
    if request.if_none_match:
        return request.if_none_match.contains(etag)
    since = request.if_modified_since
    return bool(since and last_modified and last_modified.replace(microsecond=0) <= since)


def _stamp(response: Response, etag: str, last_modified: dt.datetime | None) -> Response:
    response.set_etag(etag)
    if last_modified is not None:
        response.last_modified = last_modified.replace(microsecond=0)
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


def conditional(view: F) -> F:
    """Send ETag/Last-Modified with a public page and answer 304 when the client has it."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if request.method not in ("GET", "HEAD"):
            return view(*args, **kwargs)
        version, changed = data_version()
        midnight = _local_midnight()
        last_modified = max(changed, midnight) if changed else midnight
        etag = _etag(version, midnight)
        if _not_modified(etag, last_modified):
            return _stamp(Response(status=304), etag, last_modified)
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200:
            _stamp(response, etag, last_modified)
        return response

    return wrapped  # type: ignore[return-value]
