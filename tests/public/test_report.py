"""我要举报: the report form end to end through the test client."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.enums import Channel, TipStatus
from portal.domain.models import Attachment, Tip
from portal.web.files import storage
from tests import factories, images
from tests.conftest import csrf_token


@pytest.fixture(autouse=True)
def _app_context(app: Flask):
    with app.app_context():
        yield


RECEIPT_RE = re.compile(r'class="receipt-code"[^>]*><span>(\d{4} \d{4} \d{4} \d{4})</span>')


def _form(client: FlaskClient, session: Session, **overrides) -> dict:
    page = client.get("/report").get_data(as_text=True)
    key = re.search(r'name="submission_key" type="hidden" value="([^"]+)"', page).group(1)
    data = {
        "csrf_token": csrf_token(client, "/report"),
        "submission_key": key,
        "village": str(factories.village(session, "V02").id),
        "unit_name": "  平安超市 ",
        "venue_type": str(factories.venue_type(session, "street_shop").id),
        "address": "村委会对面",
        "category": str(factories.category(session, "blocked_escape").id),
        "description": "超市后门被货物堵死，安全出口上了锁。",
        "observed_at": "2026-11-28T18:30",
        "reporter_name": "张三",
        "reporter_phone": "138 0013 8000",
        "wants_feedback": "y",
        "website": "",
    }
    data.update(overrides)
    return data


def _count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _post(client: FlaskClient, data: dict, files: list[tuple[bytes, str]] = ()):
    payload = dict(data)
    payload["photos"] = [(io.BytesIO(raw), name) for raw, name in files]
    return client.post("/report", data=payload, content_type="multipart/form-data")


def test_the_form_is_in_chinese_with_every_field_labelled(client: FlaskClient) -> None:
    html = client.get("/report").get_data(as_text=True)
    for label in ("所在村", "单位或场所名称", "场所类型", "隐患类别", "隐患情况描述", "发现时间",
                  "现场照片", "您的姓名", "联系电话", "我希望得知办理结果"):
        assert label in html
    assert "可以匿名举报" in html and "不会公开" in html
    assert "未经审批电焊" in html, "each category has its one-line explanation"
    assert html.count("如果现在已经起火，请立即拨打 119") >= 2, "both urgent categories warn"
    for field_id in ("village", "unit_name", "description", "reporter_phone"):
        assert f'<label for="{field_id}">' in html


def test_a_full_submission_creates_one_pending_tip_that_the_receipt_finds(
    client: FlaskClient, db_session: Session
) -> None:
    response = _post(client, _form(client, db_session),
                     [(images.jpeg_with_gps(), "IMG_0001.jpg")])
    assert response.status_code == 200, "the POST answers with the confirmation itself"
    page = response.get_data(as_text=True)
    code = RECEIPT_RE.search(page).group(1)
    assert "抄写下来或截图保存" in page and "24 小时内" in page
    assert response.headers["Cache-Control"] == "no-store"

    tips = db_session.scalars(select(Tip)).all()
    assert len(tips) == 1
    tip = tips[0]
    assert tip.status is TipStatus.PENDING and tip.channel is Channel.WEB
    assert tip.unit_name == "平安超市" and tip.wants_feedback
    assert tip.observed_at.isoformat() == "2026-11-28T10:30:00+00:00"
    assert code.replace(" ", "") not in tip.receipt_hash

    [photo] = tip.attachments
    stored = storage().get(photo.stored_name)
    assert dict(Image.open(io.BytesIO(stored)).getexif()) == {}
    assert b"ReporterPhoneMaker" not in stored
    assert storage().exists(photo.thumbnail_name)

    client.post("/track/forget", data={"csrf_token": csrf_token(client, "/track")})
    found = client.post("/track", data={"csrf_token": csrf_token(client, "/track"),
                                        "code": code}, follow_redirects=True)
    assert "等待审核" in found.get_data(as_text=True)


def test_reporter_identity_is_encrypted_at_rest(client: FlaskClient, db_session: Session,
                                                app: Flask) -> None:
    _post(client, _form(client, db_session))
    row = db_session.execute(
        select(Tip.reporter_name_enc, Tip.reporter_phone_enc)).one()
    raw = b"".join(row)
    assert "张三".encode() not in raw and b"13800138000" not in raw
    from portal.identity import cipher
    with app.app_context():
        assert cipher().decrypt(row[0]) == "张三"
        assert cipher().decrypt(row[1]) == "13800138000"


def test_anonymous_reports_are_accepted(client: FlaskClient, db_session: Session) -> None:
    response = _post(client, _form(client, db_session, reporter_name="", reporter_phone="",
                                   wants_feedback=""))
    assert response.status_code == 200 and RECEIPT_RE.search(response.get_data(as_text=True))
    tip = db_session.scalars(select(Tip)).one()
    assert tip.reporter_name_enc is None and tip.reporter_phone_enc is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("village", "", "请选择隐患所在的村"),
        ("village", "999999", "请选择隐患所在的村"),
        ("unit_name", "   ", "请填写单位或场所名称"),
        ("unit_name", "店" * 101, "不能超过 100 个字"),
        ("category", "", "请选择隐患类别"),
        ("description", "太短了", "至少 10 个字"),
        ("description", "长" * 2001, "不能超过 2000 个字"),
        ("reporter_phone", "12345", "请填写正确的手机号"),
        ("reporter_phone", "abc13800138000", "请填写正确的手机号"),
        ("observed_at", "昨天晚上", "请填写正确的发现时间"),
        ("observed_at", "2099-01-01T00:00", "发现时间不能晚于现在"),
        ("lat", "91", "位置坐标无效"),
    ],
)
def test_each_bad_field_gets_its_message_and_nothing_is_lost(
    client: FlaskClient, db_session: Session, field: str, value: str, message: str
) -> None:
    data = _form(client, db_session, **{field: value})
    if field == "lat":
        data["lon"] = "113.2"
    response = _post(client, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert 'class="field-error"' in html and 'role="alert"' in html
    assert _count(db_session, Tip) == 0
    if field != "description":
        assert "超市后门被货物堵死，安全出口上了锁。" in html, "the description is kept"
    if field != "unit_name":
        assert re.search(r'value="\s*平安超市', html)


def test_landline_and_plus86_numbers_are_accepted(client: FlaskClient, db_session) -> None:
    assert _post(client, _form(client, db_session, reporter_phone="0355-6281234")
                 ).status_code == 200
    assert _post(client, _form(client, db_session, reporter_phone="+86 139 0000 1111")
                 ).status_code == 200


@pytest.mark.parametrize(
    ("raw", "name", "message"),
    [
        (b"just some text, not a photo", "photo.jpg", "不是有效的图片"),
        (images.truncated_jpeg(), "cut.jpg", "不是有效的图片"),
        (images.png_bomb(), "bomb.png", "像素过大"),
    ],
)
def test_bad_photos_are_refused_and_nothing_is_stored(
    client: FlaskClient, db_session: Session, raw: bytes, name: str, message: str
) -> None:
    before = set(storage().names())
    response = _post(client, _form(client, db_session), [(raw, name)])
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html and "请重新选择" in html
    assert _count(db_session, Tip) == 0 and _count(db_session, Attachment) == 0
    assert set(storage().names()) == before


def test_a_photo_over_the_size_limit_is_refused(client, db_session, app: Flask) -> None:
    app.config["MAX_PHOTO_BYTES"] = 1024 * 1024
    try:
        response = _post(client, _form(client, db_session), [(b"\xff" * (1024 * 1024 + 10),
                                                              "big.jpg")])
    finally:
        app.config["MAX_PHOTO_BYTES"] = 10 * 1024 * 1024
    assert response.status_code == 422 and "超过 1 MB" in response.get_data(as_text=True)
    assert _count(db_session, Tip) == 0


def test_too_many_photos_are_refused(client, db_session) -> None:
    files = [(images.png((20, 20), "RGB"), f"p{i}.png") for i in range(7)]
    response = _post(client, _form(client, db_session), files)
    assert response.status_code == 422
    assert "最多上传 6 张照片" in response.get_data(as_text=True)
    assert _count(db_session, Attachment) == 0


def test_good_photos_survive_a_form_that_comes_back(client, db_session) -> None:
    data = _form(client, db_session, description="短")
    response = _post(client, data, [(images.jpeg_with_gps(), "a.jpg")])
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "已保留 1 张照片" in html
    kept = re.search(r'name="kept_photos" type="hidden" value="([^"]+)"', html).group(1)
    data.update(description="超市后门被货物堵死，安全出口上了锁。", kept_photos=kept)
    assert _post(client, data).status_code == 200
    tip = db_session.scalars(select(Tip)).one()
    assert len(tip.attachments) == 1


def test_an_oversized_request_gets_the_chinese_413_page(client, db_session, app) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    try:
        response = _post(client, _form(client, db_session), [(b"x" * 60_000, "big.jpg")])
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 40 * 1024 * 1024
    assert response.status_code == 413
    assert "提交的内容过大" in response.get_data(as_text=True)
    assert _count(db_session, Tip) == 0


def test_the_same_form_posted_twice_makes_one_tip(client, db_session) -> None:
    data = _form(client, db_session)
    first = _post(client, data)
    second = _post(client, data)
    assert first.status_code == second.status_code == 200
    assert _count(db_session, Tip) == 1
    code = RECEIPT_RE.search(first.get_data(as_text=True)).group(1)
    page = second.get_data(as_text=True)
    assert "重复提交已自动忽略" in page
    assert RECEIPT_RE.search(page).group(1) == code, "the same receipt again"


def test_a_lost_confirmation_is_shown_again_from_another_browser_within_a_day(
        client, db_session, app: Flask) -> None:
    """The confirmation never arrived: the same form posted again, even from a browser with
    no cookie of the first, shows the same receipt, which finds the tip, and no second tip."""
    data = _form(client, db_session)
    first = _post(client, data)
    code = RECEIPT_RE.search(first.get_data(as_text=True)).group(1)
    other_browser = app.test_client()
    again = _post(other_browser, {**data, "csrf_token": csrf_token(other_browser, "/report")})
    assert again.status_code == 200 and _count(db_session, Tip) == 1
    assert RECEIPT_RE.search(again.get_data(as_text=True)).group(1) == code
    found = client.post("/track", data={"csrf_token": csrf_token(client, "/track"),
                                        "code": code}, follow_redirects=True)
    assert "等待审核" in found.get_data(as_text=True)


def test_after_a_day_a_resubmit_says_received_without_a_code(client, db_session) -> None:
    import datetime as dt

    data = _form(client, db_session)
    _post(client, data)
    tip = db_session.scalars(select(Tip)).one()
    tip.created_at = tip.created_at - dt.timedelta(hours=25)
    db_session.flush()
    again = _post(client, data)
    page = again.get_data(as_text=True)
    assert again.status_code == 200 and _count(db_session, Tip) == 1
    assert "已经收到" in page and "请联系" in page and not RECEIPT_RE.search(page)
    assert not re.search(r"\d{4} \d{4} \d{4} \d{4}", page)


def test_nothing_after_submitting_names_the_tip_or_keeps_the_receipt(
        client, db_session, app: Flask) -> None:
    """No URL the browser requests after submitting holds the submission key or the receipt,
    the database holds neither in clear, and the session cookie holds no receipt."""
    from flask.sessions import SecureCookieSessionInterface

    data = _form(client, db_session)
    key = data["submission_key"]
    response = _post(client, data)
    assert response.status_code == 200 and "Location" not in response.headers
    code = RECEIPT_RE.search(response.get_data(as_text=True)).group(1).replace(" ", "")
    page = response.get_data(as_text=True)
    for url in re.findall(r'(?:href|src|action)="([^"]*)"', page):
        assert key not in url and code not in url, url

    dumped = " ".join(
        str(tuple(row)) for table in Tip.metadata.sorted_tables
        for row in db_session.execute(table.select()))
    assert key not in dumped and code not in dumped

    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    if cookie is not None:
        serializer = SecureCookieSessionInterface().get_signing_serializer(app)
        decoded = str(serializer.loads(cookie.value))
        assert code not in decoded and key not in decoded and "receipt" not in decoded
    assert client.get(f"/report/received?k={key}").status_code == 404


def test_the_honeypot_rejects(client, db_session) -> None:
    response = _post(client, _form(client, db_session, website="http://spam.example"))
    assert response.status_code == 400
    assert _count(db_session, Tip) == 0


def test_a_missing_or_stale_csrf_token_keeps_the_form(client, db_session) -> None:
    response = _post(client, _form(client, db_session, csrf_token="forged"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "页面已过期" in html
    assert "超市后门被货物堵死" in html and _count(db_session, Tip) == 0


def test_submissions_are_rate_limited_with_the_chinese_429_page(client, db_session, app) -> None:
    app.config["REPORT_RATE_LIMIT"] = "2 per hour"
    try:
        for _ in range(2):
            assert _post(client, _form(client, db_session)).status_code == 200
        response = _post(client, _form(client, db_session))
    finally:
        app.config["REPORT_RATE_LIMIT"] = "5 per hour;20 per day"
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "操作过于频繁" in html and "之后再试" in html
    assert _count(db_session, Tip) == 2


def test_correcting_errors_does_not_use_up_the_limit(client, db_session, app) -> None:
    app.config["REPORT_RATE_LIMIT"] = "1 per hour"
    try:
        for _ in range(3):
            assert _post(client, _form(client, db_session, description="短")).status_code == 422
        assert _post(client, _form(client, db_session)).status_code == 200
    finally:
        app.config["REPORT_RATE_LIMIT"] = "5 per hour;20 per day"


def test_a_failed_transaction_leaves_no_file_behind(client, db_session, monkeypatch) -> None:
    from portal.public import report as report_view

    def database_went_away(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    before = set(storage().names())
    data = _form(client, db_session)
    monkeypatch.setattr(report_view.intake, "submit_tip", database_went_away)
    response = _post(client, data, [(images.jpeg_with_gps(), "a.jpg")])
    assert response.status_code == 500 and "系统出现错误" in response.get_data(as_text=True)
    assert set(storage().names()) == before, "the photo written for it was removed"


def _fails_first(monkeypatch, times: int):
    """``intake.submit_tip`` raising the error of a database restart ``times`` times."""
    from sqlalchemy.exc import OperationalError

    from portal.public import report as report_view

    real = report_view.intake.submit_tip
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("INSERT INTO tips", {}, Exception("server closed the "
                                                                     "connection unexpectedly"))
        return real(*args, **kwargs)

    monkeypatch.setattr(report_view.intake, "submit_tip", flaky)
    return calls


def test_a_report_cut_off_by_a_database_restart_is_stored_with_its_photo(
        client, db_session, monkeypatch) -> None:
    before_files = set(storage().names())
    tips, photos = _count(db_session, Tip), _count(db_session, Attachment)
    data = _form(client, db_session)
    calls = _fails_first(monkeypatch, 1)
    response = _post(client, data, [(images.jpeg_with_gps(), "a.jpg"),
                                    (images.jpeg_with_gps(), "b.jpg")])
    assert response.status_code == 200, "the resident sees the receipt, not an error page"
    assert len(calls) == 2
    assert _count(db_session, Tip) == tips + 1
    assert _count(db_session, Attachment) == photos + 2, "both photos were read again"
    stored = db_session.scalars(select(Attachment).order_by(Attachment.id.desc())).all()[:2]
    assert set(storage().names()) - before_files == {
        name for a in stored for name in (a.stored_name, a.thumbnail_name)}, \
        "the first attempt's files were removed, the second one's kept"
    assert RECEIPT_RE.search(response.get_data(as_text=True))


def test_a_database_that_stays_away_gets_the_chinese_503_and_keeps_nothing(
        client, db_session, monkeypatch) -> None:
    before_files = set(storage().names())
    tips = _count(db_session, Tip)
    data = _form(client, db_session)
    calls = _fails_first(monkeypatch, 99)
    response = _post(client, data, [(images.jpeg_with_gps(), "a.jpg")])
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "服务暂不可用" in html
    assert int(response.headers["Retry-After"]) > 0
    assert len(calls) == 2, "run once more, then give up"
    assert _count(db_session, Tip) == tips and set(storage().names()) == before_files


def test_a_commit_cut_off_keeps_its_files_for_uploads_gc(client, db_session, monkeypatch,
                                                          app) -> None:
    """A commit the connection took with it may have been stored: its files are not deleted
    on the spot (the row may need them); the retry stores the tip, and gc removes only the
    first attempt's files."""
    from sqlalchemy.exc import OperationalError

    from portal.domain.administration import retention
    from portal.public import report as report_view

    real = report_view._commit_keeping_files
    calls = []

    def cut_off(db):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        real(db)

    before_files = set(storage().names())
    data = _form(client, db_session)
    monkeypatch.setattr(report_view, "_commit_keeping_files", cut_off)
    response = _post(client, data, [(images.jpeg_with_gps(), "a.jpg")])
    assert response.status_code == 200 and len(calls) == 2
    assert RECEIPT_RE.search(response.get_data(as_text=True))
    stored = db_session.scalars(select(Attachment).order_by(Attachment.id.desc())).first()
    kept = {stored.stored_name, stored.thumbnail_name}
    leftover = set(storage().names()) - before_files - kept
    assert len(leftover) == 2, "the first attempt's photo and thumbnail were left for gc"
    retention.collect_uploads(db_session, storage(), grace_hours=0)
    assert set(storage().names()) - before_files == kept
