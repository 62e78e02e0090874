"""Statistics (/stats) with server-rendered SVG charts, and the figures on the home page.

The figures are computed by ``portal.domain.statistics`` and kept in a small per-process cache,
refreshed when the data version moves (see ``cached``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, render_template

from portal.db import get_session, utcnow
from portal.domain import statistics
from portal.public import bp
from portal.public.caching import conditional, data_version
from portal.templating import local_zone, to_local

log = logging.getLogger(__name__)

# A refresh in the background starts at most this often per process, however busy the writes.
MIN_REFRESH_SECONDS = 60
T = TypeVar("T")


@dataclass
class _Entry:
    key: tuple[Any, ...]
    day: dt.date
    at: float
    value: Any


_lock = threading.Lock()
_cache: dict[str, _Entry] = {}
_refreshing: set[str] = set()


def cached(name: str, compute: Callable[[], T]) -> T:
    """Figures over the whole table, kept per process.

    A cold cache, or a new local day, computes in the request. After a change (the data version
    moved) the last figures keep being served while one background thread per process
    recomputes them, at most once a minute: at a million cases a computation takes seconds,
    and no visitor should wait for it. With ``PUBLIC_CACHE_SECONDS = 0`` (tests) every change
    is computed at once.
    """
    key = data_version()[0]
    day = to_local(utcnow()).date()
    now = time.monotonic()
    with _lock:
        hit = _cache.get(name)
    if hit is not None and hit.day == day:
        if hit.key == key:
            return hit.value
        if current_app.config["PUBLIC_CACHE_SECONDS"] > 0:
            if now - hit.at >= MIN_REFRESH_SECONDS:
                _refresh_in_background(name, compute)
            return hit.value
    value = compute()
    with _lock:
        _cache[name] = _Entry(key, day, now, value)
    return value


def _refresh_in_background(name: str, compute: Callable[[], T]) -> None:
    with _lock:
        if name in _refreshing:
            return
        _refreshing.add(name)
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def work() -> None:
        try:
            with app.app_context():
                key = data_version()[0]
                value = compute()
                with _lock:
                    _cache[name] = _Entry(key, to_local(utcnow()).date(), time.monotonic(),
                                          value)
        except Exception:  # the stale figures stay; the next change tries again
            log.exception("statistics refresh failed")
        finally:
            with _lock:
                _refreshing.discard(name)

    threading.Thread(target=work, name=f"stats-{name}", daemon=True).start()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


@bp.app_template_global()
def public_figures() -> statistics.Figures:
    today = to_local(utcnow()).date()
    return cached("figures", lambda: statistics.figures(get_session(), today))


# ------------------------------------------------------------------ chart geometry


@dataclass(frozen=True)
class Column:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float
    # Long series label every few columns only, so labels never overlap on a phone.
    show_label: bool = True


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    maximum: int
    columns: list[Column]

    @property
    def points(self) -> str:
        """The columns' tops as a polyline, for line charts."""
        return " ".join(f"{c.x + c.width / 2:.1f},{c.y:.1f}" for c in self.columns)


# Sized for a phone: the SVG scales to the page width, text stays readable at ~360 px.
CHART_WIDTH = 360


def column_chart(bars: Sequence[statistics.Bar], width: int = CHART_WIDTH, height: int = 180
                 ) -> Chart:
    top, bottom, left = 16, 24, 4
    plot_h = height - top - bottom
    maximum = max((b.value for b in bars), default=0) or 1
    slot = (width - left) / max(len(bars), 1)
    every = max(1, round(30 / slot))
    last = len(bars) - 1
    columns = []
    for i, bar in enumerate(bars):
        h = plot_h * bar.value / maximum
        columns.append(Column(bar.label, bar.value, left + i * slot + slot * 0.15,
                              top + plot_h - h, slot * 0.7, h,
                              show_label=(last - i) % every == 0))
    return Chart(width, height, top + plot_h, maximum, columns)


def bar_rows(bars: Sequence[statistics.Bar], width: int = CHART_WIDTH, row: int = 24) -> Chart:
    """Horizontal bars with the label on the left (long Chinese category names)."""
    label_w, right = 150, 30
    maximum = max((b.value for b in bars), default=0) or 1
    columns = [
        Column(b.label, b.value, label_w, i * row + 4, (width - label_w - right) * b.value
               / maximum, row - 8)
        for i, b in enumerate(bars)
    ]
    return Chart(width, max(len(bars), 1) * row, 0, maximum, columns)


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


@bp.get("/stats")
@conditional
def stats():
    today = to_local(utcnow()).date()
    zone = local_zone()

    def compute() -> dict[str, Any]:
        # Its own session: it may run in the background thread, after this request ended.
        session = get_session()
        tips, confirmed = statistics.monthly(session, today, zone)
        return {
            "tips_chart": column_chart(tips),
            "cases_chart": column_chart(confirmed),
            "category_chart": bar_rows(statistics.by_category(session)),
            "village_chart": bar_rows(statistics.by_village(session)),
            "on_time": statistics.on_time(session, zone),
            "major_chart": column_chart(statistics.major_open_series(session, today, zone)),
        }

    charts = cached("charts", compute)
    figures = public_figures()
    return render_template(
        "portal/stats.html", figures=figures, goals=statistics.PLAN_GOALS,
        rectification_rate=_percent(figures.rectification_rate),
        on_time_rate=_percent(charts["on_time"].rate), **charts,
    )
