"""The open data dumps (``/disclosures.csv`` and ``.json``) as files: built by a command run
from cron or a timer, kept in the upload store under ``opendata/``, and served as they are, so
a download costs a file read and no database work (issue 19). The county has one set of files
(``opendata/``) and every active township its own (``opendata/<township code>/``), each rebuilt
when its own cases changed, so a dump lags the data by at most the build interval plus one
build (docs/open-data.md).

Each file is written to a temporary file first (rows fetched in keyset batches, so memory
stays flat), then moved into place whole; the manifest, written last, names each file's
SHA-256 (its ETag), size, the build time and the store's own version of the file, so a
reader that opened a file a rebuild has just replaced can tell and look again. In a directory
each file is also linked under its SHA-256 (``<sha256>-disclosures.csv``, kept until the build
after next), the name a proxy serves it by (``X-Accel-Redirect``): that name's bytes never
change, so the ETag the app sent is the body the proxy sends.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.administration import settings as portal_settings
from portal.domain.administration import townships
from portal.domain.clock import utcnow
from portal.domain.disclosure import publication
from portal.domain.models import Case, Township
from portal.domain.supervision import exports
from portal.storage import CHUNK_BYTES, DirectoryStorage, S3Storage, Storage

LICENCE_NAME = "知识共享 署名 4.0 国际许可协议（CC BY 4.0）"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/deed.zh-hans"
LICENCE_STATEMENT = (
    f"本数据依据{LICENCE_NAME}开放，使用时请注明来源。数据仅包含经部门核查属实并已公示的隐患，"
    "不含任何举报人信息；电话、身份证号、车牌号已遮盖。"
)

# The documented fields, in order, with what they mean (docs/open-data.md lists the same).
FIELD_DOCS: dict[str, str] = {
    "id": "隐患编号（整数，不变）",
    "unit_id": "隐患单位编号；一个单位可有多项隐患",
    "unit_name": "单位名称（已遮盖电话、证件号、车牌）",
    "village": "所在行政村",
    "venue_type": "场所类型，未登记时为空",
    "category": "隐患类别",
    "severity": "隐患等级：general 一般隐患，major 重大隐患",
    "severity_label": "隐患等级的中文名称",
    "status": "办理状态：rectifying 整改中，rectified 整改完成待销案，closed 已办结",
    "status_label": "办理状态的中文名称",
    "summary": "公示的具体问题（已遮盖电话、证件号、车牌）",
    "rectify_by": "整改期限（ISO 8601 日期），未定时为 null",
    "overdue": "是否已超过整改期限仍在整改（布尔值）",
    "supervision_level": "挂牌督办级别：none、township、county、city、province",
    "supervision_level_label": "挂牌督办级别的中文名称",
    "disclosed_at": "公示时间（ISO 8601，UTC）",
    "updated_at": "最近更新时间（ISO 8601，UTC）",
    "url": "该单位公示页面的地址（含整改进展和照片）",
}
FIELDS: tuple[str, ...] = tuple(FIELD_DOCS)

FOLDER = "opendata"
CSV_NAME = "disclosures.csv"
JSON_NAME = "disclosures.json"
MANIFEST_NAME = "manifest.json"
CONTENT_TYPES = {CSV_NAME: "text/csv; charset=utf-8", JSON_NAME: "application/json"}
# Rebuilt at least this often even with no write seen (a renamed village or category).
MAX_AGE = dt.timedelta(hours=1)
_FLUSH_BYTES = 16_384


@dataclass(frozen=True)
class Links:
    """The public addresses a dump names; the door builds them (``url_for``)."""

    documentation: str
    unit: Callable[[int], str]


@dataclass(frozen=True)
class DumpFile:
    name: str
    sha256: str
    size: int
    version: str  # the store's own version of the file: checked when it is read

    @property
    def etag(self) -> str:
        return self.sha256


@dataclass(frozen=True)
class Manifest:
    stamp: str  # data_stamp() when the build started
    built_at: dt.datetime
    files: dict[str, DumpFile]

    def to_json(self) -> bytes:
        return json.dumps({"stamp": self.stamp, "built_at": self.built_at.isoformat(),
                           "files": {k: asdict(v) for k, v in self.files.items()}},
                          indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        return cls(stamp=raw["stamp"], built_at=dt.datetime.fromisoformat(raw["built_at"]),
                   files={k: DumpFile(**v) for k, v in raw["files"].items()})


# ------------------------------------------------------------------ the formats


def record(case: publication.PublicCase, links: Links) -> dict[str, Any]:
    return {
        "id": case.id,
        "unit_id": case.unit_id,
        "unit_name": case.unit_name,
        "village": case.village,
        "venue_type": case.venue_type,
        "category": case.category,
        "severity": case.severity.value,
        "severity_label": case.severity.label,
        "status": case.status.value,
        "status_label": case.status.label,
        "summary": case.summary,
        "rectify_by": case.rectify_by.isoformat() if case.rectify_by else None,
        "overdue": case.overdue,
        "supervision_level": case.supervision_level.value,
        "supervision_level_label": case.supervision_level.label,
        "disclosed_at": case.disclosed_at.replace(microsecond=0).isoformat(),
        "updated_at": case.updated_at.replace(microsecond=0).isoformat(),
        "url": links.unit(case.unit_id),
    }


def _csv_values(row: dict[str, Any]) -> dict[str, Any]:
    """CSV spells booleans as JSON does and leaves missing values empty; a text that a
    spreadsheet would run as a formula is written as text, by the ledger export's rule."""
    return {k: ("true" if v else "false") if isinstance(v, bool)
            else ("" if v is None else exports.safe_cell(v))
            for k, v in row.items()}


