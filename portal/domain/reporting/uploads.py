"""The one upload pipeline: decode with Pillow, enforce limits, re-encode without metadata.

A file is an image only if Pillow decodes all of it as JPEG, PNG or WebP. The stored copy is a
fresh encoding of the pixels alone: EXIF (GPS position, camera serial, owner name), XMP, ICC and
comments are gone, because they can identify the reporter.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from portal.domain.enums import AttachmentKind
from portal.domain.models import Attachment
from portal.storage import Storage

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
# The stored photo's longest edge (PORTAL_PHOTO_MAX_EDGE). 2000 px keeps a sign's or a label's
# characters legible at phone distance, and a 12 MP phone photo (4000×3000, 4032×3024)
# decodes straight to it at half scale; at 2048 it would be decoded whole.
MAX_EDGE = 2000
THUMB_EDGE = 320
# Small print stays readable and a 3 MP photo is stored in well under 1 MB.
JPEG_QUALITY = 85


class UploadError(ValueError):
    """The file cannot be accepted; the message tells the person why, in Chinese."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    max_pixels: int
    max_edge: int = MAX_EDGE


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    thumbnail: bytes
    width: int
    height: int
    sha256: str
    content_type: str = "image/jpeg"


def process_image(raw: bytes, limits: UploadLimits, label: str = "照片") -> ProcessedImage:
    """Validate and re-encode one image, or raise UploadError."""
    if not raw:
        raise UploadError(f"{label}是空文件，请重新选择")
    if len(raw) > limits.max_bytes:
        mb = limits.max_bytes // (1024 * 1024)
        raise UploadError(f"{label}超过 {mb} MB，请压缩后再上传")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(raw))
            if image.format not in ACCEPTED_FORMATS:
                raise UploadError(f"{label}格式不支持，请上传 JPG、PNG 或 WebP 图片")
            width, height = image.size
            if width * height > limits.max_pixels:
                raise UploadError(f"{label}像素过大（{width}×{height}），请缩小后再上传")
            if image.format == "JPEG":
                image.draft("RGB", _draft_size(image.size, limits.max_edge))
            image.load()  # decodes all the data (at reduced scale): truncated files fail here
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(f"{label}像素过大，请缩小后再上传") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UploadError(f"{label}不是有效的图片文件，或文件已损坏") from None

    image = ImageOps.exif_transpose(image)  # keep the picture upright once EXIF is gone
    image = _flatten(image)
    image.thumbnail((limits.max_edge, limits.max_edge), reducing_gap=3.0)  # never enlarges
    data = _encode(image)
    width, height = image.size
    # The stored copy is encoded: the thumbnail is made from the same pixels in place, not
    # from a copy of a 3-megapixel image.
    image.thumbnail((THUMB_EDGE, THUMB_EDGE), reducing_gap=2.0)
    return ProcessedImage(
        data=data,
        thumbnail=_encode(image),
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _draft_size(size: tuple[int, int], max_edge: int) -> tuple[int, int]:
    """The size to ask libjpeg for: it decodes at the strongest reduction (1/2, 1/4 or 1/8)
    that still gives at least this size in both dimensions, so the long edge keeps ``max_edge``.

    Proportional, not ``(max_edge, max_edge)``: Pillow picks the scale by the tighter
    dimension, and a square request would hold a 4:3 photo's short edge to ``max_edge``.
    """
    width, height = size
    longest = max(width, height)
    if longest <= max_edge:
        return size
    return (-(-width * max_edge // longest), -(-height * max_edge // longest))


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # Nothing but pixels is written: no info (EXIF, ICC, XMP, comments) is passed or kept.
    image.info = {}
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def store_image(
    session: Session, store: Storage, image: ProcessedImage, *, uploaded_by_id: int | None = None
) -> Attachment:
    """Write a processed image and its thumbnail, and add its row (no owner yet)."""
    stem = secrets.token_urlsafe(24)
    name, thumb_name = f"{stem}.jpg", f"{stem}_t.jpg"
    store.put(name, image.data)
    try:
        store.put(thumb_name, image.thumbnail)
    except BaseException:
        store.delete(name)  # a photo is its file and its thumbnail, or nothing
        raise
    attachment = Attachment(
        stored_name=name,
        thumbnail_name=thumb_name,
        kind=AttachmentKind.PHOTO,
        content_type=image.content_type,
        size_bytes=len(image.data),
        sha256=image.sha256,
        width=image.width,
        height=image.height,
        uploaded_by_id=uploaded_by_id,
    )
    session.add(attachment)
    try:
        session.flush()
    except Exception:
        # No row, no file: the database refused or went away after the files were written.
        store.delete(name)
        store.delete(thumb_name)
        raise
    return attachment
