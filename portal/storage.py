"""Where uploaded files live. One small interface so that several app instances can share an
object store: a directory (the default) or an S3-compatible bucket. Nothing of the web: the
domain stores through it, the app factory picks the implementation (``portal.web.files``)."""

from __future__ import annotations

import base64
import errno
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# boto3 and botocore are imported by the S3 store's methods only: they add about 10 MB to
# every worker, and a deployment on a directory never loads them (issue 19's memory target).

# Photos and letters, and the staff's large exports (served only by admin.exports).
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}\.(jpg|png|webp|pdf|xlsx|csv)$")
# A write in progress; never a stored name (names() skips it), removed by sweep_temporaries.
TEMP_PREFIX = ".upload-"
CHUNK_BYTES = 64 * 1024
# A streamed write to the bucket waits in memory up to this size, then in a local temporary
# file, until it is sent in multipart parts of PART_BYTES (S3's smallest), one at a time, so
# memory holds a few copies of one part (the signing reads it) whatever the file's size.
SPOOL_BYTES = 1024 * 1024
PART_BYTES = 5 * 1024 * 1024


@functools.cache
def _transfer() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES,
                          use_threads=False)


_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                  "pdf": "application/pdf",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  "csv": "text/csv; charset=utf-8"}


class Storage(Protocol):
    def put(self, name: str, data: bytes) -> None: ...
    def put_chunks(self, name: str, chunks: Iterable[bytes]) -> int: ...
    def get(self, name: str) -> bytes: ...
    def delete(self, name: str) -> None: ...
    def exists(self, name: str) -> bool: ...
    def names(self) -> list[str]: ...
    def modified(self, name: str) -> float: ...
    def sweep_temporaries(self, cutoff: float) -> int: ...


@dataclass
class StoredFile:
    """A stored file being read: its length, and its body in chunks (close it when done)."""

    size: int
    chunks: Iterator[bytes]
    close: Callable[[], None] = field(default=lambda: None)


@runtime_checkable
class Streams(Protocol):
    """A store that can hand out a file as it reads it, instead of all of it at once."""

    def open(self, name: str) -> StoredFile: ...


@runtime_checkable
class ListsWithTimes(Protocol):
    """A store that lists its names with their last write times in one go."""

    def entries(self) -> Iterator[tuple[str, float]]: ...


def entries(store: Storage) -> Iterator[tuple[str, float]]:
    """Every stored name with the time it was last written: one listing where the store can
    (a bucket's pages carry the times), else a stat per name."""
    if isinstance(store, ListsWithTimes):
        return store.entries()
    return ((name, store.modified(name)) for name in store.names())


def check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError("invalid stored name")
    return name


class DirectoryStorage:
    """Files in one directory, written atomically: a temporary file, then a rename, so a
    failed write (a full disk) never leaves a partial file under its final name."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / check_name(name)

    def put(self, name: str, data: bytes) -> None:
        self.put_chunks(name, (data,))

    def put_chunks(self, name: str, chunks: Iterable[bytes]) -> int:
        """Write a file as it is produced (a large export): memory holds one chunk, and the
        file appears under its name only once whole. Returns its size."""
        path = self._path(name)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=TEMP_PREFIX)
        size = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    def get(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if _NAME_RE.match(p.name))

    def entries(self) -> Iterator[tuple[str, float]]:
        for name in self.names():
            try:
                yield name, self.modified(name)
            except FileNotFoundError:
                continue  # removed meanwhile

    def modified(self, name: str) -> float:
        return self._path(name).stat().st_mtime

    def sweep_temporaries(self, cutoff: float) -> int:
        """Remove temporary files last written before ``cutoff`` (a timestamp): writes whose
        worker was killed before it could rename or remove them."""
        removed = 0
        for path in self.root.glob(f"{TEMP_PREFIX}*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # finished (renamed) or removed meanwhile
        return removed


class StoreUnavailable(OSError):
    """The object store could not be reached, or refused the request: to the upload pipeline
    a failed write like any other (nothing of the batch is kept, the form is shown again)."""


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    sha256: str | None


@dataclass(frozen=True)
class S3Settings:
    """Where the bucket is and how to talk to it (``PORTAL_UPLOAD_STORE``, ``PORTAL_S3_*``)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    addressing_style: str = "path"
    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    max_attempts: int = 3


