"""Stored files for the web: the app's upload store, and the one way a stored file leaves
the portal (public and staff views alike)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask, Response, abort, current_app

from portal.domain.models import Attachment
from portal.storage import (
    DirectoryStorage,
    S3Storage,
    Storage,
    StoredFile,
    StoreUnavailable,
    Streams,
)


def store_from_settings(config: Mapping[str, Any]) -> Storage:
    """The store the settings name: the bucket of ``UPLOAD_STORE``, else ``UPLOAD_DIR``."""
    if not config["UPLOAD_STORE"]:
        return DirectoryStorage(config["UPLOAD_DIR"])
    return S3Storage.from_url(
        config["UPLOAD_STORE"], endpoint_url=config["S3_ENDPOINT_URL"],
        region=config["S3_REGION"], access_key_id=config["S3_ACCESS_KEY_ID"],
        secret_access_key=config["S3_SECRET_ACCESS_KEY"],
        addressing_style=config["S3_ADDRESSING_STYLE"],
        connect_timeout=config["S3_CONNECT_TIMEOUT"], read_timeout=config["S3_READ_TIMEOUT"],
        max_attempts=config["S3_MAX_ATTEMPTS"])


def init_app(app: Flask) -> None:
    app.extensions["portal.storage"] = store_from_settings(app.config)


def storage() -> Storage:
    return current_app.extensions["portal.storage"]


def send_attachment(attachment: Attachment, name: str | None = None, *, public: bool = False,
                    thumb: bool = False, download_name: str | None = None) -> Response:
    """The one way a stored file leaves the portal, for public and staff views alike: its
    decoded type, never sniffed, never cached unless public; 404 if the file is gone, 503 if
    the store cannot be reached. A bucket's object is streamed through as it is read (never a
    redirect to the bucket, which stays private); a directory's file is read whole."""
    if name is None:
        name = attachment.thumbnail_name if thumb and attachment.thumbnail_name \
            else attachment.stored_name
    store = storage()
    try:
        if isinstance(store, Streams):
            stored = store.open(name)
            response = Response(_chunks(stored), mimetype=attachment.content_type)
            response.content_length = stored.size
            response.call_on_close(stored.close)
        else:
            response = Response(store.get(name), mimetype=attachment.content_type)
    except (FileNotFoundError, ValueError):
        abort(404)
    except StoreUnavailable:
        abort(503)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = (
        f"attachment; filename={download_name}" if download_name else "inline")
    response.headers["Cache-Control"] = "public, max-age=86400" if public else "private, no-store"
    return response


def _chunks(stored: StoredFile) -> Iterator[bytes]:
    try:
        yield from stored.chunks
    finally:
        stored.close()
