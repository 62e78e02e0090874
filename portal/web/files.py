"""Stored files for the web: the app's upload store, and the one way a stored file leaves
the portal (public and staff views alike)."""

from __future__ import annotations

from flask import Flask, Response, abort, current_app

from portal.domain.models import Attachment
from portal.storage import DirectoryStorage, Storage


def init_app(app: Flask) -> None:
    app.extensions["portal.storage"] = DirectoryStorage(app.config["UPLOAD_DIR"])


def storage() -> Storage:
    return current_app.extensions["portal.storage"]


def send_attachment(attachment: Attachment, name: str | None = None, *, public: bool = False,
                    thumb: bool = False, download_name: str | None = None) -> Response:
    """The one way a stored file leaves the portal, for public and staff views alike: its
    decoded type, never sniffed, never cached unless public; 404 if the file is gone."""
    if name is None:
        name = attachment.thumbnail_name if thumb and attachment.thumbnail_name \
            else attachment.stored_name
    try:
        data = storage().get(name)
    except (FileNotFoundError, ValueError):
        abort(404)
    response = Response(data, mimetype=attachment.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = (
        f"attachment; filename={download_name}" if download_name else "inline")
    response.headers["Cache-Control"] = "public, max-age=86400" if public else "private, no-store"
    return response