_STORE_URL_RE = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?$")


def parse_store_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ("bucket", "some/prefix/"); ValueError if it is not one."""
    match = _STORE_URL_RE.match(url.strip())
    if not match:
        raise ValueError("not s3://bucket/prefix")
    prefix = (match.group(2) or "").strip("/")
    if prefix and any(part in {"", ".", ".."} for part in prefix.split("/")):
        raise ValueError("the prefix has an empty, . or .. part")
    return match.group(1), f"{prefix}/" if prefix else ""


class S3Storage:
    """Objects in an S3-compatible bucket, under a prefix. Every object is private (no ACL is
    ever sent; the bucket must not be public either) and reaches a visitor only through the
    portal's own views. A PUT is atomic by nature: an object appears whole or not at all, so
    there are no temporary names, only multipart uploads left behind, which this store never
    starts but still sweeps."""

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self._client: tuple[int, Any] | None = None
        self._probe_client: tuple[int, Any] | None = None

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Storage:
        bucket, prefix = parse_store_url(url)
        return cls(S3Settings(bucket=bucket, prefix=prefix, **options))

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.bucket}/{self.prefix})"

    # One client per process: a forked worker must not share the parent's connections.
    def _make_client(self, *, connect_timeout: float, read_timeout: float,
                     max_attempts: int) -> Any:
        import boto3
        from botocore.config import Config

        s = self.settings
        config = Config(
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": s.addressing_style},
            # Checksums only where S3 demands them: several compatible stores refuse the
            # newer default trailers. put() sends Content-MD5, which they all check.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return boto3.session.Session().client(
            "s3", endpoint_url=s.endpoint_url or None, region_name=s.region or None,
            aws_access_key_id=s.access_key_id or None,
            aws_secret_access_key=s.secret_access_key or None, config=config)

    @property
    def client(self) -> Any:
        if self._client is None or self._client[0] != os.getpid():
            s = self.settings
            self._client = (os.getpid(), self._make_client(
                connect_timeout=s.connect_timeout, read_timeout=s.read_timeout,
                max_attempts=s.max_attempts))
        return self._client[1]

    def _key(self, name: str) -> str:
        return self.prefix + check_name(name)

    def put(self, name: str, data: bytes) -> None:
        key = self._key(name)
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        with _translated(name):
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentMD5=md5,
                ContentType=_CONTENT_TYPES[name.rsplit(".", 1)[1]],
                Metadata={"sha256": hashlib.sha256(data).hexdigest()})

    def put_chunks(self, name: str, chunks: Iterable[bytes]) -> int:
        """Write a file as it is produced: spooled (in memory up to ``SPOOL_BYTES``, then on
        the local disk) and handed to boto3's managed transfer, which sends a large file in
        multipart parts, so memory never holds the whole export. Returns its size."""
        key = self._key(name)
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            for chunk in chunks:
                spool.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            spool.seek(0)
            with _translated(name):
                self.client.upload_fileobj(
                    spool, self.bucket, key, Config=_transfer(),
                    ExtraArgs={"ContentType": _CONTENT_TYPES[name.rsplit(".", 1)[1]],
                               "Metadata": {"sha256": digest.hexdigest()}})
        return size

    def get(self, name: str) -> bytes:
        with _translated(name):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
            try:
                return body.read()
            finally:
                body.close()

    def open(self, name: str) -> StoredFile:
        with _translated(name):
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(name))
        body = answer["Body"]
        return StoredFile(size=int(answer["ContentLength"]),
                          chunks=body.iter_chunks(CHUNK_BYTES), close=body.close)

    def delete(self, name: str) -> None:
        with _translated(name):  # deleting a missing object succeeds
            self.client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def stat(self, name: str) -> ObjectInfo | None:
        try:
            with _translated(name):
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        except FileNotFoundError:
            return None
        return ObjectInfo(size=int(head["ContentLength"]), etag=head["ETag"].strip('"'),
                          sha256=head.get("Metadata", {}).get("sha256"))

    def exists(self, name: str) -> bool:
        return self.stat(name) is not None

    def modified(self, name: str) -> float:
        with _translated(name):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        return float(head["LastModified"].timestamp())

    def entries(self) -> Iterator[tuple[str, float]]:
        """One LIST per thousand objects under the prefix; deeper keys are not ours."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        with _translated(self.prefix):
            for page in pages:
                for item in page.get("Contents", ()):
                    name = item["Key"][len(self.prefix):]
                    if _NAME_RE.match(name):
                        yield name, float(item["LastModified"].timestamp())

    def names(self) -> list[str]:
        return sorted(name for name, _ in self.entries())

    def sweep_temporaries(self, cutoff: float) -> int:
        """Abort multipart uploads under the prefix started before ``cutoff``: their parts
        are stored (and billed) but never become an object."""
        removed = 0
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        with _translated(self.prefix):
            for page in pages:
                for upload in page.get("Uploads", ()):
                    if upload["Initiated"].timestamp() < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                        removed += 1
        return removed

    def problem(self) -> str | None:
        """Why the bucket cannot take photos now, or None: one HEAD of the bucket, bounded by
        a one-second timeout and no retry (for ``/healthz``)."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self._probe_client is None or self._probe_client[0] != os.getpid():
            self._probe_client = (os.getpid(), self._make_client(
                connect_timeout=1, read_timeout=1, max_attempts=1))
        try:
            self._probe_client[1].head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return {404: "bucket missing", 403: "access denied"}.get(status, "unreachable")
        except BotoCoreError:
            return "unreachable"
        return None


@contextmanager
def _translated(name: str) -> Iterator[None]:
    """botocore's errors as the interface's: a missing key is FileNotFoundError (a missing
    bucket is not), anything else the store could not do is StoreUnavailable."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(exc.response.get("Error", {}).get("Code", status))
        if code != "NoSuchBucket" and (code in {"NoSuchKey", "NotFound"} or status == 404):
            raise FileNotFoundError(errno.ENOENT, "not in the object store", name) from exc
        raise StoreUnavailable(errno.EIO, f"object store refused: {code}", name) from exc
    except BotoCoreError as exc:
        raise StoreUnavailable(errno.EIO, f"object store unreachable: {exc}", name) from exc


@dataclass
class CopyReport:
    copied: int = 0
    skipped: int = 0
    verified: int = 0
    failed: list[str] = field(default_factory=list)


def copy_into(source: Storage, target: S3Storage) -> CopyReport:
    """Copy every file of ``source`` into the bucket, skipping those it already holds
    unchanged, and check each one there afterwards. Running it again copies nothing."""
    report = CopyReport()
    for name in source.names():
        data = source.get(name)
        if _holds(target, name, data):
            report.skipped += 1
            report.verified += 1
            continue
        target.put(name, data)
        report.copied += 1
        if _holds(target, name, data):
            report.verified += 1
        else:
            report.failed.append(name)
    return report


def _holds(target: S3Storage, name: str, data: bytes) -> bool:
    """Whether the bucket's object is exactly ``data``: same size and an ETag that is its MD5
    (what a single PUT's ETag is, computed by the server from what it received); where the
    ETag is something else (server-side encryption), the object is read back and hashed."""
    info = target.stat(name)
    if info is None or info.size != len(data):
        return False
    if info.etag == hashlib.md5(data, usedforsecurity=False).hexdigest():
        return True
    return hashlib.sha256(target.get(name)).digest() == hashlib.sha256(data).digest()
