"""Disclosed hazard units (隐患公示): the filtered list and each unit's page."""

from __future__ import annotations

import datetime as dt
import functools
from types import SimpleNamespace
from typing import Any

from flask import abort, get_template_attribute, render_template, request
from markupsafe import Markup
from sqlalchemy.orm import Session

from portal.db import get_session
from portal.domain import clock
from portal.domain.administration import vocabulary
from portal.domain.disclosure import publication, search
from portal.domain.disclosure.redaction import mask_personal_data
from portal.domain.enums import CaseStatus, Severity, SupervisionLevel
from portal.domain.inspection import selfcheck
from portal.domain.reporting import intake
from portal.domain.supervision import bulletins
from portal.public import bp, townships
from portal.web.caching import conditional, per_audit_version

PER_PAGE = 20
# A disclosed case has been confirmed, so it is in one of these.
PUBLIC_STATUSES = (CaseStatus.RECTIFYING, CaseStatus.RECTIFIED, CaseStatus.CLOSED)



def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _filters() -> publication.DisclosureFilters:
    status = request.args.get("status", "")
    severity = request.args.get("severity", "")
    return publication.DisclosureFilters(
        village_id=_int_arg("village"),
        venue_type_id=_int_arg("venue_type"),
        category_id=_int_arg("category"),
        status=CaseStatus(status) if status in {s.value for s in PUBLIC_STATUSES} else None,
        severity=Severity(severity) if severity in {s.value for s in Severity} else None,
        supervised=request.args.get("supervised") == "1",
        unit_name=request.args.get("q", "").strip()[:50],
        township_id=townships.current_id(),
    )


def filter_choices(session: Session) -> dict[str, Any]:
    township_id = townships.current_id()

    def read() -> dict[str, Any]:
        return {
            "villages": intake.village_choices(session, township_id),
            "venue_types": [(v.id, v.name) for v in
                            vocabulary.in_use(session, "venue_type", township_id)],
            "categories": [(c.id, c.name) for c in
                           vocabulary.in_use(session, "category", township_id)],
        }

    # Every list page offers them and only audited admin writes change them.
    return {**per_audit_version(("public filters", township_id), read),
            "statuses": PUBLIC_STATUSES, "severities": list(Severity)}


@bp.get("/disclosures")
@conditional(tips=False)
def disclosures():
    session = get_session()
    filters = _filters()
    page = publication.search_disclosed(
        session, filters, today=clock.local_today(), page=request.args.get("page"),
        per_page=PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    needle = search.normalize(filters.unit_name)
    return render_template(
        "portal/disclosures.html", page=page, filters=filters, args=args,
        stages=publication.STAGES, count_cap=search.COUNT_CAP,
        count_capped=(not publication.counted_exactly(filters)
                      and search.is_capped(page.total)),
        one_character=len(needle) == 1, **filter_choices(session),
    )


@bp.get("/disclosures/unit/<int:unit_id>")
@conditional(tips=False)
def disclosure_unit(unit_id: int):
    db, township_id = get_session(), townships.current_id()
    found = publication.unit_disclosures(db, unit_id, today=clock.local_today(),
                                         township_id=township_id)
    if found is not None:
        unit, cases = found
    else:
        # A unit whose only public record is its signed commitment (issue 22).
        committed = selfcheck.committed_unit(db, unit_id, township_id=township_id)
        if committed is None:
            abort(404)
        unit, cases = committed, []
    return render_template(
        "portal/disclosure_unit.html", cases=cases, stages=publication.STAGES,
        unit_name=cases[0].unit_name if cases else mask_personal_data(unit.name),
        village=unit.village.name, township=unit.village.township.name,
        venue_type=unit.venue_type.name if unit.venue_type else "",
        commitment=selfcheck.public_commitment(db, unit),
        supervision_none=SupervisionLevel.NONE,
    )


@bp.app_template_global()
def latest_disclosures(limit: int = 5) -> list[publication.PublicCase]:
    """For the home page: the newest disclosures."""
    return publication.latest_disclosed(get_session(), today=clock.local_today(), limit=limit,
                                        township_id=townships.current_id())


@bp.app_template_global()
def status_badges(c: publication.PublicCase) -> Markup:
    """A case's badges (the macro ``status_badge``), drawn once per combination per process:
    a list draws twenty cards, and a macro call cost more than what it drew (issue 19)."""
    return _status_badges(c.status, c.overdue, c.severity, c.supervision_level)


@functools.lru_cache(maxsize=256)
def _status_badges(status: CaseStatus, overdue: bool, severity: Severity,
                   level: SupervisionLevel) -> Markup:
    draw = get_template_attribute("portal/disclosure_macros.html", "status_badge")
    shown = SimpleNamespace(status=status, overdue=overdue, severity=severity,
                            supervision_level=level, supervised=level != SupervisionLevel.NONE)
    return Markup(draw(shown))  # noqa: S704  # nosec B704 - the macro's escaped output


@bp.app_template_global()
def deadline_of(rectify_by: dt.date | None) -> Markup:
    """A case's deadline (the macro ``deadline``), drawn once per date per process."""
    return _deadline(rectify_by)


@functools.lru_cache(maxsize=1024)
def _deadline(rectify_by: dt.date | None) -> Markup:
    draw = get_template_attribute("portal/disclosure_macros.html", "deadline")
    return Markup(draw(SimpleNamespace(rectify_by=rectify_by)))  # noqa: S704  # nosec B704


@bp.app_template_global()
def progress_bar(stage: int, stages: tuple[str, ...]) -> Markup:
    """A case's progress bar at ``stage`` (the macro ``progress_of``), drawn once per stage per
    process: every card of every list has one, and there are only five."""
    return _progress_bar(stage, tuple(stages))


@functools.lru_cache(maxsize=32)
def _progress_bar(stage: int, stages: tuple[str, ...]) -> Markup:
    draw = get_template_attribute("portal/disclosure_macros.html", "progress_of")
    return Markup(draw(stage, stages))  # noqa: S704  # nosec B704 - the macro's escaped output


@bp.app_template_global()
def disclosure_stages() -> tuple[str, ...]:
    return publication.STAGES


@bp.app_template_global()
def latest_bulletins(limit: int = 3) -> list[bulletins.PublicBulletin]:
    """For the home page: the newest published bulletins (通报)."""
    return bulletins.published_public(get_session(), 1, size=limit,
                                      township_id=townships.current_id()).items
