"""Template globals and filters: local time, labels, the township's name."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Hashable, Sequence
from typing import Any

from flask import Flask, g, url_for
from markupsafe import Markup, escape
from sqlalchemy.exc import SQLAlchemyError

from portal.db import get_session, rollback_session
from portal.domain.administration import settings as portal_settings
from portal.domain.administration import townships
from portal.domain.clock import to_local
from portal.domain.disclosure import sanitize
from portal.web.caching import per_audit_version

WEEKDAYS = "一二三四五六日"


def format_datetime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else to_local(value).strftime(fmt)


def format_date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = to_local(value).date()
    return f"{value.year}年{value.month}月{value.day}日（周{WEEKDAYS[value.weekday()]}）"


def jurisdiction() -> dict[str, Any]:
    """The township's identity, read once per request, and once per process for each newest
    audit row (``per_audit_version``): every page names it, and only audited writes change it.

    Error pages render this too, so a database that is down must not break them.
    """
    if "jurisdiction" not in g:
        try:
            g.jurisdiction = per_audit_version(
                ("jurisdiction",), lambda: portal_settings.jurisdiction(get_session()))
        except SQLAlchemyError:
            rollback_session()
            g.jurisdiction = dict(portal_settings.DEFAULT_JURISDICTION)
    return g.jurisdiction


def place_name() -> str:
    """The page's place: the county, or the township whose pages these are (``g.township``,
    set by the public site's /t/<code>/ addresses)."""
    return townships.place_name(jurisdiction()["name"], g.get("township"))


def merge(*dicts: dict[str, Any]) -> dict[str, Any]:
    """Merge attribute dicts in templates (Jinja allows one ** per call)."""
    merged: dict[str, Any] = {}
    for d in dicts:
        merged.update(d)
    return merged


def rich_text(text: str | None) -> Markup:
    """Published prose (bulletins): paragraphs and safe links, nothing else."""
    html = sanitize.paragraphs(text or "")
    return Markup(html)  # noqa: S704  # nosec B704 - escaped, then cleaned by bleach


def options(choices: Sequence[tuple[Hashable, str]], selected: Hashable = None) -> Markup:
    """The ``<option>`` elements of a select's (value, label) choices, the one equal to
    ``selected`` marked. Drawn once per process for each list and choice: a county's list
    page offers a hundred villages, and escaping each on every request was a tenth of the
    page's rendering (issue 19)."""
    return _options(tuple(choices), selected)


@functools.lru_cache(maxsize=256)
def _options(choices: tuple[tuple[Hashable, str], ...], selected: Hashable) -> Markup:
    return Markup("".join(  # noqa: S704  # nosec B704 - every value and label escaped
        f'<option value="{escape(value)}"{" selected" if value == selected else ""}>'
        f"{escape(label)}</option>" for value, label in choices))


def id_url(endpoint: str, key: str, value: int) -> str:
    """``url_for(endpoint, key=value)`` for an address that ends in an integer id: built by
    ``url_for`` once per request and endpoint, then only completed. A list links each of its
    rows (twenty cards, fifty ledger lines), and ``url_for`` each time was a tenth of drawing
    a row (issue 19)."""
    prefixes: dict[tuple[str, str], str | None] = g.setdefault("id_url_prefixes", {})
    if (endpoint, key) not in prefixes:
        values: dict[str, Any] = {key: 0}
        sample = url_for(endpoint, **values)
        prefixes[endpoint, key] = sample[:-1] if sample.endswith("/0") else None
    prefix = prefixes[endpoint, key]
    if prefix is None:
        values = {key: value}
        return url_for(endpoint, **values)
    return f"{prefix}{int(value)}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["rich"] = rich_text
    app.jinja_env.globals["merge"] = merge
    app.jinja_env.globals["options"] = options
    app.jinja_env.globals["id_url"] = id_url
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.globals["jurisdiction"] = jurisdiction
    app.jinja_env.globals["place_name"] = place_name
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
