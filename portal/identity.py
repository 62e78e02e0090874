"""The web layer's handles on the domain's secrets and stores, bound in the factory."""

from __future__ import annotations

from flask import Flask, current_app

from portal.domain.reporting.identity import IdentityCipher
from portal.domain.reporting.uploads import UploadLimits


def init_app(app: Flask) -> None:
    app.extensions["portal.identity"] = IdentityCipher(app.config["FIELD_KEYS"])


def cipher() -> IdentityCipher:
    return current_app.extensions["portal.identity"]


def receipt_key() -> str:
    return current_app.config["RECEIPT_KEY"]


def upload_limits() -> UploadLimits:
    return UploadLimits(
        max_bytes=current_app.config["MAX_PHOTO_BYTES"],
        max_pixels=current_app.config["MAX_PHOTO_PIXELS"],
        max_edge=current_app.config["PHOTO_MAX_EDGE"],
    )
