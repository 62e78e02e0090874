"""Conditional GET for public pages: ETag and Last-Modified, answered with 304 when unchanged.

A page's validator is built from the data version, not from the rendered page, so an unchanged
page costs three primary-key lookups instead of its queries and its template. The version is
the newest row of the audit log (every staff write is audited), of the case timeline and of the
tips table, so any change that could show on a public page moves it; so does the local date,
since overdue markers turn on at midnight without any write.

Two narrowings keep a busy county's pages cached (issue 18). Per township: on a township's
pages (``g.township``) the tips part is the newest tip of that township's villages, so a new
report in one township leaves the others' pages as they were. Per page kind: pages that show
no tip figures (the disclosures, their feeds and files, Open311's listings) leave tips out of
their version (``conditional(tips=False)``), so no new report drops them. The audit log and
the case timeline stay county-wide: they have no township column (a case's township is its
village's), and telling their rows apart per township would cost a join per page view.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Generic, TypeVar, cast, overload

from flask import Response, current_app, g, make_response, request
from sqlalchemy import func, literal, select

from portal.config import ROOT
from portal.db import after_session, get_session, side_transaction
from portal.domain import snapshots
from portal.domain.administration.townships import newest_of
from portal.domain.clock import local_today, local_zone, to_local, utcnow
from portal.domain.models import AuditLog, CaseEvent, Tip

F = TypeVar("F", bound=Callable[..., Any])


def _code_stamp() -> str:
    """A digest of the templates and the public views' code: it changes when a deploy changes
    what a page looks like, and is the same in every process and instance running one release
    (so a client bouncing between instances behind a load balancer still gets its 304)."""
    digest = hashlib.sha256()
    sources = [*sorted((ROOT / "templates").rglob("*.html")),
               *sorted((ROOT / "portal" / "public").glob("*.py")),
               *sorted((ROOT / "portal" / "api").glob("*.py"))]
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_CODE_STAMP = _code_stamp()
CACHE_CONTROL = "public, max-age=0, must-revalidate"
# Headers that are part of a page and kept with it in the page cache (Open311's next page).
KEPT_HEADERS = ("Link",)


_VERSIONED: tuple[type[AuditLog] | type[CaseEvent] | type[Tip], ...] = (AuditLog, CaseEvent, Tip)

Version = tuple[tuple[int, int, int], dt.datetime | None]
# Whose pages (a township's id, None: the county's) and whether they show tip figures.
Scope = tuple[int | None, bool]

_recent: dict[Scope, tuple[float, Version]] = {}
_recent_lock = threading.Lock()


def page_township_id() -> int | None:
    """The township whose public pages these are (``g.township``, set by the public site's
    /t/<code>/ addresses); None on the county's pages and everywhere else."""
    township = g.get("township")
    return None if township is None else township.id


def data_version(township_id: int | None = None, *, tips: bool = True) -> Version:
    """The data version, read at most once per ``PUBLIC_CACHE_SECONDS`` per process.

    Public pages may lag a change by that long (1 s by default); in exchange a busy public page
    never touches the database at all."""
    ttl = current_app.config["PUBLIC_CACHE_SECONDS"]
    if ttl <= 0:
        return read_data_version(township_id, tips=tips)
    scope, now = (township_id, tips), time.monotonic()
    with _recent_lock:
        hit = _recent.get(scope)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    value = read_data_version(township_id, tips=tips)
    with _recent_lock:
        _recent[scope] = (now, value)
    return value


def read_data_version(township_id: int | None = None, *, tips: bool = True) -> Version:
    """(newest audit row, event and tip ids) and the time of the newest of them; the tip is
    the township's newest (``township_id``), or none at all (``tips=False``: 0).

    One round trip on indexes, whatever the size of the tables: the primary keys, and for a
    township's newest tip one probe per village on tips (village_id, id)."""
    newest_tip = (select(literal(0)) if not tips
                  else select(func.max(Tip.id)) if township_id is None
                  else newest_of(Tip.id, Tip.village_id, township_id))
    newest = (select(func.max(AuditLog.id)).scalar_subquery(),
              select(func.max(CaseEvent.id)).scalar_subquery(), newest_tip.scalar_subquery())
    row = get_session().execute(select(*newest, *(
        select(model.created_at).where(model.id == newest_id).scalar_subquery()
        for model, newest_id in zip(_VERSIONED, newest, strict=True)))).one()
    ids = tuple(value or 0 for value in row[:3])
    times = [t for t in row[3:] if t is not None]
    return (ids[0], ids[1], ids[2]), (max(times) if times else None)


