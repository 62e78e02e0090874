"""Cheap probes of what the web side depends on besides the database, for ``/healthz``."""

from __future__ import annotations

import os
import shutil

from portal.storage import DirectoryStorage, Storage


def upload_store_problem(store: Storage, min_free_bytes: int) -> str | None:
    """Why photos could not be stored now, or None. Checks the directory and its free space
    without writing anything; other stores have nothing to look at here."""
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
