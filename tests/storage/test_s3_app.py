"""Issue 18: the portal on an S3-compatible bucket. A reported photo lands in the bucket (not
in the directory), reaches staff and, once published, an anonymous visitor, streamed through
the portal; `uploads gc` removes only the bucket's orphans; `uploads copy-to-store` moves a
local directory in and checks it; /healthz says when the bucket cannot be reached."""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import create_app
from portal.config import ConfigError, load_settings
from portal.domain.administration import retention
from portal.domain.clock import utcnow
from portal.domain.disclosure import publication
from portal.domain.enums import Role, TipStatus
from portal.domain.models import Attachment, Tip
from portal.storage import DirectoryStorage, S3Storage
from portal.web import health
from tests import factories, images
from tests.admin.conftest import login, make_user
from tests.conftest import TEST_SECRET, csrf_token
from tests.domain.linkage_helpers import moderator
from tests.domain.supervision_helpers import case_at
from tests.storage.conftest import BUCKET, free_port, raw_client, s3_store


@pytest.fixture
def on_bucket(app: Flask, bucket_store: S3Storage,
              monkeypatch: pytest.MonkeyPatch) -> S3Storage:
    """The suite's app, its uploads in a prefix of the bucket for this test."""
    monkeypatch.setitem(app.extensions, "portal.storage", bucket_store)
    return bucket_store


def bucket_keys(endpoint: str, store: S3Storage) -> set[str]:
    answer = raw_client(endpoint).list_objects_v2(Bucket=BUCKET, Prefix=store.prefix)
    return {item["Key"][len(store.prefix):] for item in answer.get("Contents", ())}


def report_with_photo(client: FlaskClient, session: Session) -> Tip:
    page = client.get("/report").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/report", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/report"), "submission_key": key,
        "village": str(factories.village(session, "V02").id), "unit_name": "桶里超市",
        "venue_type": str(factories.venue_type(session, "street_shop").id),
        "address": "村委会对面", "category": str(factories.category(session, "blocked_escape").id),
        "description": "超市后门被货物堵死，安全出口上了锁。", "observed_at": "2026-11-28T18:30",
        "website": "", "photos": [(io.BytesIO(images.jpeg_with_gps()), "IMG_0001.jpg")]})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return session.scalars(select(Tip).where(Tip.unit_name == "桶里超市")).one()


def test_the_app_builds_the_bucket_store_from_its_settings(tmp_path: Path) -> None:
    app = create_app({"ENV": "testing", "SECRET_KEY": TEST_SECRET,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
                      "UPLOAD_DIR": str(tmp_path / "up"),
                      "UPLOAD_STORE": "s3://portal-uploads/prod/", "S3_REGION": "cn-north-1",
                      "S3_ENDPOINT_URL": "https://oss-cn-beijing.aliyuncs.com",
                      "S3_ADDRESSING_STYLE": "virtual", "S3_READ_TIMEOUT": 4.0})
    store = app.extensions["portal.storage"]
    assert isinstance(store, S3Storage)
    assert (store.bucket, store.prefix) == ("portal-uploads", "prod/")
    assert store.settings.addressing_style == "virtual" and store.settings.read_timeout == 4.0
    assert store.client.meta.endpoint_url == "https://oss-cn-beijing.aliyuncs.com"
    assert store.client.meta.region_name == "cn-north-1"


@pytest.mark.parametrize("setting, value", [
    ("UPLOAD_STORE", "/var/lib/portal/uploads"), ("UPLOAD_STORE", "s3://Bad_Bucket/x"),
    ("S3_ADDRESSING_STYLE", "dns"), ("S3_READ_TIMEOUT", 0),
])
def test_bad_store_settings_are_refused(setting: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"PORTAL_{setting}"):
        load_settings({"ENV": "testing", setting: value}, environ={})


