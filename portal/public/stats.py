"""Statistics (/stats) with server-rendered SVG charts, and the figures on the home page.

The figures are computed by ``portal.domain.disclosure.statistics`` (mostly sums over the case
tallies) and kept in the figure cache, refreshed in the background when the data version or
the minute moves; each entry is computed by one process and shared with the others through
its snapshot (``Codec``s below: the figures as JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from flask import render_template

from portal.db import get_session
from portal.domain.administration.townships import active as active_townships
from portal.domain.clock import local_zone, to_local, utcnow
from portal.domain.disclosure import statistics
from portal.domain.models import Township
from portal.domain.reporting import rating
from portal.public import bp, townships
from portal.web.caching import Codec, conditional, figure_cache

T = TypeVar("T")


def cached(name: str, compute: Callable[[], T], codec: Codec[T]) -> T:
    """Figures over the whole tables, kept per township whose pages ask (``FigureCache``)
    and shared by every process: after a change the last figures are served while one
    process recomputes them, at most once a minute. They depend on the data and the local
    date alone (overdue is by date), so with no change they stand until midnight.
    ``compute`` opens its own session, since it may run in a background thread."""
    return figure_cache.get_or_compute(("stats", name, townships.current_id()), compute,
                                       shared=codec, daily=True)


FIGURES = Codec(asdict, lambda data: statistics.Figures(**data))
TOWNSHIPS = Codec(
    lambda per: {str(key): asdict(value) for key, value in per.items()},
    lambda data: {int(key): statistics.TownshipFigures(**value) for key, value in data.items()})


@bp.app_template_global()
def public_figures() -> statistics.Figures:
    township_id = townships.current_id()
    return cached("figures", lambda: statistics.figures(
        get_session(), to_local(utcnow()).date(), township_id), FIGURES)


@dataclass(frozen=True)
class TownshipLine:
    township: Township
    figures: statistics.TownshipFigures

    @property
    def rectification_rate(self) -> str:
        return _percent(self.figures.rectification_rate)


@bp.app_template_global()
def township_lines() -> list[TownshipLine]:
    """For the county's home page: each active township and its figures."""
    figures = cached("townships", lambda: statistics.by_township(
        get_session(), to_local(utcnow()).date()), TOWNSHIPS)
    return [TownshipLine(t, figures.get(t.id) or statistics.TownshipFigures(t.id, 0, 0, 0, 0))
            for t in active_townships(get_session())]


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


def _chart(data: dict[str, Any]) -> Chart:
    return Chart(**{**data, "columns": [Column(**column) for column in data["columns"]]})


# The statistics page's charts and rates (``stats``): the charts as their geometry.
CHARTS: Codec[dict[str, Any]] = Codec(
    lambda charts: {name: asdict(value) for name, value in charts.items()},
    lambda data: {
        **{name: _chart(value) for name, value in data.items() if name.endswith("_chart")},
        "on_time": statistics.OnTime(**data["on_time"]),
        "satisfaction": rating.Figures(**data["satisfaction"])})


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _pct_text(pct: float | None) -> str:
    return "—" if pct is None else f"{pct:.1f}%"


@bp.get("/stats")
@conditional
def stats():
    township_id = townships.current_id()

    def compute() -> dict[str, Any]:
        # Its own session and date: it may run in the background thread, after this request.
        session, today, zone = get_session(), to_local(utcnow()).date(), local_zone()
        tips, confirmed = statistics.monthly(session, today, zone, township_id=township_id)
        return {
            "tips_chart": column_chart(tips),
            "cases_chart": column_chart(confirmed),
            "category_chart": bar_rows(statistics.by_category(session, township_id)),
            "village_chart": bar_rows(statistics.by_village(session, township_id)),
            "on_time": statistics.on_time(session, zone, township_id),
            "satisfaction": statistics.satisfaction(session, today, zone, township_id),
            "major_chart": column_chart(statistics.major_open_series(
                session, today, zone, township_id=township_id)),
        }

    charts = cached("charts", compute, CHARTS)
    figures = public_figures()
    return render_template(
        "portal/stats.html", figures=figures, goals=statistics.PLAN_GOALS,
        rectification_rate=_percent(figures.rectification_rate),
        on_time_rate=_percent(charts["on_time"].rate),
        satisfaction_rate=_pct_text(charts["satisfaction"].satisfaction_pct),
        follow_up_rate=_pct_text(charts["satisfaction"].follow_up_pct), **charts,
    )
