"""gunicorn settings for the portal: ``gunicorn -c deploy/gunicorn.conf.py`` (from the
checkout; ``--bind`` on the command line overrides the address).

Read from the same ``PORTAL_*`` variables as the app: PORTAL_WORKERS, PORTAL_WORKER_TIMEOUT
and PORTAL_GRACEFUL_TIMEOUT, and the database timeouts, which must together stay below the
worker timeout (``portal.config.check_timeouts``; gunicorn refuses to start otherwise), so a
hung database answers the 503 page instead of gunicorn killing every worker at once.

On SIGTERM the master closes its listening socket and each worker finishes the request it
holds; connections the kernel had already queued for the socket are then reset, by gunicorn's
design (gunicorn issues #2409, #3397). ``worker_exit`` below serves those too before the
worker lets go of the socket; what still arrives after the last worker has gone is refused,
and the proxy sends idempotent requests to another instance (deploy/nginx.conf).
"""

from __future__ import annotations

import errno
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from portal.config import ConfigError, worker_settings  # noqa: E402

try:
    _settings = worker_settings()
except ConfigError as exc:
    sys.exit(f"deploy/gunicorn.conf.py: {exc}")

wsgi_app = "wsgi:app"
chdir = str(ROOT)
bind = ["127.0.0.1:8000"]
worker_class = "sync"
workers = _settings["WORKERS"]
timeout = _settings["WORKER_TIMEOUT"]
graceful_timeout = _settings["GRACEFUL_TIMEOUT"]
# No gunicornc control socket: one fixed path per user would be shared by every instance.
control_socket_disable = True


def post_worker_init(_worker: Any) -> None:
    """Once the worker has loaded the app, move everything it holds (modules, templates,
    compiled statements, configuration) out of the garbage collector's sight (``gc.freeze``):
    a full collection then walks only what requests made since, not the whole app. Measured
    in process on the ledger at 100k cases: 3.3 ms of collection per request, in pauses of up
    to 140 ms, before; about a third after."""
    gc.collect()
    gc.freeze()


def worker_exit(_server: Any, worker: Any) -> None:
    """A stopping sync worker answers the connections already queued on the listening socket
    instead of leaving them to be reset when the last worker closes it. It stops taking them
    after half the graceful timeout, so the last one taken still finishes before the SIGKILL."""
    from gunicorn.workers.sync import SyncWorker

    if os.getpid() != worker.pid or not isinstance(worker, SyncWorker):
        return  # the master reaping a worker, or another worker class
    stop_at = time.monotonic() + graceful_timeout / 2
    for listener in worker.sockets:
        listener.setblocking(False)
        while time.monotonic() < stop_at:
            try:
                worker.accept(listener)  # accepts one connection and answers it
            except (BlockingIOError, InterruptedError):
                break  # nothing (more) is queued
            except OSError as exc:
                if exc.errno == errno.ECONNABORTED:
                    continue  # that client gave up; others may be waiting
                break  # the socket is gone
