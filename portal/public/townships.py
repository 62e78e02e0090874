"""A township's own address on the public site: ``/t/<code>/`` before every public page.

Every public page is registered twice, county-wide and under ``/t/<code>``. The township's
pages read ``g.township`` (an unknown or inactive code is a 404), and ``url_for`` inside them
keeps the township, so a resident who came in through a township's address stays in it;
``url_for(..., township=None)`` leads back to the county.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g
from flask.blueprints import BlueprintSetupState

from portal.db import get_session
from portal.domain.administration import townships
from portal.domain.models import Township
from portal.web.caching import page_township_id

PREFIX = "/t/<township>"
# Pages with no township of their own: the probes, and files named by their key.
COUNTY_ONLY = frozenset({"public.livez", "public.healthz", "public.media",
                         "public.report_received"})


def current() -> Township | None:
    """The township whose pages these are; None on the county's."""
    return g.get("township")


# The id of ``current()``: the web layer reads it too (the page cache's version), so it lives there.
current_id = page_township_id


def _read_township(endpoint: str | None, values: dict[str, Any] | None) -> None:
    code = values.pop("township", None) if values else None
    if code is None:
        return
    found = townships.by_code(get_session(), code)
    if found is None:
        abort(404)
    g.township = found


def _keep_township(endpoint: str, values: dict[str, Any]) -> None:
    township = current()
    if township is not None and "township" not in values and endpoint not in COUNTY_ONLY:
        values["township"] = township.code


def register(bp: Blueprint) -> None:
    """Give every page of ``bp`` its township address; call after its routes are defined."""
    bp.url_value_preprocessor(_read_township)
    bp.url_defaults(_keep_township)

    def add_addresses(state: BlueprintSetupState) -> None:
        app = state.app
        prefix = f"{state.blueprint.name}."
        for rule in list(app.url_map.iter_rules()):
            if not rule.endpoint.startswith(prefix) or rule.endpoint in COUNTY_ONLY:
                continue
            methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
            app.add_url_rule(PREFIX + rule.rule, endpoint=rule.endpoint, methods=methods)

    bp.record(add_addresses)
