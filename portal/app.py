"""The app factory: settings, then the web layer's parts, then the blueprints and the CLI."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from portal import db
from portal.config import INSTANCE_DIR, ROOT, load_settings
from portal.domain import clock
from portal.domain.access import audit


class Portal(Flask):
    """Flask, with views run again once when the database drops out under them
    (``db.dispatch_with_retry``)."""

    def dispatch_request(self) -> Any:
        return db.dispatch_with_retry(super().dispatch_request)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application: defaults, then ``PORTAL_*`` variables, then ``overrides``."""
    settings = load_settings(overrides)
    app = Portal(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(INSTANCE_DIR),
    )
    app.config.update(settings)
    app.config["TESTING"] = settings["ENV"] == "testing"
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    logging.basicConfig(level=settings["LOG_LEVEL"])
    # Alembic's plugin chatter drowns the one line that matters ("Running upgrade …").
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)

    clock.configure(settings["TIMEZONE"])
    db.init_app(app)
    # The audit chain is keyed per database; the key never enters the database.
    audit.configure(db.database(app).engine, settings["AUDIT_KEY"])

    from portal import identity, security
    from portal.web import files

    identity.init_app(app)
    files.init_app(app)
    security.init_app(app)

    from portal.extensions import csrf, limiter

    csrf.init_app(app)
    limiter.init_app(app)

    from portal import errors, templating

    errors.init_app(app)
    templating.init_app(app)

    from admin import bp as admin_bp
    from portal.api import bp as api_bp
    from portal.public import bp as public_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(admin_bp)
    from admin import access

    access.init_app(app)
    app.register_blueprint(api_bp)

    from portal.cli import register_cli

    register_cli(app)
    return app