def csv_chunks(cases: Iterable[publication.PublicCase], links: Links) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
    writer.writeheader()
    for case in cases:
        writer.writerow(_csv_values(record(case, links)))
        if buffer.tell() > _FLUSH_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_chunks(cases: Iterable[publication.PublicCase], links: Links, *, title: str,
                generated_at: dt.datetime) -> Iterator[str]:
    head = {
        "title": title,
        "licence": {"name": LICENCE_NAME, "url": LICENCE_URL, "statement": LICENCE_STATEMENT},
        "documentation": links.documentation,
        "generated_at": generated_at.replace(microsecond=0).isoformat(),
        "fields": list(FIELDS),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "cases": ['
    for n, case in enumerate(cases):
        yield ("," if n else "") + json.dumps(record(case, links), ensure_ascii=False)
    yield "]}"


def dump_title(session: Session, township: Township | None = None) -> str:
    """The county's dump, or a township's (its villages' cases only)."""
    county = portal_settings.jurisdiction(session)["name"]
    return f"{townships.place_name(county, township)}火灾隐患公示"


# ------------------------------------------------------------------ where the files live

_TOWNSHIP_CODE = re.compile(r"[A-Za-z0-9_-]+")


def scope_folder(township: Township | None) -> str:
    """``opendata`` for the county, ``opendata/<code>`` for a township (its code is letters,
    digits, ``_`` and ``-``: checked again here, it names a folder)."""
    if township is None:
        return FOLDER
    if not _TOWNSHIP_CODE.fullmatch(township.code):
        raise ValueError(f"township code {township.code!r} cannot name a folder")
    return f"{FOLDER}/{township.code}"


def served_name(entry: DumpFile) -> str:
    """The name a file is linked under by its content: ``<sha256>-disclosures.csv``."""
    return f"{entry.sha256}-{entry.name}"


class DumpStore(Protocol):
    def publish(self, name: str, spooled: Path, sha256: str) -> str: ...
    def read(self, name: str) -> bytes | None: ...
    def write(self, name: str, data: bytes) -> None: ...
    def spool_dir(self) -> Path | None: ...
    def forget(self, keep: set[str]) -> None: ...


class DirectoryDumps:
    """``opendata/`` (or ``opendata/<code>/``) inside the upload directory; the upload store's
    listing and garbage collection see only their own names, never this folder."""

    def __init__(self, store: DirectoryStorage, township: Township | None = None) -> None:
        self.folder = scope_folder(township)
        self.root = store.root / self.folder

    def path(self, name: str) -> Path:
        return self.root / name

    def spool_dir(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    @staticmethod
    def version_of(stat: os.stat_result) -> str:
        return f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}"

    def publish(self, name: str, spooled: Path, sha256: str) -> str:
        # Public data, read by nginx's own user (deploy/nginx.conf), not only by the app's.
        os.chmod(spooled, 0o644)
        by_content = self.path(f"{sha256}-{name}")
        if not by_content.exists():
            os.link(spooled, by_content)
        os.replace(spooled, self.path(name))
        return self.version_of(self.path(name).stat())

    def open(self, entry: DumpFile) -> io.BufferedReader | None:
        """The file the manifest names, or None when a rebuild has replaced it since."""
        fh = self.path(entry.name).open("rb")
        if self.version_of(os.fstat(fh.fileno())) == entry.version:
            return fh
        fh.close()
        return None

    def forget(self, keep: set[str]) -> None:
        """Unlink the content-named files no manifest in ``keep`` names (a download already
        open keeps reading its file)."""
        for path in self.root.glob("*-disclosures.*"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def read(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.spool_dir(), prefix=".build-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.path(name))


class BucketDumps:
    """``<prefix>opendata/`` (or ``…/<code>/``) in the bucket: the upload store lists only its
    own names."""

    def __init__(self, store: S3Storage, township: Township | None = None) -> None:
        self.store = store
        self.folder = scope_folder(township)

    def key(self, name: str) -> str:
        return f"{self.store.prefix}{self.folder}/{name}"

    def spool_dir(self) -> Path | None:
        return None

    def publish(self, name: str, spooled: Path, sha256: str) -> str:
        client, bucket = self.store.client, self.store.bucket
        content_type = CONTENT_TYPES.get(name, "application/json")
        client.upload_file(str(spooled), bucket, self.key(name),
                           ExtraArgs={"ContentType": content_type})
        spooled.unlink(missing_ok=True)
        return str(client.head_object(Bucket=bucket, Key=self.key(name))["ETag"])

    def open(self, entry: DumpFile, start: int, stop: int) -> Iterator[bytes] | None:
        """Bytes ``start`` to ``stop`` (exclusive) of the object the manifest names, by a
        ranged GET (the bucket skips, not the worker); None when a rebuild replaced it."""
        try:
            answer = self.store.client.get_object(
                Bucket=self.store.bucket, Key=self.key(entry.name), IfMatch=entry.version,
                Range=f"bytes={start}-{stop - 1}")
        except self.store.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412"}:
                return None
            raise
        return answer["Body"].iter_chunks(CHUNK_BYTES)

    def forget(self, keep: set[str]) -> None:
        """Objects are replaced in place (``IfMatch`` tells a reader): nothing to unlink."""

    def read(self, name: str) -> bytes | None:
        try:
            body = self.store.client.get_object(Bucket=self.store.bucket, Key=self.key(name))
        except self.store.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise
        return bytes(body["Body"].read())

    def write(self, name: str, data: bytes) -> None:
        self.store.client.put_object(Bucket=self.store.bucket, Key=self.key(name), Body=data,
                                     ContentType="application/json")


def dump_store(store: Storage, township: Township | None = None) -> DirectoryDumps | BucketDumps:
    """The county's dump files (``township`` None) or a township's, in ``store``."""
    if isinstance(store, S3Storage):
        return BucketDumps(store, township)
    if isinstance(store, DirectoryStorage):
        return DirectoryDumps(store, township)
    raise TypeError(f"no open data dumps in {store!r}")


def read_manifest(store: Storage, township: Township | None = None) -> Manifest | None:
    data = dump_store(store, township).read(MANIFEST_NAME)
    return Manifest.from_json(data) if data else None


# ------------------------------------------------------------------ building


def data_stamp(session: Session, today: dt.date, township: Township | None = None) -> str:
    """What a dump depends on: the disclosed cases (how many, the newest id), the newest change
    of any case (a withdrawal, a status or summary change moves it), the title, and the local
    date (overdue turns on at midnight without a write); for a township, of its villages'
    cases only, so a township's files are rebuilt when its own cases change. A renamed unit,
    village or category moves none of these: ``MAX_AGE`` bounds how long the old name stays."""
    where = publication.public_condition()
    if township is None:
        changed_query = select(func.max(Case.updated_at))
    else:
        where = where & townships.of_village(Case.village_id, {township.id})
        changed_query = townships.newest_of(Case.updated_at, Case.village_id, township.id)
    count, newest = session.execute(select(func.count(Case.id), func.max(Case.id))
                                    .where(where)).one()
    changed = session.scalar(changed_query)
    parts = [today.isoformat(), str(count), str(newest), str(changed),
             dump_title(session, township)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _spool(chunks: Iterable[str], directory: Path | None) -> tuple[Path, str, int]:
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".build-")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                data = chunk.encode("utf-8")
                digest.update(data)
                size += len(data)
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), digest.hexdigest(), size


def build_dumps(session: Session, store: Storage, today: dt.date, *, links: Links,
                township: Township | None = None) -> Manifest:
    """Write both dumps (the county's, or ``township``'s) and then the manifest. Readers see
    the old files until each new one is moved into place whole; a failed build leaves the
    old dump standing."""
    files = dump_store(store, township)
    previous = read_manifest(store, township)
    stamp = data_stamp(session, today, township)
    built_at = utcnow().replace(microsecond=0)
    title = dump_title(session, township)
    township_id = None if township is None else township.id

    def cases() -> Iterator[publication.PublicCase]:
        return publication.iter_disclosed(session, today=today, township_id=township_id)

    formats: dict[str, Callable[[], Iterator[str]]] = {
        CSV_NAME: lambda: csv_chunks(cases(), links),
        JSON_NAME: lambda: json_chunks(cases(), links, title=title, generated_at=built_at),
    }
    written: dict[str, DumpFile] = {}
    for name, chunks in formats.items():
        spooled, sha256, size = _spool(chunks(), files.spool_dir())
        try:
            version = files.publish(name, spooled, sha256)
        finally:
            spooled.unlink(missing_ok=True)
        written[name] = DumpFile(name=name, sha256=sha256, size=size, version=version)
    manifest = Manifest(stamp=stamp, built_at=built_at, files=written)
    files.write(MANIFEST_NAME, manifest.to_json())
    # A download may have been handed the previous build's name a moment ago: keep it.
    kept = {served_name(e) for m in (manifest, previous) if m for e in m.files.values()}
    files.forget(kept)
    return manifest


def dump_is_stale(session: Session, store: Storage, max_age: dt.timedelta = MAX_AGE, *,
                  today: dt.date, township: Township | None = None) -> bool:
    """Whether a build would change anything: no dump yet, the data moved since the last
    build, or the last build is older than ``max_age``."""
    manifest = read_manifest(store, township)
    if manifest is None:
        return True
    if utcnow() - manifest.built_at > max_age:
        return True
    return manifest.stamp != data_stamp(session, today, township)


def scopes(session: Session) -> list[Township | None]:
    """What has dumps of its own: the county (None), then every active township."""
    return [None, *townships.active(session)]