def test_a_reported_photo_is_kept_in_the_bucket_and_served_to_staff_then_the_public(
        app: Flask, client: FlaskClient, db_session: Session, on_bucket: S3Storage,
        s3_endpoint: str) -> None:
    tip = report_with_photo(client, db_session)
    [photo] = tip.attachments
    assert bucket_keys(s3_endpoint, on_bucket) == {photo.stored_name, photo.thumbnail_name}
    assert not os.path.exists(Path(app.config["UPLOAD_DIR"]) / photo.stored_name)
    stored = on_bucket.get(photo.stored_name)
    assert hashlib.sha256(stored).hexdigest() == photo.sha256
    assert b"ReporterPhoneMaker" not in stored, "the cleaned photo, not the upload"

    assert client.get(f"/media/{photo.stored_name}").status_code == 404, "not yet published"

    make_user(db_session, "bucket-mod", Role.MODERATOR)
    staff = app.test_client()
    assert login(staff, "bucket-mod").status_code == 302
    seen = staff.get(f"/admin/attachments/{photo.id}")
    assert seen.status_code == 200 and seen.is_streamed
    assert seen.get_data() == stored
    assert seen.mimetype == "image/jpeg" and seen.content_length == len(stored)
    assert seen.headers["Cache-Control"] == "no-store"
    assert seen.headers["X-Content-Type-Options"] == "nosniff"
    thumb = staff.get(f"/admin/attachments/{photo.id}?thumb=1")
    assert thumb.get_data() == on_bucket.get(photo.thumbnail_name)

    case = case_at(db_session, "rectifying", unit_name="桶里超市")
    tip.status, tip.case_id, tip.decided_at = TipStatus.ACCEPTED, case.id, utcnow()
    db_session.flush()
    mod = moderator(db_session)
    publication.set_public_photos(db_session, case, [photo.id], actor=mod)
    publication.disclose_case(db_session, case, actor=mod, public_summary="后门堵塞")
    db_session.commit()
    for name in (photo.stored_name, photo.thumbnail_name):
        public = client.get(f"/media/{name}")
        assert public.status_code == 200, name
        assert public.get_data() == on_bucket.get(name)
        assert public.headers["Cache-Control"] == "public, max-age=86400"
        assert public.content_length == len(on_bucket.get(name))


def test_a_file_gone_from_the_bucket_is_404_and_an_unreachable_bucket_503(
        app: Flask, client: FlaskClient, db_session: Session, on_bucket: S3Storage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    tip = report_with_photo(client, db_session)
    [photo] = tip.attachments
    make_user(db_session, "bucket-mod2", Role.MODERATOR)
    assert login(client, "bucket-mod2").status_code == 302
    on_bucket.delete(photo.stored_name)
    assert client.get(f"/admin/attachments/{photo.id}").status_code == 404
    dead = s3_store(f"http://127.0.0.1:{free_port()}", on_bucket.prefix, max_attempts=1)
    monkeypatch.setitem(app.extensions, "portal.storage", dead)
    assert client.get(f"/admin/attachments/{photo.id}?thumb=1").status_code == 503


def test_an_unreachable_bucket_refuses_the_photos_and_keeps_the_form(
        app: Flask, client: FlaskClient, db_session: Session, bucket_store: S3Storage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dead = s3_store(f"http://127.0.0.1:{free_port()}", bucket_store.prefix, max_attempts=1)
    monkeypatch.setitem(app.extensions, "portal.storage", dead)
    tips = db_session.scalar(select(func.count()).select_from(Tip))
    page = client.get("/report").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/report", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/report"), "submission_key": key,
        "village": str(factories.village(db_session, "V02").id), "unit_name": "断网超市",
        "venue_type": str(factories.venue_type(db_session, "street_shop").id),
        "address": "村口", "category": str(factories.category(db_session, "blocked_escape").id),
        "description": "超市后门被货物堵死，安全出口上了锁。", "observed_at": "2026-11-28T18:30",
        "website": "", "photos": [(io.BytesIO(images.jpeg_with_gps()), "a.jpg")]})
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "照片暂时无法保存（服务器存储暂时不可用）" in html and 'value="断网超市"' in html
    assert db_session.scalar(select(func.count()).select_from(Tip)) == tips


# ------------------------------------------------------------ uploads gc on the bucket


def test_gc_removes_only_old_orphans_in_the_bucket(
        db_session: Session, on_bucket: S3Storage, s3_endpoint: str) -> None:
    tip = factories.make_tip(db_session)
    referenced = "r" * 32 + ".jpg"
    old_orphan, fresh_orphan = "o" * 32 + ".jpg", "f" * 32 + ".jpg"
    on_bucket.put(referenced, b"\xff\xd8 kept")
    on_bucket.put(old_orphan, b"\xff\xd8 orphan")
    db_session.add(Attachment(stored_name=referenced, kind="photo", content_type="image/jpeg",
                              size_bytes=1, sha256="0" * 64, tip_id=tip.id))
    db_session.flush()
    time.sleep(1.1)  # S3 keeps whole seconds: the fresh one is written in a later one
    on_bucket.put(fresh_orphan, b"\xff\xd8 fresh")
    old = on_bucket.modified(old_orphan)
    assert on_bucket.modified(fresh_orphan) > old
    # An hour after the old orphan was written: it and the referenced one are past the
    # grace period of one hour, the fresh one is not.
    report = retention.collect_uploads(db_session, on_bucket, grace_hours=1, now=old + 3600)
    assert report.orphan_files == 1
    assert bucket_keys(s3_endpoint, on_bucket) == {referenced, fresh_orphan}


