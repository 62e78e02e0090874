"""Photos posted from public forms: read, process, and keep across a form that came back."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from portal.domain.models import Attachment
from portal.domain.reporting.uploads import ProcessedImage, UploadError, process_image, store_image
from portal.identity import upload_limits
from portal.storage import Storage
from portal.web.files import storage

KEPT_MAX_AGE = 2 * 3600
FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}

log = logging.getLogger(__name__)


class PhotoStoreError(Exception):
    """The photos could not be written (a full disk, a store that refuses writes). None of
    the batch's files is left; the caller rolls its transaction back and shows ``message``."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(str(cause))
        self.cause = cause

    @property
    def message(self) -> str:
        why = "服务器存储空间不足" if self.cause.errno in FULL_ERRNOS else "服务器存储暂时不可用"
        return (f"照片暂时无法保存（{why}），您填写的内容已保留。"
                "您可以去掉照片后直接提交，或稍后再试。")


class _WriteLog:
    """The app's store, remembering what this batch wrote, so that a write failing half-way
    through a photo (its thumbnail after its main file) leaves nothing of the batch."""

    def __init__(self, store: Storage) -> None:
        self.store = store
        self.written: list[str] = []

    def put(self, name: str, data: bytes) -> None:
        self.store.put(name, data)
        self.written.append(name)

    def put_chunks(self, name: str, chunks: Iterable[bytes]) -> int:
        size = self.store.put_chunks(name, chunks)
        self.written.append(name)
        return size

    def delete(self, name: str) -> None:
        self.store.delete(name)

    def get(self, name: str) -> bytes:
        return self.store.get(name)

    def exists(self, name: str) -> bool:
        return self.store.exists(name)

    def names(self) -> list[str]:
        return self.store.names()

    def modified(self, name: str) -> float:
        return self.store.modified(name)

    def sweep_temporaries(self, cutoff: float) -> int:
        return self.store.sweep_temporaries(cutoff)

    def undo(self) -> None:
        for name in self.written:
            try:
                self.store.delete(name)
            except OSError:
                log.exception("could not remove %s; `uploads gc` will", name)


@dataclass
class PhotoBatch:
    processed: list[ProcessedImage] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def read_photos(files: list[FileStorage], *, already: int = 0) -> PhotoBatch:
    """Decode every posted file; collect a Chinese message for each one refused."""
    batch = PhotoBatch()
    chosen = [f for f in files if f and f.filename]
    limit = current_app.config["MAX_PHOTOS"]
    if already + len(chosen) > limit:
        batch.errors.append(f"最多上传 {limit} 张照片，您选择了 {already + len(chosen)} 张")
        return batch
    for number, upload in enumerate(chosen, start=already + 1):
        raw = upload.stream.read(current_app.config["MAX_PHOTO_BYTES"] + 1)
        try:
            batch.processed.append(process_image(raw, upload_limits(), f"第 {number} 张照片"))
        except UploadError as exc:
            batch.errors.append(str(exc))
    return batch


def store_photos(session: Session, batch: PhotoBatch) -> list[Attachment]:
    """Write the batch's files and add their rows; all of them or, raising, none of the files
    (the rows go with the caller's rollback). A write that fails raises PhotoStoreError."""
    writes = _WriteLog(storage())
    stored: list[Attachment] = []
    try:
        for image in batch.processed:
            stored.append(store_image(session, writes, image))
    except OSError as exc:
        writes.undo()
        log.error("photos could not be stored (%s); %d photo(s) refused",
                  exc, len(batch.processed), exc_info=exc)
        raise PhotoStoreError(exc) from exc
    except Exception:
        writes.undo()
        raise
    return stored


def discard_files(attachments: list[Attachment]) -> None:
    """Undo the file writes of a request whose transaction failed (e.g. the database went
    away), so that no file is left without its row. A crash in between is for `uploads gc`."""
    store = storage()
    for attachment in attachments:
        for name in (attachment.stored_name, attachment.thumbnail_name):
            if name:
                store.delete(name)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="kept-photos")


def kept_token(attachments: list[Attachment], submission_key: str) -> str:
    return _serializer().dumps({"ids": [a.id for a in attachments], "k": submission_key})


def _kept_ids(token: str | None, submission_key: str) -> list[int]:
    if not token:
        return []
    try:
        payload = _serializer().loads(token, max_age=KEPT_MAX_AGE)
    except BadSignature:
        return []
    if not isinstance(payload, dict) or payload.get("k") != submission_key:
        return []
    return [i for i in payload.get("ids", []) if isinstance(i, int)]


def kept_count(token: str | None, submission_key: str) -> int:
    """How many photos an earlier attempt kept, from the signed token alone (no query)."""
    return len(_kept_ids(token, submission_key))


def kept_photos(session: Session, token: str | None, submission_key: str) -> list[Attachment]:
    """Photos staged by an earlier attempt at this same form, still without an owner."""
    ids = _kept_ids(token, submission_key)
    if not ids:
        return []
    return list(session.scalars(
        select(Attachment).where(
            Attachment.id.in_(ids),
            Attachment.tip_id.is_(None),
            Attachment.case_event_id.is_(None),
            Attachment.message_id.is_(None),
        ).order_by(Attachment.id)
    ))
