"""Issue 17: the upload store is full. A report (or a tracking reply) with photos comes back
with the typed text kept and a Chinese message in the photos slot; nothing of it is stored,
no file is left half-written or without its thumbnail, and `uploads gc` sweeps the temporary
files of writes that never finished."""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import storage as storage_module
from portal.domain.enums import Channel, MessageDirection
from portal.domain.models import Attachment, Message, Tip
from portal.domain.reporting import intake
from portal.domain.reporting.uploads import process_image
from portal.identity import cipher, receipt_key, upload_limits
from portal.storage import DirectoryStorage
from portal.web.files import storage
from tests import factories, images
from tests.conftest import csrf_token
from tests.public.test_report import _form as report_form

FULL = ("照片暂时无法保存（服务器存储空间不足），您填写的内容已保留。"
        "您可以去掉照片后直接提交，或稍后再试。")
PHOTOS_ERROR_RE = re.compile(r'<p class="field-error" id="photos-error">([^<]*)</p>')


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


class _FullFile:
    """A file on a full disk: the write gets half of the data down, then ENOSPC."""

    def __init__(self, fh: io.BufferedWriter) -> None:
        self.fh = fh

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.fh.close()

    def write(self, data: bytes) -> int:
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        self.fh.flush()

    def fileno(self) -> int:
        return self.fh.fileno()


def fill_disk(monkeypatch: pytest.MonkeyPatch, fails: Callable[[str], bool]) -> list[str]:
    """Make the storage layer's write raise ENOSPC for the stored names ``fails`` picks.
    Returns the names whose write failed."""
    real_put, real_fdopen = DirectoryStorage.put, os.fdopen
    writing: list[str] = []
    failed: list[str] = []

    def put(self: DirectoryStorage, name: str, data: bytes) -> None:
        writing.append(name)
        try:
            real_put(self, name, data)
        finally:
            writing.pop()

    def fdopen(fd: int, *args, **kwargs):
        fh = real_fdopen(fd, *args, **kwargs)
        if writing and fails(writing[-1]):
            failed.append(writing[-1])
            return _FullFile(fh)
        return fh

    monkeypatch.setattr(DirectoryStorage, "put", put)
    monkeypatch.setattr(storage_module.os, "fdopen", fdopen)
    return failed


def main_file(name: str) -> bool:
    return not name.endswith("_t.jpg")


def thumbnail(name: str) -> bool:
    return name.endswith("_t.jpg")


def second_photo() -> Callable[[str], bool]:
    seen: list[str] = []

    def fails(name: str) -> bool:
        if main_file(name) and name not in seen:
            seen.append(name)
        return len(seen) >= 2
    return fails


def _files(root: str | Path) -> set[str]:
    """Everything in the upload directory, temporary files included."""
    return set(os.listdir(root))


def _count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _form(client: FlaskClient, session: Session, **overrides: str) -> dict:
    """The report test's form, with a plain unit name (the kept form is compared to it)."""
    return report_form(client, session, **{"unit_name": "平安超市", **overrides})


def _post(client: FlaskClient, data: dict, photos: int = 1):
    payload = dict(data)
    payload["photos"] = [(io.BytesIO(images.jpeg_with_gps()), f"IMG_{i}.jpg")
                         for i in range(photos)]
    return client.post("/report", data=payload, content_type="multipart/form-data")


def _assert_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert any(r.levelno == logging.ERROR and "photos could not be stored" in r.getMessage()
               for r in caplog.records), "the full store is logged at error level"


def _assert_the_form_is_kept(html: str, data: dict) -> None:
    for field in ("unit_name", "address", "reporter_name", "reporter_phone"):
        assert f'value="{data[field]}"' in html, f"{field} is kept"
    assert data["description"] in html
    assert re.search(rf'<option selected value="{data["village"]}"|'
                     rf'<option value="{data["village"]}" selected', html), "village is kept"
    assert f'value="{data["submission_key"]}"' in html, "the same form, so a resubmit is one tip"


@pytest.mark.parametrize("fails", [main_file, thumbnail, second_photo()],
                         ids=["main file", "thumbnail", "second photo"])