# Each key's value for the newest audit row it was computed at: one entry a key, so that a
# busy back office (every staff write is an audit row) never leaves a process holding a copy
# of the report form per write until the bound evicts it.
_by_audit: OrderedDict[tuple[Any, ...], tuple[int, Any]] = OrderedDict()
_by_audit_lock = threading.Lock()
T = TypeVar("T")


def per_audit_version(key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """A value that only audited writes change (the vocabularies a filter offers, the
    jurisdiction's settings, the empty report form), computed once per process for each
    newest audit row: every public page reads them, few ever change them. The audit row is
    the page's own data version's (``data_version``), so a page never pairs its ETag with
    older values; a request that read an older version than the one kept (another
    township's, read earlier within the lag) computes its own and keeps nothing. With
    ``PUBLIC_CACHE_SECONDS = 0`` (tests) it is computed every time, as the pages are."""
    if current_app.config["PUBLIC_CACHE_SECONDS"] <= 0:
        return compute()
    audit_id = data_version(page_township_id(), tips=False)[0][0]
    with _by_audit_lock:
        kept = _by_audit.get(key)
        if kept is not None and kept[0] == audit_id:
            _by_audit.move_to_end(key)
            return cast(T, kept[1])
    value = compute()
    with _by_audit_lock:
        kept = _by_audit.get(key)
        if kept is None or kept[0] < audit_id:
            _by_audit[key] = (audit_id, value)
            _by_audit.move_to_end(key)
            while len(_by_audit) > 256:
                _by_audit.popitem(last=False)
    return value


def forget_versions() -> None:
    """Drop the versions read and the values kept by them (tests: rolled-back tests reuse
    ids, so a version read in one could name another's data)."""
    with _recent_lock:
        _recent.clear()
    with _by_audit_lock:
        _by_audit.clear()


class PageCache:
    """Rendered public pages by ETag, per process. The ETag already names the data version,
    the date, the URL and the release, so an entry is never stale: a change makes new keys and
    old entries age out of the LRU.

    Bounded by entries and by their bytes together (``total_bytes``): varied URLs fill every
    entry, and 512 Open311 pages of 200 requests are 100 MB, which put every worker past its
    memory target (issue 19). 8 MB holds some three hundred list pages, more than a county's
    pages that many visitors ask for at once (each township's first pages, home and
    statistics); at 16 MB a run where every URL was new left every worker at 151-153 MB
    resident, at 8 MB at 140-143 (bench.http, 100k cases)."""

    def __init__(self, entries: int = 512, max_bytes: int = 512 * 1024,
                 total_bytes: int = 8 * 1024 * 1024) -> None:
        self.entries, self.max_bytes, self.total_bytes = entries, max_bytes, total_bytes
        self._store: OrderedDict[str, tuple[bytes, str, tuple[tuple[str, str], ...]]] = (
            OrderedDict())
        self._held = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[bytes, str, tuple[tuple[str, str], ...]] | None:
        with self._lock:
            hit = self._store.get(key)
            if hit is not None:
                self._store.move_to_end(key)
            return hit

    def clear(self) -> None:
        with self._lock:
            self._store.clear()
            self._held = 0

    @property
    def held_bytes(self) -> int:
        return self._held

    def put(self, key: str, body: bytes, mimetype: str,
            headers: tuple[tuple[str, str], ...] = ()) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._store.pop(key, None)
            if old is not None:
                self._held -= len(old[0])
            self._store[key] = (body, mimetype, headers)
            self._held += len(body)
            while self._store and (len(self._store) > self.entries
                                   or self._held > self.total_bytes):
                _key, (gone, _type, _headers) = self._store.popitem(last=False)
                self._held -= len(gone)


page_cache = PageCache()


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a figure is written to JSON and read back, for figures every process shares
    (``FigureCache.get_or_compute(shared=...)``)."""

    encode: Callable[[T], Any]
    decode: Callable[[Any], T]


class FigureCache:
    """Figures over whole tables (the dashboard's, the public statistics) kept per process,
    and, for the entries given a ``Codec``, shared by every process (``FigureSnapshot``).

    An entry is exact for the data version and the minute it was computed in. When either has
    moved, the last value is still served while one background thread per process recomputes
    it, at most once per ``min_refresh_seconds`` per entry, so a burst of writes (every tip
    moves the data version) costs one recompute a minute, not one per write; a cold entry is
    computed in the request. A shared entry is computed by one process: the others take it
    from the snapshot, cold or stale, and a process that finds another computing it (a claim
    younger than ``snapshots.CLAIM_SECONDS``) looks again a second later. With
    ``PUBLIC_CACHE_SECONDS = 0`` (tests) every change is computed at once and nothing is
    shared, so figures always equal the ledger they link to.
    """

    def __init__(self, entries: int = 2048, min_refresh_seconds: float = 60.0,
                 wait_seconds: float = 3.0) -> None:
        self.entries = entries
        self.min_refresh_seconds = min_refresh_seconds
        self.wait_seconds = wait_seconds
        # key -> (stamp, value, when computed, monotonic)
        self._store: OrderedDict[tuple[Any, ...], tuple[str, Any, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._refreshing: set[tuple[Any, ...]] = set()
        self._one_at_a_time = threading.Semaphore(1)

    def clear(self) -> None:
        with self._lock:
            self._store.clear()

    def get_or_compute(self, key: tuple[Any, ...], compute: Callable[[], T],
                       shared: Codec[T] | None = None, *, daily: bool = False) -> T:
        """``compute`` must open its own session (``get_session()`` inside), since it may run
        in a background thread. ``daily``: the figures depend on the data and the local date
        alone, not the time of day (``_exact_for``)."""
        # Figures count tips; on a township's pages, that township's (see the module's notes).
        township_id = page_township_id()
        if "data_version" not in g:
            g.data_version = data_version(township_id)[0]
        stamp = _exact_for(g.data_version, daily)
        live = current_app.config["PUBLIC_CACHE_SECONDS"] > 0
        with self._lock:
            hit = self._store.get(key)
            if hit is not None:
                self._store.move_to_end(key)
        if hit is None and live and shared is not None:
            hit = self._from_snapshot(key, shared) or self._computed_elsewhere(key, shared)
        if hit is not None:
            stored_stamp, value, computed_at = hit
            if stored_stamp == stamp:
                return cast(T, value)
            if live:
                if time.monotonic() - computed_at >= self.min_refresh_seconds:
                    self._refresh(key, compute, township_id, shared, daily)
                # The page drawn with these figures is older than its data version: it must
                # not be kept (or validated) under that version's ETag (see ``conditional``).
                g.stale_figures = True
                return cast(T, value)
        value = compute()
        self._put(key, stamp, value)
        if live and shared is not None:
            after_session(lambda: self._share(key, stamp, value, shared))
        return value

    def _from_snapshot(self, key: tuple[Any, ...], codec: Codec[Any]
                       ) -> tuple[str, Any, float] | None:
        """A cold entry from the snapshot another process stored, if any. One that is not
        exact for this request's version is kept as due for a refresh at once."""
        value = _decoded(key, snapshots.read(get_session(), _shared_key(key)), codec)
        if value is None:
            return None
        entry = (value[0], value[1], time.monotonic() - self.min_refresh_seconds)
        self._put(key, *entry)
        return entry

    def _computed_elsewhere(self, key: tuple[Any, ...], codec: Codec[Any]
                            ) -> tuple[str, Any, float] | None:
        """For an entry no process has stored: None if this process claims it (and computes
        it in the request); else the snapshot of the process holding the claim, waited for up
        to ``wait_seconds`` (workers starting cold together compute each entry once, not
        each; a township's statistics cost 70-220 ms at two million cases). Each look is a
        transaction of its own, so that it sees what the other process has committed."""
        name = _shared_key(key)
        try:
            with side_transaction() as session:
                if snapshots.claim(session, name, utcnow()):
                    return None
            deadline = time.monotonic() + self.wait_seconds
            while time.monotonic() < deadline:
                time.sleep(0.05)
                with side_transaction() as session:
                    value = _decoded(key, snapshots.read(session, name), codec)
                if value is not None:
                    entry = (value[0], value[1], time.monotonic())
                    self._put(key, *entry)
                    return entry
        except Exception:  # the claim or the snapshot is out of reach: compute it here
            logging.getLogger(__name__).exception("waiting for figures failed: %s", key)
        return None

    def _share(self, key: tuple[Any, ...], stamp: str, value: Any, codec: Codec[Any]) -> None:
        try:
            with side_transaction() as session:
                snapshots.store(session, _shared_key(key), stamp,
                                json.dumps(codec.encode(value), ensure_ascii=False), utcnow())
        except Exception:  # the figures stand; the next process computes its own
            logging.getLogger(__name__).exception("storing a figure snapshot failed: %s", key)

    def _put(self, key: tuple[Any, ...], stamp: str, value: Any,
             computed_at: float | None = None) -> None:
        with self._lock:
            self._store[key] = (stamp, value,
                                time.monotonic() if computed_at is None else computed_at)
            self._store.move_to_end(key)
            self._evict()

    def _evict(self) -> None:
        while len(self._store) > self.entries:
            self._store.popitem(last=False)

    def _refresh(self, key: tuple[Any, ...], compute: Callable[[], Any],
                 township_id: int | None = None, shared: Codec[Any] | None = None,
                 daily: bool = False) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def work() -> None:
            try:
                with self._one_at_a_time, app.app_context():
                    stamp = _exact_for(read_data_version(township_id)[0], daily)
                    if shared is not None and not self._take_or_claim(key, stamp, shared):
                        return
                    value = compute()
                    self._put(key, stamp, value)
                    if shared is not None:
                        self._share(key, stamp, value, shared)
            except Exception:  # the last value stays; the next request tries again
                logging.getLogger(__name__).exception("figure refresh failed: %s", key)
            finally:
                with self._lock:
                    self._refreshing.discard(key)

        threading.Thread(target=work, name="figure-refresh", daemon=True).start()

    def _take_or_claim(self, key: tuple[Any, ...], stamp: str, codec: Codec[Any]) -> bool:
        """Whether this process computes a shared entry: not if the snapshot is already exact
        (it is taken), nor while another process holds the claim (the entry is looked at
        again a second later); yes otherwise."""
        value = _decoded(key, snapshots.read(get_session(), _shared_key(key)), codec)
        if value is not None and value[0] == stamp:
            self._put(key, stamp, value[1])
            return False
        with side_transaction() as session:
            claimed = snapshots.claim(session, _shared_key(key), utcnow())
        if claimed:
            return True
        with self._lock:
            kept = self._store.get(key)
        if kept is not None:  # looked at again in a second
            self._put(key, kept[0], kept[1], time.monotonic() - self.min_refresh_seconds + 1.0)
        return False


def _exact_for(version: Any, daily: bool) -> str:
    """What an entry is exact for: the data version and the minute (a dashboard's overdue
    counts turn at any time of day), or, for figures that depend on the local date alone
    (``daily``: the public statistics), the date, so that with no write they are not
    computed again before midnight: at two million cases a county's forty public entries
    cost some 6 s of database time each time they are."""
    when = local_today(utcnow()).isoformat() if daily else int(time.time() // 60)
    return repr((version, when))


def _decoded(key: tuple[Any, ...], snapshot: snapshots.Snapshot | None, codec: Codec[Any]
             ) -> tuple[str, Any] | None:
    """A snapshot's stamp and figures; None if there is none, or if its body is one this
    release cannot read (written by another: the figures are computed again)."""
    if snapshot is None:
        return None
    try:
        return snapshot.stamp, codec.decode(json.loads(snapshot.body))
    except (ValueError, TypeError, KeyError):
        logging.getLogger(__name__).warning("unreadable figure snapshot: %s", key)
        return None


def _shared_key(key: tuple[Any, ...]) -> str:
    return "|".join(map(str, key))


figure_cache = FigureCache()


def _local_midnight() -> dt.datetime:
    """Pages also change when the date does (overdue markers), with no write at all."""
    today = to_local(utcnow()).date()
    return dt.datetime.combine(today, dt.time(), tzinfo=local_zone())


def _etag(version: tuple[int, int, int], day: dt.datetime) -> str:
    key = f"{version}|{day.date()}|{request.host}|{request.full_path}|{_CODE_STAMP}"
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


@overload
def conditional(view: F, *, tips: bool = True) -> F: ...
@overload
def conditional(view: None = None, *, tips: bool = True) -> Callable[[F], F]: ...


def conditional(view: F | None = None, *, tips: bool = True) -> F | Callable[[F], F]:
    """Send ETag/Last-Modified with a public page and answer 304 when the client has it.

    ``tips=False`` for pages that show no tip figures: a new report does not change them."""
    if view is None:
        return lambda inner: _conditional(inner, tips=tips)
    return _conditional(view, tips=tips)


def _conditional(view: F, *, tips: bool) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if request.method not in ("GET", "HEAD"):
            return view(*args, **kwargs)
        version, changed = data_version(page_township_id(), tips=tips)
        midnight = _local_midnight()
        last_modified = max(changed, midnight) if changed else midnight
        etag = _etag(version, midnight)
        if _not_modified(etag, last_modified):
            return _stamp(Response(status=304), etag, last_modified)
        cached = page_cache.get(etag)
        if cached is not None:
            body, mimetype, headers = cached
            return _stamp(Response(body, mimetype=mimetype, headers=list(headers)), etag,
                          last_modified)
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200:
            if g.get("stale_figures"):
                # Drawn with figures still being recomputed: served, but neither cached nor
                # given the ETag, else every process would keep it until the next write.
                response.headers["Cache-Control"] = CACHE_CONTROL
                return response
            _stamp(response, etag, last_modified)
            if not response.is_streamed:
                kept = tuple((name, value) for name, value in response.headers.items()
                             if name in KEPT_HEADERS)
                page_cache.put(etag, response.get_data(), response.mimetype or "text/html",
                               kept)
        return response

    return wrapped  # type: ignore[return-value]