def test_the_gc_command_works_on_the_bucket(app: Flask, db_session: Session,
                                            on_bucket: S3Storage, s3_endpoint: str) -> None:
    tip = factories.make_tip(db_session)
    referenced, orphan = "r" * 32 + ".jpg", "o" * 32 + ".png"
    on_bucket.put(referenced, b"kept")
    on_bucket.put(orphan, b"orphan")
    db_session.add(Attachment(stored_name=referenced, kind="photo", content_type="image/jpeg",
                              size_bytes=1, sha256="0" * 64, tip_id=tip.id))
    db_session.commit()
    result = app.test_cli_runner().invoke(args=["uploads", "gc", "--grace-hours", "1"])
    assert result.exit_code == 0, result.output
    assert "删除无主文件 0 个" in result.output, "both are younger than the grace period"
    result = app.test_cli_runner().invoke(args=["uploads", "gc", "--grace-hours", "0"])
    assert "删除无主文件 1 个" in result.output
    assert bucket_keys(s3_endpoint, on_bucket) == {referenced}


# ------------------------------------------------------------ copying a directory in


def test_copy_to_store_copies_verifies_and_runs_again_as_a_no_op(
        app: Flask, on_bucket: S3Storage, s3_endpoint: str, tmp_path: Path) -> None:
    local = DirectoryStorage(tmp_path / "old-uploads")
    files = {f"{n:032x}.jpg": os.urandom(1000 * (n + 1)) for n in range(3)}
    for name, data in files.items():
        local.put(name, data)
    (local.root / "README.txt").write_text("not an upload")
    runner = app.test_cli_runner()
    args = ["uploads", "copy-to-store", "--source", str(local.root)]

    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert "新复制 3 个，已存在且相同 0 个，校验通过 3 个，校验失败 0 个" in first.output
    assert bucket_keys(s3_endpoint, on_bucket) == set(files)
    for name, data in files.items():
        assert on_bucket.get(name) == data

    again = runner.invoke(args=args)
    assert again.exit_code == 0
    assert "新复制 0 个，已存在且相同 3 个，校验通过 3 个" in again.output

    changed = next(iter(files))
    raw_client(s3_endpoint).put_object(Bucket=BUCKET, Key=on_bucket.prefix + changed,
                                       Body=b"damaged")
    repaired = runner.invoke(args=args)
    assert "新复制 1 个，已存在且相同 2 个，校验通过 3 个" in repaired.output
    assert on_bucket.get(changed) == files[changed]


def test_copy_to_store_reports_what_it_could_not_verify(
        app: Flask, on_bucket: S3Storage, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    local = DirectoryStorage(tmp_path / "old")
    local.put("a" * 32 + ".jpg", b"\xff\xd8 original")
    real_put = S3Storage.put
    monkeypatch.setattr(S3Storage, "put", lambda self, name, data: real_put(self, name, b"bad"))
    result = app.test_cli_runner().invoke(
        args=["uploads", "copy-to-store", "--source", str(local.root)])
    assert result.exit_code == 1
    assert "校验失败 1 个" in result.output and "a" * 32 + ".jpg" in result.output


def test_copy_to_store_needs_a_bucket(app: Flask, tmp_path: Path) -> None:
    result = app.test_cli_runner().invoke(
        args=["uploads", "copy-to-store", "--source", str(tmp_path)])
    assert result.exit_code == 1 and "PORTAL_UPLOAD_STORE" in result.output


# ------------------------------------------------------------ /healthz


def test_healthz_reports_the_uploads_down_when_the_bucket_is_unreachable(
        app: Flask, client: FlaskClient, bucket_store: S3Storage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.extensions, "portal.storage", bucket_store)
    assert client.get("/healthz").json["status"] == "ok"

    dead = s3_store(f"http://127.0.0.1:{free_port()}", "x/")
    monkeypatch.setitem(app.extensions, "portal.storage", dead)
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 3, "one short probe, no retries"
    assert response.status_code == 200
    assert response.json["status"] == "degraded"
    assert response.json["down"] == ["uploads"]
    assert response.json["uploads"] == "unreachable"


def test_healthz_asks_the_bucket_at_most_every_few_seconds(
        app: Flask, client: FlaskClient, bucket_store: S3Storage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[float] = []
    monkeypatch.setattr(S3Storage, "problem", lambda self: asked.append(1))
    monkeypatch.setitem(app.extensions, "portal.storage", bucket_store)
    for _ in range(5):
        assert client.get("/healthz").json["status"] == "ok"
    assert len(asked) == 1
    monkeypatch.setattr(health, "BUCKET_PROBE_SECONDS", 0.0)
    client.get("/healthz")
    assert len(asked) == 2