def test_a_full_disk_gives_the_form_back_with_its_text_and_stores_nothing(
        client: FlaskClient, db_session: Session, app: Flask, monkeypatch, caplog,
        fails: Callable[[str], bool]) -> None:
    before = _files(app.config["UPLOAD_DIR"])
    tips, photos = _count(db_session, Tip), _count(db_session, Attachment)
    data = _form(client, db_session)
    failed = fill_disk(monkeypatch, fails)
    response = _post(client, data, photos=2)
    html = response.get_data(as_text=True)

    assert failed, "the storage layer's write was the one that failed"
    assert response.status_code == 503, "the server's condition, not the resident's input"
    assert PHOTOS_ERROR_RE.search(html).group(1) == FULL
    _assert_the_form_is_kept(html, data)
    assert _count(db_session, Tip) == tips and _count(db_session, Attachment) == photos
    assert _files(app.config["UPLOAD_DIR"]) == before, \
        "no file, no partial temporary file, no main file without its thumbnail"
    _assert_logged(caplog)

    monkeypatch.undo()
    again = _post(client, {**data, "csrf_token": csrf_token(client, "/report")}, photos=0)
    assert again.status_code == 200, "without the photos the same form goes through"
    assert _count(db_session, Tip) == tips + 1


def test_photos_kept_for_a_form_with_errors_are_not_half_kept_on_a_full_disk(
        client: FlaskClient, db_session: Session, app: Flask, monkeypatch, caplog) -> None:
    before = _files(app.config["UPLOAD_DIR"])
    photos = _count(db_session, Attachment)
    data = _form(client, db_session, description="短")
    fill_disk(monkeypatch, thumbnail)
    response = _post(client, data)
    html = response.get_data(as_text=True)

    assert response.status_code == 422, "the form still has the resident's error to correct"
    assert PHOTOS_ERROR_RE.search(html).group(1) == FULL
    assert 'class="kept"' not in html and "照片已保留" not in html, "no photo claims to be kept"
    assert 'name="kept_photos" type="hidden" value=""' in html
    assert re.search(r'id="description-error"', html), "the field's own error is still shown"
    assert _count(db_session, Attachment) == photos, "no staged row"
    assert _files(app.config["UPLOAD_DIR"]) == before
    _assert_logged(caplog)


def test_photos_kept_earlier_survive_new_ones_failing(
        client: FlaskClient, db_session: Session, monkeypatch) -> None:
    data = _form(client, db_session, description="短")
    first = _post(client, data).get_data(as_text=True)
    kept = re.search(r'name="kept_photos" type="hidden" value="([^"]+)"', first).group(1)
    data.update(description="超市后门被货物堵死，安全出口上了锁。", kept_photos=kept)
    fill_disk(monkeypatch, main_file)
    response = _post(client, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "已保留 1 张照片" in html
    # Signed again (a fresh time stamp), so the resident's later try finds it.
    data["kept_photos"] = re.search(
        r'name="kept_photos" type="hidden" value="([^"]+)"', html).group(1)

    monkeypatch.undo()
    assert _post(client, data, photos=0).status_code == 200
    tip = db_session.scalars(select(Tip)).one()
    assert len(tip.attachments) == 1, "the photo kept before the disk filled is the tip's"


@pytest.fixture
def tracked(client: FlaskClient, db_session: Session) -> Tip:
    result = intake.submit_tip(
        db_session,
        intake.TipInput(channel=Channel.WEB, village_id=factories.village(db_session).id,
                        category_id=factories.category(db_session, "wiring").id,
                        unit_name="红星饭店", description="厨房电线老化，插线板串接了好几个。"),
        cipher=cipher(), receipt_key=receipt_key())
    db_session.flush()
    found = client.post("/track", data={"csrf_token": csrf_token(client, "/track"),
                                        "code": result.receipt_code})
    assert found.status_code == 303
    return result.tip


@pytest.mark.parametrize("fails", [main_file, thumbnail], ids=["main file", "thumbnail"])
def test_a_reply_with_a_photo_on_a_full_disk_keeps_its_text_and_stores_nothing(
        client: FlaskClient, db_session: Session, app: Flask, tracked: Tip, monkeypatch,
        caplog, fails: Callable[[str], bool]) -> None:
    before = _files(app.config["UPLOAD_DIR"])
    photos = _count(db_session, Attachment)
    fill_disk(monkeypatch, fails)
    response = client.post("/track/reply", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, "/track/status"), "body": "在南街，村委会往南 200 米。",
        "photos": [(io.BytesIO(images.jpeg_with_gps()), "more.jpg")]})
    html = response.get_data(as_text=True)

    assert response.status_code == 503
    assert PHOTOS_ERROR_RE.search(html).group(1) == FULL
    assert "在南街，村委会往南 200 米。" in html, "the typed reply is kept"
    assert db_session.scalars(select(Message).where(
        Message.direction == MessageDirection.FROM_REPORTER)).all() == [], "no reply row"
    assert _count(db_session, Attachment) == photos
    assert _files(app.config["UPLOAD_DIR"]) == before
    _assert_logged(caplog)


