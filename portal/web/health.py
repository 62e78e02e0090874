"""Cheap probes of what the web side depends on besides the database, for ``/healthz``."""

from __future__ import annotations

import os
import shutil
import time
import weakref

from portal.storage import DirectoryStorage, S3Storage, Storage

# A load balancer asks every few seconds; the bucket is asked at most this often per process.
BUCKET_PROBE_SECONDS = 10.0
_bucket_probes: weakref.WeakKeyDictionary[S3Storage, tuple[float, str | None]] = \
    weakref.WeakKeyDictionary()


def upload_store_problem(store: Storage, min_free_bytes: int) -> str | None:
    """Why photos could not be stored now, or None. A directory: checked with its free space,
    without writing anything. A bucket: one HEAD with a one-second timeout, its answer kept
    for BUCKET_PROBE_SECONDS. Other stores have nothing to look at here."""
    if isinstance(store, S3Storage):
        return _bucket_problem(store)
    if not isinstance(store, DirectoryStorage):
        return None
    root = store.root
    if not root.is_dir():
        return "missing"
    if not os.access(root, os.W_OK | os.X_OK):
        return "not writable"
    if shutil.disk_usage(root).free < min_free_bytes:
        return "low on space"
    return None


def _bucket_problem(store: S3Storage) -> str | None:
    now = time.monotonic()
    cached = _bucket_probes.get(store)
    if cached is not None and now - cached[0] < BUCKET_PROBE_SECONDS:
        return cached[1]
    problem = store.problem()
    _bucket_probes[store] = (now, problem)
    return problem
