"""The baseline of bench.http: a trivial Flask app, served by the same gunicorn settings
(deploy/gunicorn.conf.py, the same workers) in the same run as the portal, so that every
figure can be given as a ratio to what Flask under gunicorn costs on this machine at all.

    gunicorn --config deploy/gunicorn.conf.py bench.trivial:app
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> tuple[str, int, dict[str, str]]:
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}
