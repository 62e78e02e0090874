"""The inspections hub (排查与底数, issue 22): one page linking every screen of the register,
the rounds, random checks, self-checks, field filings, warnings and ledger imports that the
signed-in account may open.

Each part's view module adds its own entries with ``link(…)`` when it is imported, so the
navigation has one entry ("排查与底数") and no part edits another's template.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template, url_for
from flask_login import current_user

from admin import bp
from admin.access import require
from portal.domain.access.permissions import Permission, has_permission


@dataclass(frozen=True)
class Link:
    endpoint: str
    label: str
    permission: Permission
    group: str
    hint: str = ""


LINKS: list[Link] = []
GROUPS = ("我的工作", "场所底数", "排查与抽查", "单位自查", "预警与历史台账")


def link(endpoint: str, label: str, permission: Permission, group: str, hint: str = "") -> None:
    """Add a screen to the hub (at import of the view module that serves it)."""
    if group not in GROUPS:
        raise ValueError(f"unknown hub group {group!r}")
    LINKS.append(Link(endpoint, label, permission, group, hint))


def visible_links() -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The hub's groups with the links the current account may open, in order."""
    known = current_app.view_functions
    shown = []
    for group in GROUPS:
        entries = [(url_for(entry.endpoint), entry.label, entry.hint) for entry in LINKS
                   if entry.group == group and entry.endpoint in known
                   and has_permission(current_user.role, entry.permission)]
        if entries:
            shown.append((group, entries))
    return shown


def any_visible() -> bool:
    return any(has_permission(current_user.role, entry.permission) for entry in LINKS)


@bp.app_context_processor
def _hub() -> dict[str, object]:
    return {"inspection_hub_visible": any_visible}


@bp.route("/inspections")
@require(Permission.STAFF)
def inspections():
    return render_template("admin/inspections.html", groups=visible_links())
