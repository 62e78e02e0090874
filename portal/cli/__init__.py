"""The command line: ``flask --app wsgi db|portal|users|audit|sla|calendar|notifications|
apikeys|backup|restore|uploads|retention|ledger|jobs|
opendata|selfcheck …``, one module per concern."""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    from portal.cli import apikeys, inspection, jobs, linkage, opendata, ops, setup

    for group in setup.GROUPS:
        app.cli.add_command(group)
    linkage.register(app)
    ops.register(app)
    apikeys.register(app)
    opendata.register(app)
    jobs.register(app)
    inspection.register(app)
