"""The fire-hazard tip-off and disclosure portal.

Importing ``portal`` loads no web framework, so that ``portal.domain`` can be used (and is
tested) without Flask; ``create_app`` builds the web application on demand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application: defaults, then ``PORTAL_*`` variables, then ``overrides``."""
    from portal.app import create_app as build

    return build(overrides)