def test_a_failed_write_leaves_nothing_under_its_name_nor_a_temporary_file(
        tmp_path: Path, monkeypatch) -> None:
    store = DirectoryStorage(tmp_path)
    fill_disk(monkeypatch, main_file)
    with pytest.raises(OSError) as raised:
        store.put("a" * 32 + ".jpg", b"x" * 10_000)
    assert raised.value.errno == errno.ENOSPC
    assert _files(tmp_path) == set()


def test_uploads_gc_sweeps_stale_temporary_files_but_not_fresh_ones(
        app: Flask, runner, db_session: Session) -> None:
    root = Path(app.config["UPLOAD_DIR"])
    stale, fresh = root / ".upload-killedworker", root / ".upload-stillwriting"
    stale.write_bytes(b"half a photo")
    fresh.write_bytes(b"a photo on its way")
    a_day_ago = time.time() - 25 * 3600
    os.utime(stale, (a_day_ago, a_day_ago))
    stored = set(storage().names())
    try:
        result = runner.invoke(args=["uploads", "gc", "--grace-hours", "24"])
        assert result.exit_code == 0, result.output
        assert "未写完的临时文件 1 个" in result.output
        assert not stale.exists(), "a write abandoned past the grace period is swept"
        assert fresh.exists(), "a write younger than the grace period may still finish"
        assert set(storage().names()) == stored
    finally:
        stale.unlink(missing_ok=True)
        fresh.unlink(missing_ok=True)


# A real full filesystem: a 64 KiB tmpfs (needs root and a kernel that lets us mount).

@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 64 KiB tmpfs needs root")
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                               str(mount_point)], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot run mount: {exc}")
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs refused here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, timeout=10)


def _fill(root: Path, leave_pages: int) -> None:
    """Fill the filesystem, then give back ``leave_pages`` pages of 4 KiB."""
    fd = os.open(root / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
        size = os.fstat(fd).st_size
        os.ftruncate(fd, size - size % 4096 - leave_pages * 4096)
    finally:
        os.close(fd)


@pytest.mark.parametrize("room", ["nothing", "main file only"])
def test_a_really_full_filesystem(client: FlaskClient, db_session: Session, app: Flask,
                                  tiny_disk: Path, monkeypatch, caplog, room: str) -> None:
    monkeypatch.setitem(app.extensions, "portal.storage", DirectoryStorage(tiny_disk))
    main_size = len(process_image(images.jpeg_with_gps(), upload_limits()).data)
    _fill(tiny_disk, 0 if room == "nothing" else -(-main_size // 4096))
    real_put, writes = DirectoryStorage.put, []

    def put(self: DirectoryStorage, name: str, data: bytes) -> None:
        try:
            real_put(self, name, data)
        except OSError:
            writes.append((name, "refused"))
            raise
        writes.append((name, "written"))

    monkeypatch.setattr(DirectoryStorage, "put", put)
    tips = _count(db_session, Tip)
    data = _form(client, db_session)
    response = _post(client, data)
    html = response.get_data(as_text=True)
    assert [(thumbnail(n), outcome) for n, outcome in writes] == (
        [(False, "refused")] if room == "nothing" else [(False, "written"), (True, "refused")])
    assert response.status_code == 503
    assert PHOTOS_ERROR_RE.search(html).group(1) == FULL
    _assert_the_form_is_kept(html, data)
    assert _count(db_session, Tip) == tips
    assert _files(tiny_disk) == {"filler"}, "not a byte of the photo is left"
    _assert_logged(caplog)
